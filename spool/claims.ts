/**
 * Claims: while one is held, no other engine (on this host or another) touches its job.
 *
 * A claim is a lock directory `.locks/<key>.lock/` (mkdir is atomic, also over NFS) holding one file
 * named after its holder's token, `<host>~<pid>~<random>.a` (or `.b`). Skew-proof by construction:
 * - Every time that decides staleness is stamped by the file server, never by a client's clock. The
 *   holder refreshes by renaming its token file `.a` <-> `.b`: an entry changes, so the server sets
 *   the directory's mtime to its own time (a utimes would carry the holder's clock, as
 *   proper-lockfile's did). A reader judges the lock's age against the server's time now, read from
 *   a probe file it writes in the same file system (fs-time.ts), not against its own clock. So two
 *   hosts whose clocks differ by an hour agree on every claim's age.
 * - The holder's own deadline (no refresh for staleMs: it counts itself lost) runs on its monotonic
 *   clock, which no skew affects.
 * - Fencing: the refresh rename succeeds only while the holder's token file is in the lock directory
 *   at its path, and the server decides it (a rename is not answered from a client's cache). So
 *   `verify()`, one such rename, tells a holder whose claim was taken over anyway (a hung process, a
 *   clock that jumped) that it lost it, before it moves the job or writes the tree.
 * - A takeover renames the stale directory away and checks that what it took is what it judged stale
 *   (same inode, same token); if another engine took it over first and made a fresh lock, that lock
 *   is put back. Two engines never both hold a claim that verifies.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMissing } from './atomic.js';
import { FsTime } from './fs-time.js';
import { ownerTag, SELF } from './owner.js';

/** A claim on one job: while held, no other engine (on this host or another) touches the job. */
export interface Claim {
  readonly key: string;
  /** Set when the claim was lost (taken over, removed, or not refreshed in time): the holder must stop. */
  readonly lost: boolean;
  /** Asks the file system whether the claim is still this holder's; throws ClaimLost when not. */
  verify(): Promise<void>;
  release(): Promise<void>;
}

export const LOCK_SUFFIX = '.lock';
/** A lock directory being taken over or released: `<key>.lock~<token>.gone`, removed right after. */
export const GONE_SUFFIX = '.gone';

const TOKEN_FILE = /^([^~/]+~\d+~[0-9a-f]+)\.([ab])$/;

/** Lock directories whose holder still has a claim on them in this process, for the exit handler. */
const held = new Set<HeldClaim>();
process.once('exit', () => {
  for (const claim of held) claim.dropSync();
});

/**
 * Claims taken by this process in `dir` (the spool's `.locks/`): taken over from others once their
 * lock is `staleMs` old by the file system's time (`fsTime`, probed in the same file system).
 */
export class ClaimRegistry {
  private made = false;
  /** Claims kept for their next taker in this process (see park), by key. */
  private readonly parked = new Map<string, { claim: Claim; timer: NodeJS.Timeout }>();

  /** How long a parked claim waits for its next taker before it is released (0: never parked). */
  private readonly parkMs: number;

  /** `park`: claims may be parked (the daemon's spool); otherwise park() releases at once. */
  constructor(
    private readonly dir: string,
    private readonly staleMs: number,
    readonly fsTime: FsTime = new FsTime(dir),
    options: { park?: boolean } = {},
  ) {
    // released a little before a claim's first refresh is due, so that parking usually costs no I/O
    this.parkMs = options.park ? Math.max(0, refreshEveryMs(staleMs) - PARK_MARGIN_MS) : 0;
  }

  /** Tries to claim `key` at once; undefined when someone else holds it. A parked claim on it is handed over. */
  async tryClaim(key: string): Promise<Claim | undefined> {
    const parked = this.parked.get(key);
    if (parked) {
      this.parked.delete(key);
      clearTimeout(parked.timer);
      if (!parked.claim.lost) return parked.claim;
    }
    if (!this.made) {
      await mkdir(this.dir, { recursive: true });
      this.made = true;
    }
    return this.tryClaimAt(join(this.dir, `${key}${LOCK_SUFFIX}`), key);
  }

  /** The same for a lock directory of its own (`path`, whose parent exists): the sweep's. */
  async tryClaimAt(path: string, key: string): Promise<Claim | undefined> {
    if (!(await makeLock(path))) {
      const seen = await this.staleLock(path);
      if (seen === 'fresh') return undefined;
      if (seen !== 'gone' && !(await removeLock(path, seen))) return undefined;
      if (!(await makeLock(path))) return undefined;
    }
    const token = `${ownerTag(SELF)}~${randomBytes(6).toString('hex')}`;
    const file = join(path, `${token}.a`);
    try {
      await mkFile(file);
    } catch (error) {
      // taken from us between mkdir and now: only a takeover of a fresh lock does that, and it puts it back
      if (isMissing(error)) return undefined;
      throw error;
    }
    // the token went in by path: if the directory there was swapped meanwhile (two takeovers of one
    // stale lock, a put-back), another taker's token may sit beside ours. Whoever wrote second sees
    // the first one's, so at most one keeps the claim (both may let go: a later try takes it)
    if (!(await holdsAlone(path, token))) {
      await unlink(file).catch(() => {});
      return undefined;
    }
    return new HeldClaim(key, path, token, this.staleMs);
  }

  /**
   * Instead of releasing a claim, keeps it held for the next tryClaim of its key in this process: the
   * daemon's intake parks the claim of each job it makes, and the processor, which usually starts
   * that job within seconds, takes it over without a lock of its own (a claim is about ten system
   * calls and two inodes made and removed). A claim not taken within parkMs is released. parkMs ends
   * before the first refresh of a claim parked as soon as it was made, so parking costs no I/O unless
   * intake took long over that job (then one refresh, as for any claim held that long).
   */
  async park(claim: Claim): Promise<void> {
    if (this.parkMs <= 0 || claim.lost || this.parked.has(claim.key)) return claim.release();
    const timer = setTimeout(() => {
      if (this.parked.get(claim.key)?.claim !== claim) return;
      this.parked.delete(claim.key);
      void claim.release();
    }, this.parkMs);
    timer.unref();
    this.parked.set(claim.key, { claim, timer });
  }

  /** Releases every parked claim (an engine that stops). */
  async releaseParked(): Promise<void> {
    const parked = [...this.parked.values()];
    this.parked.clear();
    for (const { timer } of parked) clearTimeout(timer);
    await Promise.all(parked.map(({ claim }) => claim.release()));
  }

  /** Claims parked now (for tests). */
  get parkedCount(): number {
    return this.parked.size;
  }

  /**
   * Whether the lock at `path` is stale by the file system's time: 'fresh', 'gone' (no lock there
   * now), or what was seen of the stale one (to check a takeover against).
   */
  async staleLock(path: string): Promise<'fresh' | 'gone' | SeenLock> {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      if (isMissing(error)) return 'gone';
      throw error;
    }
    if ((await this.fsTime.now()) - info.mtimeMs <= this.staleMs) return 'fresh';
    return { ino: info.ino, token: await tokenOf(path) };
  }
}

/** How often a held claim is refreshed: four times per stale period, so a busy event loop may delay one refresh, not two. */
export const refreshEveryMs = (staleMs: number): number => Math.max(500, Math.floor(staleMs / 4));

/** A parked claim is released this long before its first refresh would be due. */
const PARK_MARGIN_MS = 250;

/** A stale lock as judged: its inode and its holder's token (undefined: none, a lock of an older version). */
export interface SeenLock {
  ino: number;
  token: string | undefined;
}

/**
 * Removes the lock at `path` that was judged stale as `seen`: renamed away first, then checked to be
 * that same lock (a fresh one made meanwhile by a faster taker is put back). True when removed.
 */
export async function removeLock(path: string, seen: SeenLock): Promise<boolean> {
  const gone = `${path}~${ownerTag(SELF)}~${randomBytes(6).toString('hex')}${GONE_SUFFIX}`;
  try {
    await rename(path, gone);
  } catch (error) {
    if (isMissing(error)) return true; // someone removed it meanwhile: free to take
    throw error;
  }
  const taken = await stat(gone).catch((error: unknown) => {
    if (isMissing(error)) return undefined; // removed meanwhile as stale (removeStaleLocks): free to take
    throw error;
  });
  if (!taken) return true;
  const same = taken.ino === seen.ino && (await tokenOf(gone)) === seen.token;
  if (!same) {
    // another engine took the stale lock over and made this one meanwhile: it is theirs, put it back
    // (a third lock made in the meantime wins; the one renamed away then fails its holder's next check)
    await rename(gone, path).catch(() => rm(gone, { recursive: true, force: true }));
    return false;
  }
  await rm(gone, { recursive: true, force: true });
  return true;
}

/** Whether `token` is the one holder's token in the lock directory at `path` (no other beside it). */
export async function holdsAlone(path: string, token: string): Promise<boolean> {
  const tokens = (await readdir(path).catch(() => [])).map((name) => TOKEN_FILE.exec(name)?.[1]).filter((t) => t !== undefined);
  return tokens.length === 1 && tokens[0] === token;
}

/** The token of whoever holds the lock directory at `path`. */
export async function tokenOf(path: string): Promise<string | undefined> {
  try {
    for (const name of await readdir(path)) {
      const match = TOKEN_FILE.exec(name);
      if (match) return match[1];
    }
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  return undefined;
}

async function makeLock(path: string): Promise<boolean> {
  try {
    await mkdir(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function mkFile(path: string): Promise<void> {
  await (await open(path, 'wx')).close();
}

class HeldClaim implements Claim {
  private state: 'held' | 'lost' | 'released' = 'held';
  private side: 'a' | 'b' = 'a';
  private lastRefresh = performance.now();
  private chain: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly key: string,
    private readonly path: string,
    private readonly token: string,
    private readonly staleMs: number,
  ) {
    this.timer = setInterval(() => void this.refresh().catch(() => {}), refreshEveryMs(staleMs));
    this.timer.unref();
    held.add(this);
  }

  get lost(): boolean {
    return this.state === 'lost';
  }

  async verify(): Promise<void> {
    // a claim that cannot be confirmed now (an I/O error) is let go as if lost: the job waits in place
    const confirmed = await this.refresh().then(() => this.state === 'held', () => false);
    if (!confirmed) throw new ClaimLost(this.key);
  }

  async release(): Promise<void> {
    await this.serial(async () => {
      if (this.state !== 'held') return;
      this.stop('released');
      try {
        await unlink(this.file(this.side));
      } catch (error) {
        if (isMissing(error)) return; // not ours any more: leave it to its holder
        throw error;
      }
      await rmdir(this.path).catch(() => {});
    }).catch(() => {});
  }

  /** At exit: the lock goes with the process (as proper-lockfile did), only if it is still ours. */
  dropSync(): void {
    if (this.state !== 'held') return;
    try {
      unlinkSync(this.file(this.side));
      rmdirSync(this.path);
    } catch {
      // not ours any more, or already gone
    }
  }

  /** One rename of the token file: the server stamps the directory, and refuses if the lock is not ours. */
  private refresh(): Promise<void> {
    return this.serial(async () => {
      if (this.state !== 'held') return;
      const next = this.side === 'a' ? 'b' : 'a';
      try {
        await rename(this.file(this.side), this.file(next));
        this.side = next;
        this.lastRefresh = performance.now();
      } catch (error) {
        // gone: taken over (or removed by hand); anything else (an NFS hiccup) is tried again, until
        // others may have judged the claim stale
        if (isMissing(error) || performance.now() - this.lastRefresh > this.staleMs) this.stop('lost');
        else throw error;
      }
    });
  }

  private serial(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(step);
    this.chain = run.catch(() => {});
    return run;
  }

  private stop(state: 'lost' | 'released'): void {
    this.state = state;
    clearInterval(this.timer);
    held.delete(this);
  }

  private file(side: 'a' | 'b'): string {
    return join(this.path, `${this.token}.${side}`);
  }
}

/** Thrown by whoever finds the claim it works under lost: the job belongs to its new holder now. */
export class ClaimLost extends Error {
  constructor(key: string) {
    super(`claim ${key} lost`);
    this.name = 'ClaimLost';
  }
}

/** Stops a step that must be done under the claim once the claim is known lost (no I/O). */
export function assertHeld(claim: Claim): void {
  if (claim.lost) throw new ClaimLost(claim.key);
}

/** Stops a step that cannot be undone unless the file system confirms the claim is still ours. */
export async function verifyHeld(claim: Claim): Promise<void> {
  assertHeld(claim);
  await claim.verify();
}

import type { Logger } from 'pino';
import { closeAbandonedSegments } from '../../spool/arrivals.js';
import { BATCH_SUFFIX, locksDir, spoolTmpDir } from '../../spool/layout.js';
import { removeStaleLocks, removeStrayTemporaries } from '../../spool/recovery.js';
import type { Spool } from '../../spool/spool.js';
import { FsTime } from '../../spool/fs-time.js';
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import { removeTreeTemporaries, treeTmpDir } from '../tree/tree.js';
import type { Candidate } from './queues.js';

export interface ScanDeps {
  spool: Spool;
  config: Config;
  countries: readonly string[];
  clock: Clock;
  log: Logger;
  isStopping: () => boolean;
  /** A batch was seen. */
  noteBatch: (country: string, name: string) => Promise<void>;
  /** A job was seen: queue it, waiting for room. */
  offer: (candidate: Candidate) => Promise<unknown>;
  /** Whether a country's arrival log orders its incoming/ jobs (then the scan only counts them). */
  logHoldsWork: (country: string) => Promise<boolean>;
  /** A job that failed unexpectedly too often: left alone until restart. */
  leftAlone: (candidate: Candidate) => boolean;
}

/**
 * The walk of incoming/ and downloaded/ of every country that finds what events missed: batches, jobs
 * moved in by hand, jobs of engines that died. Each walk also clears the claims and temporaries of
 * engines that died (at once on this host, after an hour for temporaries of other hosts). One walk at
 * a time; a directory that cannot be read holds up no other and is named in `unreadable`.
 */
export class SpoolScan {
  /** Spool directories the last scan could not read (`incoming/uk` -> the error code): --once reports them. */
  readonly unreadable = new Map<string, string>();
  private scanning: Promise<number> | undefined;
  private lastScan = 0;
  /** The tree's file system's time, for the age of its temporaries (it may not be the spool's). */
  private treeTime: FsTime | undefined;

  constructor(private readonly deps: ScanDeps) {}

  /** Whether a rescan is due (intake.rescanMs since the last one ended). */
  isDue(): boolean {
    return this.deps.clock() - this.lastScan >= this.deps.config.intake.rescanMs;
  }

  settled(): Promise<unknown> {
    return this.scanning ?? Promise.resolve();
  }

  /** Walks the spool; returns how many jobs and batches it saw. */
  scan(): Promise<number> {
    this.scanning ??= this.scanNow().finally(() => {
      this.lastScan = this.deps.clock();
      this.scanning = undefined;
    });
    return this.scanning;
  }

  /** A scan whose error is logged (the next one tries again). */
  async rescan(): Promise<void> {
    try {
      await this.scan();
    } catch (error) {
      this.deps.log.error({ err: error }, 'rescan failed');
    }
  }

  private async scanNow(): Promise<number> {
    const { spool, config, countries, isStopping } = this.deps;
    let seen = 0;
    for (const country of countries) {
      // while the country's arrival log orders work, its jobs go first, oldest first: the walk of
      // incoming/ then only looks for batches (and counts jobs, so that a drain goes on)
      const ordered = await this.deps.logHoldsWork(country);
      for (const state of ['downloaded', 'incoming'] as const) {
        const where = `${state}/${country}`;
        try {
          for await (const entry of spool.entries(state, country)) {
            if (isStopping()) return seen;
            const candidate: Candidate = { state, country, name: entry.name };
            if (entry.name.endsWith(BATCH_SUFFIX)) await this.deps.noteBatch(country, entry.name);
            else if (this.deps.leftAlone(candidate)) continue;
            else if (!(state === 'incoming' && ordered)) await this.deps.offer(candidate);
            seen++;
          }
          this.unreadable.delete(where);
        } catch (error) {
          if (!this.unreadable.has(where)) this.deps.log.error({ err: error, dir: where }, 'spool directory cannot be read; the others go on, it is tried at every scan');
          this.unreadable.set(where, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
        }
      }
      const fsNow = await this.deps.spool.fsTime.tryNow(); // none: the spool takes no write now
      if (fsNow !== undefined) await closeAbandonedSegments(config.spool, country, fsNow);
    }
    // what engines that died meanwhile left behind: their stale claims and their temporaries, judged
    // by each file system's own time (their mtimes are stamped by it), not by this host's clock
    const now = await this.deps.spool.fsTime.tryNow();
    if (now !== undefined) await removeStaleLocks(locksDir(config.spool), config.claims.staleMs, now);
    await removeStrayTemporaries(spoolTmpDir(config.spool), now ?? null);
    this.treeTime ??= new FsTime(treeTmpDir(config.tree));
    await removeTreeTemporaries(config.tree, this.treeTime);
    return seen;
  }
}

/**
 * A log file that manages itself: a pino destination (`write(line)`) that appends synchronously,
 * rotates by size and by UTC day, prunes old archives and reopens its path on demand (SIGHUP).
 *
 * Archive names: `<stem>.<YYYY-MM-DD>.<NNN>.log`, e.g. `engine.log` -> `engine.2026-11-28.001.log`,
 * `engine.error.log` -> `engine.error.2026-11-28.001.log`. The date is the UTC day the lines were
 * written, NNN counts that day's archives from 001 (zero-padded so `ls` sorts them; a 1000th
 * archive in one day just grows a digit, and pruning compares numbers, not text).
 */
import { closeSync, fstatSync, linkSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The file's real size is read every this many lines: others may append to it too. */
const SIZE_CHECK_EVERY = 64;

const DAY_MS = 86_400_000;

/** `2026-11-28` for a time in ms (UTC). */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `engine.log` -> `engine` (the part archive names start with). */
function stemOf(base: string): string {
  return base.endsWith('.log') ? base.slice(0, -4) : base;
}

/** The archive name for `base` (a file name, no directory), its date and number. */
export function archiveName(base: string, date: string, n: number): string {
  return `${stemOf(base)}.${date}.${String(n).padStart(3, '0')}.log`;
}

const ARCHIVE = /^(\d{4}-\d{2}-\d{2})\.(\d+)\.log$/;

/**
 * The date and number of `name` if it is an archive of `base`. Only a date may follow the stem, so
 * `engine.error.2026-11-28.001.log` is not taken for an archive of `engine.log`, nor is logrotate's
 * `engine.log.1`.
 */
export function parseArchive(base: string, name: string): { date: string; n: number } | undefined {
  const prefix = `${stemOf(base)}.`;
  if (!name.startsWith(prefix)) return undefined;
  const match = ARCHIVE.exec(name.slice(prefix.length));
  return match ? { date: match[1]!, n: Number(match[2]) } : undefined;
}

/** `base`'s archives among `names`, oldest first (by date, then number). */
export function archivesOf(base: string, names: readonly string[]): string[] {
  return names
    .map((name) => ({ name, parsed: parseArchive(base, name) }))
    .filter((a): a is { name: string; parsed: { date: string; n: number } } => a.parsed !== undefined)
    .sort((a, b) => a.parsed.date.localeCompare(b.parsed.date) || a.parsed.n - b.parsed.n)
    .map((a) => a.name);
}

/** The name the current file takes when rotated on `date`: one past that day's highest number. */
export function nextArchive(base: string, date: string, names: readonly string[]): string {
  let last = 0;
  for (const name of names) {
    const parsed = parseArchive(base, name);
    if (parsed?.date === date) last = Math.max(last, parsed.n);
  }
  return archiveName(base, date, last + 1);
}

/** The archives of `base` to delete so that only the newest `keep` remain. */
export function archivesToPrune(base: string, names: readonly string[], keep: number): string[] {
  const archives = archivesOf(base, names);
  return archives.slice(0, Math.max(0, archives.length - keep));
}

export class LogFileOptionError extends RangeError {
  readonly code = 'ERR_LOG_FILE_OPTION';
  constructor(option: string, expected: string, received: unknown) {
    super(`Expected ${expected} for ${option} but received ${String(received)}`);
    this.name = 'LogFileOptionError';
  }
}

type Trouble = 'write' | 'rotate' | 'prune';

const CONSEQUENCE: Record<Trouble, string> = {
  write: 'lines are lost until it works again (tried on every line)',
  rotate: 'the file grows on (tried again in a minute)',
  prune: 'old archives stay (tried again at the next rotation)',
};

export interface LogFileOptions {
  /** Rotate before a write would take the file past this many bytes. */
  maxBytes: number;
  /** Archives kept for this file; older ones are deleted after each rotation. */
  keep: number;
  /** The clock (ms since the epoch): decides the day, so tests can cross midnight. */
  now?: () => number;
  /** Where I/O trouble is told (once per spell of failures): stderr unless given. */
  report?: (message: string) => void;
}

/** A rotating, self-pruning log file; pino (and pino.multistream) can write to it. */
export class LogFile {
  readonly path: string;
  private readonly base: string;
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly now: () => number;
  private readonly report: (message: string) => void;
  private fd = -1;
  /** Bytes in the current file: tracked here so a write needs no stat. */
  private size = 0;
  /** The UTC day [start, end) the current file's lines belong to. */
  private dayStart = 0;
  private dayEnd = 0;
  /** What fails now ('write', 'rotate', 'prune'): each spell of failures is reported once. */
  private readonly failing = new Set<Trouble>();
  /** A failed rotation is retried after this time, not on every line. */
  private rotateAfter = 0;
  /** Lines since the size was last read from the file (another process may append to it too). */
  private sinceSizeCheck = 0;

  constructor(path: string, options: LogFileOptions) {
    if (typeof path !== 'string' || path === '') throw new LogFileOptionError('path', 'a file path', path);
    if (typeof options.maxBytes !== 'number' || !(options.maxBytes > 0)) throw new LogFileOptionError('maxBytes', 'a positive number', options.maxBytes);
    if (!Number.isInteger(options.keep) || options.keep < 0) throw new LogFileOptionError('keep', 'a non-negative integer', options.keep);
    this.path = path;
    this.base = basename(path);
    this.dir = dirname(path);
    this.maxBytes = options.maxBytes;
    this.keep = options.keep;
    this.now = options.now ?? Date.now;
    this.report = options.report ?? ((message) => void process.stderr.write(`${message}\n`));
    this.open();
  }

  /** Appends one line (pino hands complete lines). Never throws: a lost line beats a dead daemon. */
  write(line: string): boolean {
    const bytes = Buffer.from(line);
    const now = this.now();
    if (this.fd < 0 && !this.open()) return true;
    if (++this.sinceSizeCheck >= SIZE_CHECK_EVERY) this.resyncSize();
    if (this.size > 0 && now >= this.rotateAfter) {
      // the file keeps the day its lines were written: a new day rotates it under the old date
      if (now >= this.dayEnd || now < this.dayStart) this.rotate();
      else if (this.size + bytes.length > this.maxBytes) this.rotate();
    }
    if (this.size === 0) this.setDay(now);
    try {
      for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done);
      this.size += bytes.length;
      this.recovered('write');
    } catch (error) {
      this.fail('write', error);
      this.closeQuietly(); // the next line opens the path again
    }
    return true;
  }

  /** Closes and reopens the path: after logrotate renamed the file, lines go to a new one. */
  reopen(): void {
    this.closeQuietly();
    this.open();
  }

  /** Lines are on disk once write() returns; this exists for pino's flush. */
  flushSync(): void {}

  /** Closes the file; a later write opens it again. */
  end(): void {
    this.closeQuietly();
  }

  private open(): boolean {
    try {
      mkdirSync(this.dir, { recursive: true });
      this.fd = openSync(this.path, 'a');
      const stat = fstatSync(this.fd);
      this.size = stat.size;
      // a file left from an earlier run belongs to the day it was last written
      this.setDay(stat.size > 0 ? stat.mtimeMs : this.now());
      return true;
    } catch (error) {
      this.fail('write', error);
      this.closeQuietly();
      return false;
    }
  }

  /**
   * Gives the current file its archive name, starts a new one, prunes old archives. Another process
   * writing the same file (two engines on one host) may have rotated it already, or an operator
   * removed it: then this one only follows the path to the new file.
   */
  private rotate(): void {
    if (!this.isAtPath() || this.links() > 1) {
      this.reopen(); // moved away, or already given an archive name by another writer
      return;
    }
    try {
      if (!this.archive()) {
        this.reopen();
        return;
      }
    } catch (error) {
      this.fail('rotate', error);
      this.rotateAfter = this.now() + 60_000;
      return;
    }
    this.recovered('rotate');
    this.closeQuietly();
    if (!this.open()) return;
    this.prune();
  }

  /**
   * Names the open file as the next archive and takes it off the path. Link then unlink, not rename:
   * link refuses a name that exists, so no archive is overwritten; and a writer that finds it linked
   * someone else's file, or the same file as another writer, takes its link back. False when another
   * writer won.
   */
  private archive(): boolean {
    let archive: string;
    for (let tries = 0; ; tries++) {
      archive = join(this.dir, nextArchive(this.base, utcDate(this.dayStart), readdirSync(this.dir)));
      try {
        linkSync(this.path, archive);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
          renameSync(this.path, archive); // a file system without hard links: rename, as logrotate would
          return true;
        }
        if (code !== 'EEXIST' || tries >= 5) throw error;
      }
    }
    const mine = fstatSync(this.fd);
    if (statSync(archive).ino !== mine.ino || mine.nlink > 2) {
      unlinkSync(archive);
      return false;
    }
    try {
      unlinkSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return true;
  }

  /** Names the open file has (the path and any archive name). */
  private links(): number {
    try {
      return fstatSync(this.fd).nlink;
    } catch {
      return 1;
    }
  }

  /** True while the open file is still the one at the path. */
  private isAtPath(): boolean {
    try {
      return statSync(this.path).ino === fstatSync(this.fd).ino;
    } catch {
      return false;
    }
  }

  private resyncSize(): void {
    this.sinceSizeCheck = 0;
    try {
      this.size = Math.max(this.size, fstatSync(this.fd).size);
    } catch {
      // the next write reports it
    }
  }

  private prune(): void {
    try {
      for (const name of archivesToPrune(this.base, readdirSync(this.dir), this.keep)) unlinkSync(join(this.dir, name));
      this.recovered('prune');
    } catch (error) {
      this.fail('prune', error);
    }
  }

  private setDay(ms: number): void {
    this.dayStart = Math.floor(ms / DAY_MS) * DAY_MS;
    this.dayEnd = this.dayStart + DAY_MS;
  }

  private closeQuietly(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone: nothing to release
    }
    this.fd = -1;
  }

  private fail(trouble: Trouble, error: unknown): void {
    if (this.failing.has(trouble)) return;
    this.failing.add(trouble);
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    this.report(`log file ${this.path}: cannot ${trouble} (${code}): ${(error as Error).message}; ${CONSEQUENCE[trouble]}`);
  }

  private recovered(trouble: Trouble): void {
    if (!this.failing.delete(trouble)) return;
    this.report(`log file ${this.path}: ${trouble} works again`);
  }
}

/**
 * The file system's own time. Hosts sharing a spool over NFS each have their own clock; the times a
 * file carries (mtime, ctime) are stamped by the file server. So an age that decides who owns work
 * (a claim gone stale, a temporary abandoned) is judged against a time stamped by the same server:
 * a probe file written just now in the same file system, whose mtime is the server's "now".
 *
 * One probe costs a small write, an fstat and an unlink in `<dir>/` (a temporary named after its
 * writer, so recovery removes one a crash left). Between probes the server's time is carried forward
 * by this process's monotonic clock, which no wall-clock skew or step affects, only its rate.
 * The same probe gives this host's offset from the spool: what `status`, the page and /metrics show.
 */
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock, type Clock } from '../engine/core/clock.js';
import { ownerTag, SELF } from './owner.js';

/** One probe: the file system's time, this process's clock then, and how far apart they are. */
export interface FsReading {
  /** The probe file's mtime (ms since the epoch), stamped by the file system. */
  fsTime: number;
  /** This process's clock at the middle of the probe. */
  localTime: number;
  /** fsTime - localTime: positive when this host's clock is behind the spool's. */
  offsetMs: number;
  /** Half the time the probe took: how precise offsetMs is (file times also have a coarse grain). */
  uncertaintyMs: number;
  /** The monotonic time of the middle of the probe. */
  at: number;
}

/** Reuse a reading this young for "now" rather than probing again. */
const REUSE_MS = 1_000;

let probes = 0;

export class FsTime {
  private last: FsReading | undefined;
  private pending: Promise<FsReading> | undefined;

  /**
   * `dir`: a writable directory on the file system whose time is wanted (the spool's `.tmp/`).
   * `clock`: this process's clock, only to report the offset; `monotonic` carries time between probes.
   */
  constructor(
    private readonly dir: string,
    private readonly clock: Clock = systemClock,
    private readonly monotonic: () => number = () => performance.now(),
  ) {}

  /** The latest reading, if any probe was made. */
  get latest(): FsReading | undefined {
    return this.last;
  }

  /** Writes a probe file and reads its mtime back; concurrent callers share one probe. */
  probe(): Promise<FsReading> {
    this.pending ??= this.probeNow().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The file system's time now (ms since the epoch): from a probe at most REUSE_MS old. */
  async now(): Promise<number> {
    let reading = this.last;
    if (!reading || this.monotonic() - reading.at > REUSE_MS) reading = await this.probe();
    return reading.fsTime + (this.monotonic() - reading.at);
  }

  /** now(), or undefined when no probe can be written (a file system that takes no write). */
  async tryNow(): Promise<number | undefined> {
    try {
      return await this.now();
    } catch {
      return undefined;
    }
  }

  private async probeNow(): Promise<FsReading> {
    const path = join(this.dir, `${ownerTag(SELF)}~clock${probes++}~probe`);
    const startLocal = this.clock();
    const start = this.monotonic();
    let handle;
    try {
      handle = await open(path, 'w');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(this.dir, { recursive: true });
      handle = await open(path, 'w');
    }
    let fsTime: number;
    try {
      // a write: the server sets mtime to its own time (a utimes would carry this host's)
      await handle.write('clock probe\n');
      fsTime = (await handle.stat()).mtimeMs;
    } finally {
      await handle.close();
      await unlink(path).catch(() => {});
    }
    const end = this.monotonic();
    const localTime = startLocal + (end - start) / 2;
    const reading: FsReading = { fsTime, localTime, offsetMs: fsTime - localTime, uncertaintyMs: (end - start) / 2, at: start + (end - start) / 2 };
    this.last = reading;
    return reading;
  }
}

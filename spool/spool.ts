import { entriesOf } from './dirs.js';
import { mkdir, unlink } from 'node:fs/promises';
import { ArrivalWriter, closeAbandonedSegments } from './arrivals.js';
import { AtomicWriter, isMissing } from './atomic.js';
import { ClaimRegistry, type Claim } from './claims.js';
import { ExpiryIndex } from './expiry.js';
import { statOrMissing } from './fs-calls.js';
import { FsTime } from './fs-time.js';
import { decodeJob, encodeJob, type Job } from './job.js';
import { BATCH_SUFFIX, JOB_SUFFIX, entryPath, isVisible, jobPath, locksDir, originalPath, spoolTmpDir, STATES, stateDir, type State } from './layout.js';
import { LIMITS } from './limits.js';
import { removeOrphanOriginals, removeStaleLocks, removeStrayTemporaries } from './recovery.js';
import { readRegular } from './safe-open.js';
import type { WriteThread } from './write-thread.js';
import { systemClock, type Clock } from '../engine/core/clock.js';

export interface SpoolOptions {
  root: string;
  fsync: boolean;
  staleMs: number;
  /** Where the spool's writes are done (the daemon's write thread); on the caller's thread when not given. */
  writeThread?: WriteThread;
  /**
   * The daemon's: the claim of a job intake has just made is kept (parked) for the processor, which
   * takes it over, instead of released (ClaimRegistry.park). Not for a process that does not go on to
   * work on its jobs (`imagesys enqueue`).
   */
  parkClaims?: boolean;
  /** The time, for every job the spool writes and every moment it records; the system's by default. */
  clock?: Clock;
}

/** An entry found by a scan: a job or a batch in one state directory. */
export interface SpoolEntry {
  state: State;
  country: string;
  name: string;
}

/**
 * The file-system queue. Every state change is one rename; every file appears whole; every job that
 * is worked on is claimed first, so several engines can share one spool.
 */
export class Spool {
  readonly root: string;
  readonly writer: AtomicWriter;
  readonly claims: ClaimRegistry;
  /** Where made and refreshed images are recorded for purge. */
  readonly expiry: ExpiryIndex;
  /** Where this process records the order in which jobs arrive in incoming/. */
  readonly arrivals: ArrivalWriter;
  readonly clock: Clock;
  /**
   * The spool file system's own time (a probe file in `.tmp/`): what the age of a claim, a temporary
   * or an open arrival segment is judged by, so that hosts whose clocks differ agree on it.
   */
  readonly fsTime: FsTime;

  constructor(options: SpoolOptions) {
    this.clock = options.clock ?? systemClock;
    this.root = options.root;
    this.writer = new AtomicWriter(spoolTmpDir(options.root), options.fsync, options.writeThread);
    this.fsTime = new FsTime(spoolTmpDir(options.root), this.clock);
    this.claims = new ClaimRegistry(locksDir(options.root), options.staleMs, this.fsTime, { park: options.parkClaims === true });
    this.expiry = new ExpiryIndex(options.root);
    this.arrivals = new ArrivalWriter(options.root, this.clock);
  }

  /** What a daemon does last with its spool: closes its arrival segment, releases the claims it parked. */
  async close(): Promise<void> {
    await this.arrivals.close();
    await this.claims.releaseParked();
  }

  /** The spool's clock as a Date (what job files record). */
  now(): Date {
    return new Date(this.clock());
  }

  async ensureLayout(countries: readonly string[]): Promise<void> {
    await mkdir(spoolTmpDir(this.root), { recursive: true });
    await mkdir(locksDir(this.root), { recursive: true });
    for (const state of STATES) for (const country of countries) await mkdir(stateDir(this.root, state, country), { recursive: true });
  }

  /**
   * Recovery, before anything is watched or claimed: the layout made, temporaries and originals that
   * dead writers left removed, stale claims cleared, arrival segments of dead engines closed.
   */
  async recover(countries: readonly string[], staleMs: number): Promise<{ temporaries: number; orphanOriginals: number; staleClaims: number }> {
    await this.ensureLayout(countries);
    // ages by the file system's time; a spool that takes no write now (the disk watch says so) has none
    const now = await this.fsTime.tryNow();
    const temporaries = await removeStrayTemporaries(spoolTmpDir(this.root), now ?? null);
    let orphanOriginals = 0;
    for (const country of countries) orphanOriginals += await removeOrphanOriginals(this.root, country);
    const staleClaims = now === undefined ? 0 : await removeStaleLocks(locksDir(this.root), staleMs, await this.fsTime.now());
    if (now !== undefined) for (const country of countries) await closeAbandonedSegments(this.root, country, await this.fsTime.now());
    return { temporaries, orphanOriginals, staleClaims };
  }

  jobPath(state: State, country: string, hash: string): string {
    return jobPath(this.root, state, country, hash);
  }

  originalPath(country: string, hash: string): string {
    return originalPath(this.root, country, hash);
  }

  claimJob(country: string, hash: string): Promise<Claim | undefined> {
    return this.claims.tryClaim(`${country}.${hash}`);
  }

  claimBatch(country: string, name: string): Promise<Claim | undefined> {
    return this.claims.tryClaim(`batch.${country}.${name}`);
  }

  /**
   * Reads a job file by its file name (a hand-written job may be misnamed). `refused`: not a regular
   * file (a link, a FIFO, ...) or larger than LIMITS.jobFileBytes, so not read at all; `corrupt`: read,
   * but not a job.
   */
  async readJobFile(state: State, country: string, fileName: string): Promise<{ job: Job } | { missing: true } | { refused: string } | { corrupt: string; text: string }> {
    const read = await readRegular(entryPath(this.root, state, country, fileName), LIMITS.jobFileBytes);
    if (!('text' in read)) return 'refused' in read ? { refused: `job file refused: ${read.refused}` } : read;
    const { text } = read;
    try {
      return { job: decodeJob(text, country, this.now()) };
    } catch (error) {
      return { corrupt: (error as Error).message, text };
    }
  }

  async readJob(state: State, country: string, hash: string): Promise<Job | undefined> {
    const result = await this.readJobFile(state, country, `${hash}${JOB_SUFFIX}`);
    return 'job' in result ? result.job : undefined;
  }

  /** Writes a new job file (or replaces one in the same state); `skipDirSync` when the caller syncs later. */
  async writeJob(state: State, job: Job, options: { skipDirSync?: boolean } = {}): Promise<void> {
    await this.writer.write(this.jobPath(state, job.country, job.hash), encodeJob(job), options);
  }

  /** Rewrites a job where it is; fails with ENOENT if it has left that state meanwhile. */
  async updateJob(state: State, job: Job): Promise<void> {
    await this.writer.write(this.jobPath(state, job.country, job.hash), encodeJob(job), { mustExist: true });
  }

  /**
   * Updates a job and moves it to another state: rewrite in place (only if it is still there), then one
   * rename. A crash in between leaves the job, updated, in its old state, from where it is done again;
   * so a job in failed/ always carries its reason. The named moves are in transitions.ts.
   */
  async transition(from: State, to: State, job: Job): Promise<void> {
    await this.updateJob(from, job);
    await this.writer.move(this.jobPath(from, job.country, job.hash), this.jobPath(to, job.country, job.hash));
  }

  /** The state a job is in, or undefined. Callers hold the job's claim, so the answer stays true. */
  async findJob(country: string, hash: string): Promise<State | undefined> {
    for (const state of STATES) if (await statOrMissing(this.jobPath(state, country, hash))) return state;
    return undefined;
  }

  async removeOriginal(country: string, hash: string): Promise<void> {
    await unlink(this.originalPath(country, hash)).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }

  /**
   * Streams the visible entries (jobs and, in incoming/, batches) of one state directory without
   * reading the whole directory into memory. Links, FIFOs and the like are among them: whoever reads
   * one finds out what it is without following or opening it (safe-open.ts) and sets it aside.
   */
  async *entries(state: State, country: string): AsyncGenerator<SpoolEntry> {
    for await (const entry of entriesOf(stateDir(this.root, state, country))) {
      if (isVisible(entry.name, JOB_SUFFIX) || (state === 'incoming' && isVisible(entry.name, BATCH_SUFFIX))) {
        yield { state, country, name: entry.name };
      }
    }
  }
}


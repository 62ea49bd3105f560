import { lstat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { isMissing } from '../../spool/atomic.js';
import { ingestBatch, type BatchResult, type ImageToucher } from '../../spool/intake.js';
import type { Job } from '../../spool/job.js';
import { entryPath } from '../../spool/layout.js';
import type { Spool } from '../../spool/spool.js';
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import type { StageObserver } from '../observe/metrics.js';
import { treeToucher } from '../tree/tree.js';
import type { Tally } from './tally.js';

/** How long to wait before reading a batch last changed at `mtimeMs`: 0 once it stopped changing for settleMs. Pure. */
export function settleDelay(mtimeMs: number, settleMs: number, now: number): number {
  return Math.max(0, mtimeMs + settleMs - now);
}

/**
 * The URLs of a batch reading that count as intake's work: those queued, and those already in the tree
 * at its first reading only (a batch read again, after it grew or met a busy claim, meets its earlier
 * lines again). Pure.
 */
export function countedLines(counts: BatchResult['counts'], readBefore: boolean): number {
  return counts.queued + (readBefore ? 0 : counts.in_tree);
}

export interface BatchIntakeDeps {
  spool: Spool;
  config: Config;
  clock: Clock;
  log: Logger;
  tally: Tally;
  observer: StageObserver;
  /** A job intake has just made (the engine queues it or writes it to the arrival log). */
  takeFresh: (country: string, job: Job) => Promise<void>;
  /** Batches were read: the engine may have become idle. */
  onSettled: () => void;
}

/**
 * Batches from notice to removal: a plain-written batch is read once it stopped changing for
 * settleMs; batches are read one at a time, in the order they settled; one left in place (it grew, or
 * a job's claim was held) is read again once claims could have gone stale.
 */
export class BatchIntake {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly queue: Array<{ country: string; name: string }> = [];
  /** Batches whose settling is being looked at (set before the first await, so an event burst schedules once). */
  private readonly looking = new Set<string>();
  /** Batches read in part (to be read again): their lines already in the tree were counted. */
  private readonly readBefore = new Set<string>();
  private running = false;
  private readonly toucher: ImageToucher;
  private closed = false;

  constructor(private readonly deps: BatchIntakeDeps) {
    this.toucher = treeToucher(deps.config.tree);
  }

  /** Batches noticed but waiting to settle (a drain goes on while there are any). */
  get settling(): number {
    return this.timers.size;
  }

  /** Nothing being read or waiting to be read. */
  isIdle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  /** A batch was seen (a watcher event, a scan): read it once it has settled. Never throws. */
  async note(country: string, name: string): Promise<void> {
    try {
      await this.schedule(country, name);
    } catch (error) {
      this.deps.log.error({ err: error, country, batch: name }, 'batch could not be looked at; the next scan tries again');
    }
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.splice(0);
  }

  private async schedule(country: string, name: string): Promise<void> {
    const key = `${country}/${name}`;
    if (this.looking.has(key) || this.timers.has(key) || this.queue.some((b) => b.country === country && b.name === name)) return;
    let mtimeMs: number;
    this.looking.add(key);
    try {
      // lstat: a link is judged as itself (and refused when read), never by what it points to
      mtimeMs = (await lstat(entryPath(this.deps.config.spool, 'incoming', country, name))).mtimeMs;
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    } finally {
      this.looking.delete(key);
    }
    if (this.closed) return;
    const wait = settleDelay(mtimeMs, this.deps.config.intake.settleMs, this.deps.clock());
    if (wait > 0) {
      this.later(key, country, name, wait + 10);
      return;
    }
    this.queue.push({ country, name });
    void this.run();
  }

  private later(key: string, country: string, name: string, ms: number): void {
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.note(country, name);
      }, ms),
    );
  }

  /** A batch left in place is read again once claims could go stale. */
  private readAgainLater(country: string, name: string): void {
    const key = `${country}/${name}`;
    if (this.timers.has(key) || this.closed) return;
    this.later(key, country, name, Math.min(this.deps.config.claims.staleMs, this.deps.config.intake.rescanMs));
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const { country, name } = this.queue[0]!;
        try {
          await this.read(country, name);
        } catch (error) {
          this.deps.log.error({ err: error, country, batch: name }, 'batch could not be read; it stays for the next scan');
        }
        this.queue.shift();
      }
    } finally {
      this.running = false;
      this.deps.onSettled();
    }
  }

  private async read(country: string, name: string): Promise<void> {
    const { spool, config, tally, observer, log } = this.deps;
    const began = performance.now();
    const result = await ingestBatch(spool, this.toucher, country, name, (job) => this.deps.takeFresh(country, job), config.intake);
    if (!result) return;
    if (result.refused) {
      tally.progressed = true;
      log.warn({ country, batch: name, reason: result.refused }, 'batch set aside in failed/');
      return;
    }
    const { queued, in_tree: inTree, invalid } = result.counts;
    const key = `${country}/${name}`;
    const counted = countedLines(result.counts, this.readBefore.has(key));
    if (result.removed) this.readBefore.delete(key);
    else this.readBefore.add(key);
    observer.done('intake', { seconds: (performance.now() - began) / 1000, count: counted });
    // an invalid line is a job that failed at once
    for (let i = 0; i < invalid; i++) tally.failed(country, 'invalid_url');
    if (invalid > 0) observer.failed('intake', 'invalid_url', { count: invalid });
    if (result.removed || queued + inTree + invalid > 0) tally.progressed = true;
    if (result.removed) tally.batchDone();
    else this.readAgainLater(country, name);
    log.info({ country, batch: name, ...result.counts, complete: result.removed }, 'batch read');
  }
}

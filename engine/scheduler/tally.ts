import type { Clock } from '../core/clock.js';
import type { ErrorCode } from '../core/errors.js';
import type { Outcome } from '../job/processor.js';
import type { EngineStats } from '../observe/daemon-state.js';
import { MinuteBuckets } from '../observe/history.js';
import type { StageObserver } from '../observe/metrics.js';
import { LATEST_SHOWN, type LatestThumbnail } from '../observe/status.js';

/**
 * Counts what the engine does, once per event: each event goes to the totals (`imagesys run`, the
 * state file), the per-minute history (the status page's charts, `imagesys report`) and the observer
 * (the daemon's metrics). `progressed` tells a drain that something moved since it last looked.
 */
export class Tally {
  readonly stats: EngineStats = { thumbed: 0, stuck: 0, skipped: 0, failed: 0, retries: 0, spilled: 0, batches: 0, failuresByCode: {} };
  readonly minutes = new MinuteBuckets();
  /** The newest thumbnails made, newest first. */
  readonly latest: LatestThumbnail[] = [];
  /** The observer handed to the job processor: it also adds the bytes to the history. */
  readonly observer: StageObserver;
  progressed = false;

  constructor(
    private readonly outer: StageObserver,
    private readonly clock: Clock,
  ) {
    this.observer = {
      done: (stage, o) => {
        if (stage === 'download' && o?.bytesIn) this.minutes.bytes('bytesIn', o.bytesIn, this.clock());
        if (stage === 'thumbnail' && o?.bytesOut) this.minutes.bytes('bytesOut', o.bytesOut, this.clock());
        outer.done(stage, o);
      },
      failed: (stage, code, o) => outer.failed(stage, code, o),
      job: (country, outcome) => outer.job(country, outcome),
    };
  }

  /** What an attempt came to; outcomes that only wait (busy, deferred, paused, gone) count nothing. */
  outcome(country: string, outcome: Outcome): void {
    if (outcome.kind === 'thumbed') this.thumbed(country, outcome.skipped !== undefined, outcome.made);
    else if (outcome.kind === 'failed') this.failed(country, outcome.code);
    else if (outcome.kind === 'retry') this.retried(country);
    else if (outcome.kind === 'spilled') this.spilled();
  }

  thumbed(country: string, skipped: boolean, made: LatestThumbnail | undefined): void {
    this.progressed = true;
    if (skipped) this.stats.skipped++;
    else this.stats.thumbed++;
    this.minutes.count(skipped ? 'skipped' : 'thumbed', this.clock());
    this.outer.job(country, skipped ? 'skipped' : 'thumbed');
    if (made) {
      this.latest.unshift(made);
      this.latest.length = Math.min(this.latest.length, LATEST_SHOWN);
    }
  }

  /** A job came to rest in failed/. */
  failed(country: string, code: ErrorCode): void {
    this.progressed = true;
    this.stats.failed++;
    this.stats.failuresByCode[code] = (this.stats.failuresByCode[code] ?? 0) + 1;
    this.minutes.count('failed', this.clock(), code);
    this.outer.job(country, 'failed');
  }

  retried(country: string): void {
    this.progressed = true;
    this.stats.retries++;
    this.minutes.count('retries', this.clock());
    this.outer.job(country, 'retried');
  }

  spilled(): void {
    this.progressed = true;
    this.stats.spilled++;
  }

  stuck(): void {
    this.stats.stuck++;
  }

  /** A batch read whole and removed. */
  batchDone(): void {
    this.progressed = true;
    this.stats.batches++;
  }

  /** A copy for the state file. */
  snapshot(): EngineStats {
    return { ...this.stats, failuresByCode: { ...this.stats.failuresByCode } };
  }
}

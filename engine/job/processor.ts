import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { assertHeld, ClaimLost, verifyHeld, type Claim } from '../../spool/claims.js';
import { statOrMissing } from '../../spool/fs-calls.js';
import { credentialsRefusal, type Job } from '../../spool/job.js';
import { entryPath, JOB_SUFFIX, stripSuffix, type State } from '../../spool/layout.js';
import { nameProblem } from '../../spool/limits.js';
import { readRegularBytes } from '../../spool/safe-open.js';
import { setAside, setAsideUnreadable } from '../../spool/set-aside.js';
import type { Spool } from '../../spool/spool.js';
import { refileMisnamed, requeue, retryLater, toDownloaded, toFailed, toThumbed, type WorkState } from '../../spool/transitions.js';
import { backoffDelay } from '../core/backoff.js';
import type { Clock } from '../core/clock.js';
import { isUnwritable } from '../health/disk.js';
import { processingFor, type Config } from '../config/config.js';
import type { DownloadResult, Downloader } from '../download/downloader.js';
import { asImageSysError, ImageSysError, type ErrorCode } from '../core/errors.js';
import { withoutCredentials } from '../core/hash.js';
import { isCanaryImage } from '../core/image-class.js';
import { sourcesOf, type SourceHealth } from '../health/health.js';
import type { Semaphore } from '../core/semaphore.js';
import { BudgetHold, ByteBudget } from '../core/byte-budget.js';
import { abortable } from '../core/abortable.js';
import type { ThumbnailRunner } from '../thumbnails/thumbnail-pool.js';
import { manifestPath, readManifest, touchImage, treeTmpDir, type Manifest } from '../tree/tree.js';
import { AtomicWriter } from '../../spool/atomic.js';
import type { WriteThread } from '../../spool/write-thread.js';
import { NO_OBSERVER, type StageObserver } from '../observe/metrics.js';
import type { LatestThumbnail } from '../observe/status.js';
import { buildManifest, latestOf, manifestSizes } from './manifest.js';
import { Classifier } from '../classes/classifier.js';

/** How one attempt at a job ended. */
export type Outcome =
  | { kind: 'busy' } // another engine holds it
  | { kind: 'gone' } // it left this state meanwhile
  | { kind: 'deferred'; until: number } // waiting for its backoff
  | { kind: 'paused'; until: number } // its host or datasource is paused: waits, no attempt counted
  | { kind: 'thumbed'; skipped?: 'in_tree' | 'not_modified'; made?: LatestThumbnail }
  | { kind: 'spilled' } // downloaded, original on disk in downloaded/, waiting for a thread
  | { kind: 'retry'; until: number; code: ErrorCode }
  | { kind: 'failed'; code: ErrorCode };

export interface ProcessorDeps {
  config: Config;
  spool: Spool;
  downloader: Downloader;
  pool: ThumbnailRunner;
  /** Limits how many images wait in memory for, or are in, the thumbnail pool. */
  thumbnailSlots: Semaphore;
  /**
   * Bounds the bytes of originals in memory (being read, waiting for a thread, in one): past it a download
   * waits before its body, and a downloaded original waits on disk (pool.memoryBudgetMiB). Unbounded when not given.
   */
  memoryBudget?: ByteBudget;
  /** Which hosts and datasources are paused for failing too often. */
  health: SourceHealth;
  /** Hears what each stage did (metrics). */
  observer?: StageObserver;
  log: Logger;
  random?: () => number;
  /**
   * A write to the tree or the spool was refused (permissions, read-only, full): the engine looks at
   * the disks now; true when that pauses downloads (else the job's failure counts as usual).
   */
  onUnwritable?: () => Promise<boolean>;
  /** Where the tree's writes are done (the engine's write thread); on the event loop when not given. */
  writeThread?: WriteThread;
}

/** How the engine watches one attempt: it hears of progress and may abort it (stuck). */
export interface AttemptControl {
  signal?: AbortSignal;
  /** The attempt moved on; `waiting`: what follows is a wait for a slot (a download or a thread), not a lack of progress. */
  progress?: (waiting: boolean) => void;
}

/** Takes a job from its state to its next resting state (incoming -> downloaded -> thumbed, back to incoming for a retry, or failed), holding its claim throughout. */
export class Processor {
  private readonly treeWriter: AtomicWriter;
  private readonly classes: Classifier;
  private readonly observer: StageObserver;
  private readonly clock: Clock;
  private readonly budget: ByteBudget;

  constructor(private readonly deps: ProcessorDeps) {
    this.budget = deps.memoryBudget ?? new ByteBudget(Number.POSITIVE_INFINITY);
    this.treeWriter = new AtomicWriter(treeTmpDir(deps.config.tree), deps.config.fsync, deps.writeThread);
    this.observer = deps.observer ?? NO_OBSERVER;
    // one clock for the processor and the transitions it calls: the spool's
    this.clock = deps.spool.clock;
    this.classes = new Classifier({ tree: deps.config.tree, spool: deps.spool, writer: this.treeWriter, settings: { ...deps.config.classes, canaryCountry: deps.config.canary.country }, clock: this.clock, warn: (err: unknown, what: string) => deps.log.warn({ err, what }, 'image classes: not kept up to date') });
  }

  /** The processor's clock as a Date (what job files and the tree record). */
  private now(): Date {
    return new Date(this.clock());
  }

  /** Writes what is kept in memory (the class counts): at the engine's stop. */
  close(): Promise<void> {
    return this.classes.close();
  }

  /**
   * `fresh` is a job this engine has just made from a batch (after checking the tree): its content is
   * known, so only its presence is checked once the claim is held.
   */

  async process(state: WorkState, country: string, fileName: string, fresh?: Job, control: AttemptControl = {}): Promise<Outcome> {
    const { spool } = this.deps;
    const badName = nameProblem(fileName); // its claim's name would not fit in the file system
    if (badName) return this.refuse(state, country, fileName, `job file refused: ${badName}`);
    const fileHash = stripSuffix(fileName, JOB_SUFFIX);
    const claim = await spool.claimJob(country, fileHash);
    if (!claim) return { kind: 'busy' };
    try {
      const read = fresh && state === 'incoming' ? await this.stillThere(state, fileName, fresh) : await spool.readJobFile(state, country, fileName);
      if ('missing' in read) return { kind: 'gone' };
      if ('refused' in read) return await this.refuse(state, country, fileName, read.refused);
      if ('corrupt' in read) {
        // a job written by hand without a rename may still be growing: give it settleMs
        const now = this.clock();
        const age = await ageOf(entryPath(spool.root, state, country, fileName), now);
        if (age < this.deps.config.intake.settleMs) return { kind: 'deferred', until: now + this.deps.config.intake.settleMs - age };
        return await this.setAsideCorrupt(state, country, fileName, read.corrupt, read.text);
      }
      let job = read.job;
      if (job.hash !== fileHash) {
        // a hand-written or misnamed job: file it under its real hash first (then it is read again)
        const renamed = await this.refile(state, country, fileName, job);
        if (!renamed) return { kind: 'gone' };
        return { kind: 'deferred', until: 0 };
      }
      if (state === 'incoming' && job.attempts >= this.deps.config.retry.maxAttempts) {
        // only an operator puts a job with spent attempts back in incoming/ (mv from failed/): a fresh start
        job = { ...job, attempts: 0 };
        await spool.updateJob(state, job);
      }
      const due = job.notBefore ? Date.parse(job.notBefore) : 0;
      if (due > this.clock()) return { kind: 'deferred', until: due };
      const log = this.deps.log.child({ job: job.hash, country });
      try {
        if (state === 'incoming') return await this.fromIncoming(job, claim, log, fresh !== undefined, control);
        return await this.fromDownloaded(job, claim, log, control);
      } catch (error) {
        if (error instanceof ClaimLost || claim.lost) {
          log.warn('claim lost, leaving the job to its new holder');
          return { kind: 'busy' };
        }
        if (isUnwritable(error) && (await this.deps.onUnwritable?.())) {
          // no attempt can cure a disk that takes no write: the job waits, its attempts untouched,
          // while the engine pauses downloads until a probe write succeeds (a refusal the probe does
          // not meet, in one directory, counts as a failure: it must not loop)
          log.warn({ err: error }, 'the tree or the spool takes no write: the job waits');
          return { kind: 'paused', until: this.clock() + this.deps.config.disk.checkMs };
        }
        const current = (await spool.findJob(country, job.hash)) ?? state;
        if (current !== 'incoming' && current !== 'downloaded') return { kind: 'gone' };
        job = (await spool.readJob(current, country, job.hash)) ?? job;
        const failure = control.signal?.aborted ? new ImageSysError('stuck', `no progress for ${Math.round(this.deps.config.health.stuckMs / 1000)} s: aborted`, { cause: error }) : asImageSysError(error);
        return await this.recordFailure(current, job, failure, claim, log);
      }
    } finally {
      await claim.release();
    }
  }

  private async stillThere(state: State, fileName: string, job: Job): Promise<{ job: Job } | { missing: true }> {
    return (await statOrMissing(entryPath(this.deps.spool.root, state, job.country, fileName))) ? { job } : { missing: true };
  }

  private async fromIncoming(job: Job, claim: Claim, log: Logger, treeChecked: boolean, control: AttemptControl): Promise<Outcome> {
    // the original's bytes under the memory budget, from its Content-Length until it is in a thread's
    // hands no more or on disk (given back by thumbnail(), else here, whatever happened)
    const hold = new BudgetHold(this.budget);
    try {
      return await this.fetchAndThumbnail(job, claim, log, treeChecked, control, hold);
    } finally {
      hold.release();
    }
  }

  private async fetchAndThumbnail(job: Job, claim: Claim, log: Logger, treeChecked: boolean, control: AttemptControl, hold: BudgetHold): Promise<Outcome> {
    const { config, spool, downloader, health } = this.deps;
    const { signal } = control;
    const refused = credentialsRefusal(job.url, config.intake);
    if (refused) {
      // a job written by hand meets the same rule as a batch line; its failed copy keeps no secret
      await toFailed(spool, 'incoming', { ...job, url: withoutCredentials(job.url) }, refused, claim);
      return { kind: 'failed', code: 'invalid_url' };
    }
    const previous = !job.refresh && !treeChecked ? await touchImage(config.tree, job.country, job.hash, this.now()) : undefined;
    if (previous) {
      await toThumbed(this.deps.spool, 'incoming', job, claim, previous);
      log.debug('already in the tree: touched');
      return { kind: 'thumbed', skipped: 'in_tree' };
    }
    const validators = job.refresh ? (await readManifest(config.tree, job.country, job.hash))?.source : undefined;
    const sources = sourcesOf(job.url, job.country, job.datasource);
    const admission = health.admit(sources, this.clock());
    if (!admission.go) return { kind: 'paused', until: admission.until };
    const { probes } = admission;
    if (probes.length > 0) log.info({ sources: probes }, 'probing a paused source');
    let result: DownloadResult;
    control.progress?.(true);
    let began = 0; // when the request left (after waiting for a slot and the host's pace)
    const seconds = (): number | undefined => (began > 0 ? (performance.now() - began) / 1000 : undefined);
    try {
      const onStart = (): void => {
        began = performance.now();
        control.progress?.(false);
      };
      const onBody = async (declared: number | undefined, bodySignal: AbortSignal): Promise<void> => {
        if (declared === undefined) return; // no Content-Length: counted once read
        control.progress?.(true); // waiting for memory is not a lack of progress
        await hold.take(declared, bodySignal);
        control.progress?.(false);
      };
      result = await downloader.download(job.url, validators && { ...(validators.etag ? { etag: validators.etag } : {}), ...(validators.lastModified ? { lastModified: validators.lastModified } : {}) }, { signal, onStart, onBody, canary: isCanaryImage(job, this.deps.config.canary.country) });
      health.record(sources, undefined, this.clock(), probes);
      this.observer.done('download', { seconds: seconds(), bytesIn: 'bytes' in result ? result.bytes.length : 0 });
    } catch (error) {
      // only what a retry may cure says the source is unwell; a 404 or an HTML page is an answer;
      // an attempt aborted by the watchdog says nothing about the source
      const failure = asImageSysError(error);
      this.observer.failed('download', signal?.aborted ? 'stuck' : failure.code, { seconds: seconds() });
      if (signal?.aborted) health.abandonProbes(probes);
      else health.record(sources, failure.retryable ? failure.code : undefined, this.clock(), probes);
      // a Retry-After speaks for the whole host: none of its jobs asks before then
      if (failure.retryAfterMs !== undefined && failure.retryAfterMs > 0) health.pauseUntil(sources[0]!, this.clock() + failure.retryAfterMs, failure.code, this.clock());
      throw error;
    }
    if (result.notModified) {
      const touched = await touchImage(config.tree, job.country, job.hash, this.now());
      if (touched) {
        await toThumbed(this.deps.spool, 'incoming', job, claim, touched);
        return { kind: 'thumbed', skipped: 'not_modified' };
      }
      throw new ImageSysError('http_client_error', 'HTTP 304 but the tree has no copy of the image');
    }
    control.progress?.(false);
    hold.settle(result.bytes.length);
    assertHeld(claim);
    log.debug({ bytes: result.bytes.length, format: result.format }, 'downloaded');
    const downloaded: Job = { ...job, updatedAt: this.now().toISOString(), source: sourceInfo(result) };
    delete downloaded.notBefore;
    // usually a thread is free soon: then the original never touches the disk; but one read without
    // a Content-Length that took the budget past its limit goes to disk at once
    control.progress?.(true);
    if (this.budget.inUse <= this.budget.limit && (await this.deps.thumbnailSlots.acquireWithin(config.pool.spillAfterMs))) {
      control.progress?.(false);
      return this.thumbnail('incoming', downloaded, result.bytes, claim, log, signal, hold);
    }
    control.progress?.(false);
    await toDownloaded(spool, downloaded, result.bytes, claim);
    log.debug('every thread busy or the memory budget spent: original set down in downloaded/');
    return { kind: 'spilled' };
  }

  private async fromDownloaded(job: Job, claim: Claim, log: Logger, control: AttemptControl): Promise<Outcome> {
    const { config, spool } = this.deps;
    // a thread first, then room in the memory budget (by the size the job recorded), then the read:
    // an original on disk comes into memory only when a thread is there for it
    control.progress?.(true);
    await this.deps.thumbnailSlots.acquire();
    let slotHeld = true;
    const hold = new BudgetHold(this.budget);
    try {
      await hold.take(Math.min(job.source?.bytes ?? 0, config.download.maxBytes), control.signal);
      control.progress?.(false);
      // not through a link, not from a FIFO, not past the download limit: the spool is writable by others
      const original = await readRegularBytes(spool.originalPath(job.country, job.hash), config.download.maxBytes);
      if ('refused' in original) throw new ImageSysError('original_missing', `original refused: ${original.refused}`);
      if (!('bytes' in original)) {
        // the engine died after the original was removed: finished if the tree has the image, else fetch again
        const touched = await touchImage(config.tree, job.country, job.hash, this.now());
        if (touched) {
          await toThumbed(this.deps.spool, 'downloaded', job, claim, touched);
          return { kind: 'thumbed' };
        }
        await requeue(spool, 'downloaded', { ...job, updatedAt: this.now().toISOString() }, claim);
        log.info('original missing: requeued for download');
        return { kind: 'retry', until: 0, code: 'original_missing' };
      }
      hold.settle(original.bytes.length);
      slotHeld = false; // thumbnail() gives it back
      return await this.thumbnail('downloaded', job, original.bytes, claim, log, control.signal, hold);
    } finally {
      hold.release();
      if (slotHeld) this.deps.thumbnailSlots.release();
    }
  }

  /**
   * Makes the thumbnails, writes them and the manifest, finishes. The caller has acquired a thumbnail
   * slot; it is released as soon as the pool is done, so that writing never keeps a thread idle, and
   * so is the original's share of the memory budget (`hold`).
   */
  private async thumbnail(from: WorkState, job: Job, bytes: Buffer, claim: Claim, log: Logger, signal: AbortSignal | undefined, hold: BudgetHold): Promise<Outcome> {
    const { config, pool } = this.deps;
    const processing = processingFor(config, job.country, job.datasource);
    const sourceBytes = bytes.length;
    // the bytes are handed to a thread (transferred): what an operator needs to know of them is kept
    const head = bytes.subarray(0, 12).toString('hex');
    let result;
    const began = performance.now();
    try {
      result = await abortable(pool.run({ input: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), sizes: processing.sizes, formats: processing.formats, process: processing.process, maxPixels: config.thumbnails.maxPixels }), signal);
    } catch (error) {
      this.observer.failed('thumbnail', signal?.aborted ? 'stuck' : asImageSysError(error).code, { seconds: (performance.now() - began) / 1000 });
      throw error;
    } finally {
      this.deps.thumbnailSlots.release();
      hold.release();
    }
    const taskSeconds = (performance.now() - began) / 1000;
    if (!result.ok) {
      this.observer.failed('thumbnail', result.code, { seconds: taskSeconds });
      log.info({ code: result.code, from, bytes: sourceBytes, head }, 'the image could not be thumbnailed');
      throw new ImageSysError(result.code, result.message);
    }
    this.observer.done('thumbnail', { seconds: taskSeconds, bytesIn: sourceBytes, bytesOut: result.outputs.reduce((sum, o) => sum + o.data.byteLength, 0) });
    await verifyHeld(claim); // fencing: a claim taken over anyway is noticed before the tree is written
    const { outputs } = result;
    const sizes = manifestSizes(job, outputs, (i) => outputs[i]!.data.byteLength);
    const pending = await this.classes.decide(job, result.phash);
    let manifest: Manifest | undefined;
    // the manifest after the files it lists, once they are durable, and only while the claim holds
    await this.treeWriter.writeAllThen(
      outputs.map((output, i) => ({ path: join(config.tree, sizes[i]!.path), data: output.data })),
      () => {
        manifest = buildManifest(job, sizes, result.source, { bytes: sourceBytes, sha256: result.sha256, placeholder: result.placeholder, phash: result.phash }, processing.process, this.now(), pending.classification);
        assertHeld(claim);
        return { path: manifestPath(config.tree, job.country, job.hash), data: `${JSON.stringify(manifest, null, 2)}\n` };
      },
      { handOver: true }, // the thumbnails' bytes are not used again here
    );
    await this.classes.record(pending);
    await toThumbed(this.deps.spool, from, job, claim);
    log.debug({ sizes: sizes.length }, 'thumbed');
    const made: LatestThumbnail = latestOf(manifest!);
    return { kind: 'thumbed', made };
  }

  private async recordFailure(state: WorkState, job: Job, error: ImageSysError, claim: Claim, log: Logger): Promise<Outcome> {
    const { config, spool } = this.deps;
    const attempts = job.attempts + 1;
    if (error.retryable && attempts < config.retry.maxAttempts) {
      const delay = Math.max(backoffDelay(attempts, config.retry, this.deps.random), error.retryAfterMs ?? 0);
      const until = this.clock() + delay;
      await retryLater(spool, state, job, error, until, claim);
      log.info({ code: error.code, attempts, retryInMs: delay }, 'attempt failed, will retry');
      return { kind: 'retry', until, code: error.code };
    }
    await toFailed(spool, state, job, error, claim);
    log.warn({ code: error.code, attempts, reason: error.message }, 'job failed');
    return { kind: 'failed', code: error.code };
  }

  /** What is not a job file at all (a link, a FIFO, too big, a name too long) goes aside, unopened. */
  private async refuse(state: State, country: string, fileName: string, reason: string): Promise<Outcome> {
    const where = await setAside(this.deps.spool, state, country, fileName, reason);
    if (!where) return { kind: 'gone' };
    this.deps.log.warn({ country, file: fileName, reason }, 'job file set aside in failed/');
    return { kind: 'failed', code: 'bad_job' };
  }

  private async setAsideCorrupt(state: State, country: string, fileName: string, reason: string, text: string): Promise<Outcome> {
    await setAsideUnreadable(this.deps.spool, state, country, fileName, reason, text);
    this.deps.log.warn({ country, file: fileName, reason }, 'unreadable job set aside in failed/');
    return { kind: 'failed', code: 'bad_job' };
  }

  /** Files a misnamed job under `<hash>.job`; a duplicate of an existing job is set aside. */
  private async refile(state: State, country: string, fileName: string, job: Job): Promise<boolean> {
    const { refiled, problem } = await refileMisnamed(this.deps.spool, state, country, fileName, job);
    if (problem) this.deps.log.warn({ country, file: fileName, job: job.hash, reason: problem }, 'misnamed job file not filed cleanly');
    return refiled;
  }
}

async function ageOf(path: string, now: number): Promise<number> {
  try {
    return now - (await lstat(path)).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function sourceInfo(result: Extract<DownloadResult, { notModified: false }>): Job['source'] {
  return {
    bytes: result.bytes.length,
    format: result.format,
    ...(result.etag ? { etag: result.etag } : {}),
    ...(result.lastModified ? { lastModified: result.lastModified } : {}),
  };
}

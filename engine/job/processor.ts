import { createHash } from 'node:crypto';
import { lstat, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Claim } from '../../spool/claims.js';
import { isMissing } from '../../spool/atomic.js';
import { arrivalOf, credentialsRefusal, encodeJob, withFailure, type Job } from '../../spool/job.js';
import { JOB_SUFFIX, stripSuffix, type State } from '../../spool/layout.js';
import { nameProblem } from '../../spool/limits.js';
import { readRegularBytes } from '../../spool/safe-open.js';
import { setAside } from '../../spool/set-aside.js';
import type { Spool } from '../../spool/spool.js';
import { backoffDelay } from '../core/backoff.js';
import { isUnwritable } from '../health/disk.js';
import { processingFor, type Config } from '../config/config.js';
import type { DownloadResult, Downloader } from '../download/downloader.js';
import { asImageSysError, ImageSysError, type ErrorCode } from '../core/errors.js';
import { withoutCredentials } from '../core/hash.js';
import { sourcesOf, type SourceHealth } from '../health/health.js';
import type { Semaphore } from '../core/semaphore.js';
import type { ThumbnailRunner } from '../thumbnails/thumbnail-pool.js';
import { manifestPath, readManifest, sizeRelPath, touchImage, treeTmpDir, type Manifest } from '../tree/tree.js';
import { AtomicWriter } from '../../spool/atomic.js';
import { NO_OBSERVER, type StageObserver } from '../observe/metrics.js';
import type { LatestThumbnail } from '../observe/status.js';

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
}

class ClaimLost extends Error {}

/** How the engine watches one attempt: it hears of progress and may abort it (stuck). */
export interface AttemptControl {
  signal?: AbortSignal;
  /**
   * The attempt moved on; `waiting`: what follows is a wait for a slot (a download or a thread),
   * which is not a lack of progress.
   */
  progress?: (waiting: boolean) => void;
}

/** A refresh of an image last written longer ago than this needs no sync. */
const UNCHANGED_AFTER_MS = 60 * 60 * 1000;

/**
 * Takes one job from the state it is in to its next resting state: incoming -> downloaded -> thumbed,
 * or back to incoming for a retry, or failed. Holds the job's claim throughout.
 */
export class Processor {
  private readonly treeWriter: AtomicWriter;
  private readonly observer: StageObserver;

  constructor(private readonly deps: ProcessorDeps) {
    this.treeWriter = new AtomicWriter(treeTmpDir(deps.config.tree), deps.config.fsync);
    this.observer = deps.observer ?? NO_OBSERVER;
  }

  /**
   * `fresh` is a job this engine has just made from a batch (after checking the tree): its content is
   * known, so only its presence is checked once the claim is held.
   */
  async process(state: 'incoming' | 'downloaded', country: string, fileName: string, fresh?: Job, control: AttemptControl = {}): Promise<Outcome> {
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
        const age = await ageOf(join(spool.root, state, country, fileName), spool.now());
        if (age < this.deps.config.intake.settleMs) return { kind: 'deferred', until: Date.now() + this.deps.config.intake.settleMs - age };
        return await this.setAsideCorrupt(state, country, fileName, read.corrupt, read.text);
      }
      let job = read.job;
      if (job.hash !== fileHash) {
        // a hand-written or misnamed job: file it under its real hash first (then it is read again)
        const renamed = await this.rename(state, country, fileName, job);
        if (!renamed) return { kind: 'gone' };
        return { kind: 'deferred', until: 0 };
      }
      if (state === 'incoming' && job.attempts >= this.deps.config.retry.maxAttempts) {
        // only an operator puts a job with spent attempts back in incoming/ (mv from failed/): a fresh start
        job = { ...job, attempts: 0 };
        await spool.updateJob(state, job);
      }
      const due = job.notBefore ? Date.parse(job.notBefore) : 0;
      if (due > spool.now().getTime()) return { kind: 'deferred', until: due };
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
          return { kind: 'paused', until: Date.now() + this.deps.config.disk.checkMs };
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
    try {
      await stat(join(this.deps.spool.root, state, job.country, fileName));
      return { job };
    } catch (error) {
      if (isMissing(error)) return { missing: true };
      throw error;
    }
  }

  private async fromIncoming(job: Job, claim: Claim, log: Logger, treeChecked: boolean, control: AttemptControl): Promise<Outcome> {
    const { config, spool, downloader, health } = this.deps;
    const { signal } = control;
    const refused = credentialsRefusal(job.url, config.intake);
    if (refused) {
      // a job written by hand meets the same rule as a batch line; its failed copy keeps no secret
      await spool.transition('incoming', 'failed', withFailure({ ...job, url: withoutCredentials(job.url) }, refused, spool.now()));
      return { kind: 'failed', code: 'invalid_url' };
    }
    const previous = !job.refresh && !treeChecked ? await touchImage(config.tree, job.country, job.hash, spool.now()) : undefined;
    if (previous) {
      await this.finish('incoming', job, claim, previous);
      log.debug('already in the tree: touched');
      return { kind: 'thumbed', skipped: 'in_tree' };
    }
    const validators = job.refresh ? (await readManifest(config.tree, job.country, job.hash))?.source : undefined;
    const sources = sourcesOf(job.url, job.country, job.datasource);
    const admission = health.admit(sources, Date.now());
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
      result = await downloader.download(job.url, validators && { ...(validators.etag ? { etag: validators.etag } : {}), ...(validators.lastModified ? { lastModified: validators.lastModified } : {}) }, { signal, onStart });
      health.record(sources, undefined, Date.now(), probes);
      this.observer.done('download', { seconds: seconds(), bytesIn: 'bytes' in result ? result.bytes.length : 0 });
    } catch (error) {
      // only what a retry may cure says the source is unwell; a 404 or an HTML page is an answer;
      // an attempt aborted by the watchdog says nothing about the source
      const failure = asImageSysError(error);
      this.observer.failed('download', signal?.aborted ? 'stuck' : failure.code, { seconds: seconds() });
      if (signal?.aborted) health.abandonProbes(probes);
      else health.record(sources, failure.retryable ? failure.code : undefined, Date.now(), probes);
      // a Retry-After speaks for the whole host: none of its jobs asks before then
      if (failure.retryAfterMs !== undefined && failure.retryAfterMs > 0) health.pauseUntil(sources[0]!, Date.now() + failure.retryAfterMs, failure.code, Date.now());
      throw error;
    }
    if (result.notModified) {
      const touched = await touchImage(config.tree, job.country, job.hash, spool.now());
      if (touched) {
        await this.finish('incoming', job, claim, touched);
        return { kind: 'thumbed', skipped: 'not_modified' };
      }
      throw new ImageSysError('http_client_error', 'HTTP 304 but the tree has no copy of the image');
    }
    control.progress?.(false);
    this.assertHeld(claim);
    log.debug({ bytes: result.bytes.length, format: result.format }, 'downloaded');
    const downloaded: Job = { ...job, updatedAt: spool.now().toISOString(), source: sourceInfo(result) };
    delete downloaded.notBefore;
    // usually a thread is free soon: then the original never touches the disk
    control.progress?.(true);
    if (await this.deps.thumbnailSlots.acquireWithin(config.pool.spillAfterMs)) {
      control.progress?.(false);
      return this.thumbnail('incoming', downloaded, result.bytes, claim, log, signal);
    }
    control.progress?.(false);
    await spool.writer.write(spool.originalPath(job.country, job.hash), result.bytes);
    this.assertHeld(claim);
    await spool.transition('incoming', 'downloaded', downloaded);
    log.debug('every thread busy: original set down in downloaded/');
    return { kind: 'spilled' };
  }

  private async fromDownloaded(job: Job, claim: Claim, log: Logger, control: AttemptControl): Promise<Outcome> {
    const { config, spool } = this.deps;
    // not through a link, not from a FIFO, not past the download limit: the spool is writable by others
    const original = await readRegularBytes(spool.originalPath(job.country, job.hash), config.download.maxBytes);
    if ('refused' in original) throw new ImageSysError('original_missing', `original refused: ${original.refused}`);
    let bytes: Buffer;
    if ('bytes' in original) {
      bytes = original.bytes;
    } else {
      // the engine died after the original was removed: finished if the tree has the image, else fetch again
      const touched = await touchImage(config.tree, job.country, job.hash, spool.now());
      if (touched) {
        await this.finish('downloaded', job, claim, touched);
        return { kind: 'thumbed' };
      }
      await spool.requeue('downloaded', { ...job, updatedAt: spool.now().toISOString() });
      log.info('original missing: requeued for download');
      return { kind: 'retry', until: 0, code: 'original_missing' };
    }
    control.progress?.(true);
    await this.deps.thumbnailSlots.acquire();
    control.progress?.(false);
    return this.thumbnail('downloaded', job, bytes, claim, log, control.signal);
  }

  /**
   * Makes the thumbnails, writes them and the manifest, finishes. The caller has acquired a thumbnail
   * slot; it is released as soon as the pool is done, so that writing never keeps a thread idle.
   */
  private async thumbnail(from: 'incoming' | 'downloaded', job: Job, bytes: Buffer, claim: Claim, log: Logger, signal?: AbortSignal): Promise<Outcome> {
    const { config, spool, pool } = this.deps;
    const processing = processingFor(config, job.country, job.datasource);
    const sourceBytes = bytes.length;
    // the bytes are handed to a thread (transferred): what an operator needs to know of them is kept
    const head = bytes.subarray(0, 12).toString('hex');
    let digest: string;
    let result;
    const began = performance.now();
    try {
      digest = createHash('sha256').update(bytes).digest('hex');
      result = await abortable(pool.run({ input: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), sizes: processing.sizes, formats: processing.formats, process: processing.process, maxPixels: config.thumbnails.maxPixels }), signal);
    } catch (error) {
      this.observer.failed('thumbnail', signal?.aborted ? 'stuck' : asImageSysError(error).code, { seconds: (performance.now() - began) / 1000 });
      throw error;
    } finally {
      this.deps.thumbnailSlots.release();
    }
    const taskSeconds = (performance.now() - began) / 1000;
    if (!result.ok) {
      this.observer.failed('thumbnail', result.code, { seconds: taskSeconds });
      log.info({ code: result.code, from, bytes: sourceBytes, head }, 'the image could not be thumbnailed');
      throw new ImageSysError(result.code, result.message);
    }
    this.observer.done('thumbnail', { seconds: taskSeconds, bytesIn: sourceBytes, bytesOut: result.outputs.reduce((sum, o) => sum + o.data.byteLength, 0) });
    this.assertHeld(claim);
    const sizes: Manifest['sizes'] = result.outputs.map((output) => ({
      name: output.name,
      format: output.format,
      width: output.width,
      height: output.height,
      bytes: output.data.byteLength,
      path: sizeRelPath(job.country, job.hash, output.name, output.format),
    }));
    await this.treeWriter.writeAll(result.outputs.map((output, i) => ({ path: join(config.tree, sizes[i]!.path), data: output.data })));
    const manifest: Manifest = {
      version: 1,
      url: withoutCredentials(job.url), // the manifest goes to the frontends
      hash: job.hash,
      country: job.country,
      ...(job.datasource ? { datasource: job.datasource } : {}),
      sizes,
      source: {
        width: result.source.width,
        height: result.source.height,
        format: result.source.format,
        bytes: sourceBytes,
        ...(job.source?.etag ? { etag: job.source.etag } : {}),
        ...(job.source?.lastModified ? { lastModified: job.source.lastModified } : {}),
      },
      digest: `sha256:${digest}`,
      processing: processing.process,
      createdAt: spool.now().toISOString(),
    };
    this.assertHeld(claim);
    await this.treeWriter.write(manifestPath(config.tree, job.country, job.hash), `${JSON.stringify(manifest, null, 2)}\n`);
    await this.finish(from, job, claim);
    log.debug({ sizes: sizes.length }, 'thumbed');
    const made = { country: job.country, hash: job.hash, url: withoutCredentials(job.url), at: manifest.createdAt, sizes: sizes.map(({ name, path, width, height }) => ({ name, path, width, height })) };
    return { kind: 'thumbed', made };
  }

  /**
   * The image is safe in the tree: drop the original, move the job to thumbed/. The job is rewritten
   * only when it carries retry state; otherwise one rename (what the source said is in the manifest).
   */
  private async finish(from: State, job: Job, claim: Claim, previous?: Date): Promise<void> {
    const { spool } = this.deps;
    this.assertHeld(claim);
    await spool.expiry.record(job.country, job.hash, spool.now(), previous);
    if (from === 'downloaded') await spool.removeOriginal(job.country, job.hash);
    // an image made long ago and only refreshed now has surely been swept: the sweeper may skip it
    // (one made minutes ago may not have been, after a crash that undid its job's last move)
    const unchanged = previous !== undefined && spool.now().getTime() - previous.getTime() > UNCHANGED_AFTER_MS;
    if (job.attempts === 0 && !job.errorCode && !job.notBefore && !job.refresh && !unchanged) {
      // no directory sync: if a crash undoes this rename, the job is found again where it was and,
      // its manifest being durable in the tree, is finished again without any download
      await spool.writer.move(spool.jobPath(from, job.country, job.hash), spool.jobPath('thumbed', job.country, job.hash), { skipSync: true });
      return;
    }
    const done: Job = { ...job, attempts: 0, updatedAt: spool.now().toISOString() };
    if (unchanged) done.unchanged = true;
    else delete done.unchanged;
    delete done.notBefore;
    delete done.errorCode;
    delete done.error;
    delete done.refresh;
    await spool.transition(from, 'thumbed', done);
  }

  private async recordFailure(state: 'incoming' | 'downloaded', job: Job, error: ImageSysError, claim: Claim, log: Logger): Promise<Outcome> {
    const { config, spool } = this.deps;
    this.assertHeld(claim);
    const now = spool.now();
    const attempts = job.attempts + 1;
    if (error.retryable && attempts < config.retry.maxAttempts) {
      const delay = Math.max(backoffDelay(attempts, config.retry, this.deps.random), error.retryAfterMs ?? 0);
      const until = now.getTime() + delay;
      await spool.updateJob(state, withFailure(job, error, now, new Date(until)));
      log.info({ code: error.code, attempts, retryInMs: delay }, 'attempt failed, will retry');
      return { kind: 'retry', until, code: error.code };
    }
    await spool.removeOriginal(job.country, job.hash);
    await spool.transition(state, 'failed', withFailure(job, error, now));
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
    const { spool } = this.deps;
    const note = { errorCode: 'bad_job', error: reason, original: text.slice(0, 4096), updatedAt: spool.now().toISOString() };
    const target = join(spool.root, 'failed', country, fileName);
    await spool.writer.write(join(spool.root, state, country, fileName), `${JSON.stringify(note, null, 2)}\n`);
    await spool.writer.move(join(spool.root, state, country, fileName), target);
    this.deps.log.warn({ country, file: fileName, reason }, 'unreadable job set aside in failed/');
    return { kind: 'failed', code: 'bad_job' };
  }

  /** Files a misnamed job under `<hash>.job`; a duplicate of an existing job is dropped. */
  private async rename(state: State, country: string, fileName: string, job: Job): Promise<boolean> {
    const { spool } = this.deps;
    const claim = await spool.claimJob(country, job.hash);
    if (!claim) return false;
    try {
      const from = join(spool.root, state, country, fileName);
      const existing = await spool.findJob(country, job.hash);
      if (existing === 'failed' && state === 'incoming') {
        // `cp failed/uk/<hash>.job incoming/uk/again.job`: a retry by hand; the copy takes its place
        await unlink(spool.jobPath('failed', country, job.hash)).catch(() => {});
      } else if (existing) {
        await rename(from, join(spool.root, 'failed', country, `${fileName}.duplicate`)).catch(() => {});
        return false;
      }
      await spool.writer.write(from, encodeJob(job));
      await spool.writer.move(from, spool.jobPath(state, country, job.hash));
      // its new name has no line in the arrival log yet: without one it would wait for the log to empty
      if (state === 'incoming') await spool.arrivals.append(country, [arrivalOf(job)]);
      return true;
    } finally {
      await claim.release();
    }
  }

  private assertHeld(claim: Claim): void {
    if (claim.lost) throw new ClaimLost();
  }
}

/**
 * Stops waiting for a thumbnail task once the engine aborts the job (stuck). The task itself is not
 * cancelled: piscina runs an abortable task alone on its thread, which would halve the throughput
 * that two tasks per thread give; a task that really hangs keeps its thread busy until a restart.
 */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

async function ageOf(path: string, now: Date): Promise<number> {
  try {
    return now.getTime() - (await lstat(path)).mtimeMs;
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

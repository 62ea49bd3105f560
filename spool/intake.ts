import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ImageSysError } from '../engine/errors.js';
import { hashOfText } from '../engine/hash.js';
import { touchImage } from '../engine/tree.js';
import { isMissing } from './atomic.js';
import { newJob, parseBatchLine, withFailure, type Job, type NewJobInput } from './job.js';
import { stateDir } from './layout.js';
import type { Spool } from './spool.js';

/** `busy`: someone holds the job's claim, so whether it exists cannot be known now: ask again later. */
export type EnqueueOutcome = 'queued' | 'duplicate' | 'in_tree' | 'invalid' | 'busy';

export interface EnqueueResult {
  outcome: EnqueueOutcome;
  job?: Job;
}

/**
 * Turns one URL into one job, unless the spool already has a job for it (in any state) or the tree
 * already has its thumbnails (then they are touched so purge keeps them). Under the job's claim, so
 * two engines or an engine and `imagesys enqueue` never make the same job twice.
 */
export async function enqueueUrl(spool: Spool, tree: string, input: NewJobInput, options: { skipDirSync?: boolean } = {}): Promise<EnqueueResult> {
  const now = spool.now();
  let job: Job;
  try {
    job = newJob(input, now);
  } catch (error) {
    if (!(error instanceof ImageSysError)) throw error;
    return (await recordInvalid(spool, input, error)) ? { outcome: 'invalid' } : { outcome: 'duplicate' };
  }
  // held by a processor (the job exists) or by an intake that died making it (it may not): unknown
  const claim = await spool.claimJob(job.country, job.hash);
  if (!claim) return { outcome: 'busy' };
  try {
    const existing = await spool.findJob(job.country, job.hash);
    if (existing === 'thumbed') {
      if (!job.refresh && (await touched(spool, tree, job, now))) return { outcome: 'in_tree' };
      // asked to refresh, or its files are gone from the tree (purged): make it again, keeping the
      // stored validators for a conditional GET
      const previous = await spool.readJob('thumbed', job.country, job.hash);
      const again: Job = { ...(previous ?? job), attempts: 0, updatedAt: now.toISOString() };
      if (job.refresh) again.refresh = true;
      await spool.transition('thumbed', 'incoming', again);
      return { outcome: 'queued', job: again };
    }
    if (existing) return { outcome: 'duplicate' };
    if (!job.refresh && (await touched(spool, tree, job, now))) return { outcome: 'in_tree' };
    await spool.writeJob('incoming', job, options);
    return { outcome: 'queued', job };
  } finally {
    await claim.release();
  }
}

/** Refreshes an image already in the tree, and records that in the expiry index. */
async function touched(spool: Spool, tree: string, job: Job, now: Date): Promise<boolean> {
  const previous = await touchImage(tree, job.country, job.hash, now);
  if (!previous) return false;
  await spool.expiry.record(job.country, job.hash, now, previous);
  return true;
}

/**
 * A line that is not a usable URL still leaves a trace where operators look: a failed job, named by
 * the hash of the raw text. False when that trace exists already.
 */
async function recordInvalid(spool: Spool, input: NewJobInput, error: ImageSysError): Promise<boolean> {
  const at = spool.now().toISOString();
  const hash = hashOfText(input.url.trim());
  if (await spool.findJob(input.country, hash)) return false;
  const job: Job = { url: input.url.trim(), hash, country: input.country, attempts: 0, createdAt: at, updatedAt: at };
  if (input.datasource) job.datasource = input.datasource;
  await spool.writeJob('failed', withFailure(job, error, spool.now()));
  return true;
}

/** URLs of one batch enqueued at once. */
const INTAKE_CONCURRENCY = 16;

export interface BatchResult {
  counts: Record<EnqueueOutcome, number>;
  /**
   * False when the batch grew while it was read, or a URL's job was busy: it is left in place and
   * read again later (what was made the first time is then a duplicate).
   */
  removed: boolean;
}

/**
 * Reads a batch `incoming/<country>/<name>.urls` line by line into jobs, then removes it. A crash in
 * between re-reads the batch on restart; jobs made the first time are then duplicates, so none is
 * lost or doubled. `onQueued` hears of each new job (and may make the reading wait). Undefined when another engine holds the batch or
 * it is gone.
 */
export async function ingestBatch(spool: Spool, tree: string, country: string, name: string, onQueued: (job: Job) => Promise<void> | void = () => {}): Promise<BatchResult | undefined> {
  const claim = await spool.claimBatch(country, name);
  if (!claim) return undefined;
  try {
    const path = join(stateDir(spool.root, 'incoming', country), name);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const result: BatchResult = { counts: { queued: 0, duplicate: 0, in_tree: 0, invalid: 0, busy: 0 }, removed: false };
    // read only what was there when we looked: a writer still appending is caught by the size check
    const input = createReadStream(path, { encoding: 'utf8', start: 0, end: Math.max(0, size - 1) });
    const lines = createInterface({ input, crlfDelay: Infinity });
    // URLs are enqueued INTAKE_CONCURRENCY at a time (each is a few syscalls and an fsync); the
    // directory is synced once, before the batch is removed
    const inFlight = new Set<Promise<void>>();
    // a busy URL is asked again once the others are done: the same URL twice in a batch meets its
    // own claim; a claim left by a dead intake is not stale yet, and then the batch stays
    const busyLines: string[] = [];
    const take = async (line: string, lastTry = false): Promise<void> => {
      const parsed = parseBatchLine(line);
      if (!parsed) return;
      const outcome = await enqueueUrl(spool, tree, { ...parsed, country }, { skipDirSync: true });
      if (outcome.outcome === 'busy' && !lastTry) {
        busyLines.push(line);
        return;
      }
      result.counts[outcome.outcome]++;
      if (outcome.job) await onQueued(outcome.job);
    };
    const start = async (line: string): Promise<void> => {
      const task: Promise<void> = take(line).finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= INTAKE_CONCURRENCY) await Promise.race(inFlight);
    };
    // the last line waits until we know the file is complete: it may be a URL cut in half
    let last: string | undefined;
    try {
      for await (const line of size > 0 ? lines : []) {
        if (last !== undefined) await start(last);
        last = line;
      }
    } finally {
      lines.close();
      input.destroy();
      await Promise.all(inFlight);
    }
    if ((await stat(path)).size === size && last !== undefined) await take(last);
    for (const line of busyLines.splice(0)) await take(line, true);
    await spool.writer.syncDir(stateDir(spool.root, 'incoming', country));
    if ((await stat(path)).size !== size) return result; // it grew: read again once it settles
    if (result.counts.busy > 0) return result; // a claim held by someone (perhaps a dead engine): read again
    await unlink(path).catch((error) => {
      if (!isMissing(error)) throw error;
    });
    result.removed = true;
    return result;
  } finally {
    await claim.release();
  }
}

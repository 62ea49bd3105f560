import { lstat, unlink } from 'node:fs/promises';
import { ImageSysError } from '../engine/core/errors.js';
import { hashOfText, withoutCredentials } from '../engine/core/hash.js';
import { isMissing } from './atomic.js';
import { boundedLines, type BatchLine } from './batch-lines.js';
import { checkJobInput, newJob, parseBatchLine, STRICT_INTAKE, withFailure, type IntakePolicy, type Job, type NewJobInput } from './job.js';
import { entryPath, stateDir } from './layout.js';
import { reopen } from './transitions.js';
import { LIMITS, nameProblem } from './limits.js';
import { openRegular } from './safe-open.js';
import { setAside } from './set-aside.js';
import type { Spool } from './spool.js';

/**
 * `busy`: someone holds the job's claim, so whether it exists cannot be known now: ask again later.
 * `invalid`: not usable, recorded as a failed job now; `invalid_again`: not usable, recorded before.
 */
export type EnqueueOutcome = 'queued' | 'duplicate' | 'in_tree' | 'invalid' | 'invalid_again' | 'busy';

export interface EnqueueResult {
  outcome: EnqueueOutcome;
  job?: Job;
}

/**
 * What intake needs of the tree, passed in by the caller (the tree's `treeToucher`) so that spool/
 * does not depend on the tree: an image already there is refreshed (purge keeps it), not made again.
 */
export interface ImageToucher {
  /** Refreshes the image's files; their mtime before, or undefined when the image is not (whole) in the tree. */
  touch(country: string, hash: string, now: Date): Promise<Date | undefined>;
}

/**
 * Turns one URL into one job, unless the spool already has a job for it (in any state) or the tree
 * already has its thumbnails (then they are touched so purge keeps them). Under the job's claim, so
 * two engines or an engine and `imagesys enqueue` never make the same job twice.
 */
export async function enqueueUrl(spool: Spool, tree: ImageToucher, input: NewJobInput, options: { skipDirSync?: boolean; policy?: IntakePolicy } = {}): Promise<EnqueueResult> {
  const now = spool.now();
  let job: Job;
  try {
    checkJobInput(input, options.policy ?? STRICT_INTAKE);
    job = newJob(input, now);
  } catch (error) {
    if (!(error instanceof ImageSysError)) throw error;
    return { outcome: (await recordInvalid(spool, input, error)) ? 'invalid' : 'invalid_again' };
  }
  // held by a processor (the job exists) or by an intake that died making it (it may not): unknown
  const claim = await spool.claimJob(job.country, job.hash);
  if (!claim) return { outcome: 'busy' };
  let queued = false;
  try {
    const existing = await spool.findJob(job.country, job.hash);
    if (existing === 'thumbed') {
      if (!job.refresh && (await touched(spool, tree, job, now))) return { outcome: 'in_tree' };
      // asked to refresh, or its files are gone from the tree (purged): make it again, keeping the
      // stored validators for a conditional GET
      const previous = await spool.readJob('thumbed', job.country, job.hash);
      const again: Job = { ...(previous ?? job), attempts: 0, updatedAt: now.toISOString() };
      if (job.refresh) again.refresh = true;
      await reopen(spool, again);
      queued = true;
      return { outcome: 'queued', job: again };
    }
    if (existing) return { outcome: 'duplicate' };
    if (!job.refresh && (await touched(spool, tree, job, now))) return { outcome: 'in_tree' };
    await spool.writeJob('incoming', job, options);
    queued = true;
    return { outcome: 'queued', job };
  } finally {
    // a job just made is usually worked on within seconds: its claim waits for that (when the spool parks)
    if (queued) await spool.claims.park(claim);
    else await claim.release();
  }
}

/** Refreshes an image already in the tree, and records that in the expiry index. */
async function touched(spool: Spool, tree: ImageToucher, job: Job, now: Date): Promise<boolean> {
  const previous = await tree.touch(job.country, job.hash, now);
  if (!previous) return false;
  await spool.expiry.record(job.country, job.hash, now, previous);
  return true;
}

/**
 * A line that is not a usable URL still leaves a trace where operators look: a failed job, named by
 * the hash of the raw text (`identity` when the text itself was too long to keep), showing at most
 * the first characters of the text and never its credentials. False when that trace exists already.
 */
async function recordInvalid(spool: Spool, input: NewJobInput, error: ImageSysError, identity = lineOf(input)): Promise<boolean> {
  const at = spool.now().toISOString();
  const hash = hashOfText(identity);
  if (await spool.findJob(input.country, hash)) return false;
  const text = input.url.trim();
  const shown = withoutCredentials(text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}...` : text);
  const job: Job = { url: shown, hash, country: input.country, attempts: 0, createdAt: at, updatedAt: at };
  if (input.datasource && input.datasource.length <= LIMITS.datasourceLength) job.datasource = input.datasource;
  await spool.writeJob('failed', withFailure(job, error, spool.now()));
  return true;
}

/** The text a batch line had: what names an invalid one. */
function lineOf(input: NewJobInput): string {
  return input.datasource === undefined ? input.url.trim() : `${input.url.trim()}\t${input.datasource}`;
}

/** Characters of an invalid line kept in its failed job. */
const SHOWN_CHARS = 200;

/** A batch line too long to be a URL becomes one failed job that names it by its start and length. */
async function recordTooLong(spool: Spool, country: string, line: Extract<BatchLine, { tooLong: number }>): Promise<boolean> {
  const error = new ImageSysError('invalid_url', `a line of ${line.tooLong} bytes is longer than the ${LIMITS.batchLineBytes} allowed for a batch line`);
  return recordInvalid(spool, { url: line.prefix, country }, error, `${line.prefix}\0${line.tooLong}`);
}

/** URLs of one batch enqueued at once. */
const INTAKE_CONCURRENCY = 16;

export interface BatchResult {
  counts: Record<EnqueueOutcome, number>;
  /** Set when the batch was not read but set aside in failed/ (a FIFO, a link, a name too long): why. */
  refused?: string;
  /**
   * False when the batch grew while it was read, or a URL's job was busy: it is left in place and
   * read again later (what was made the first time is then a duplicate).
   */
  removed: boolean;
}

export const noCounts = (): Record<EnqueueOutcome, number> => ({ queued: 0, duplicate: 0, in_tree: 0, invalid: 0, invalid_again: 0, busy: 0 });

/**
 * Reads a batch `incoming/<country>/<name>.urls` line by line into jobs, then removes it. A crash in
 * between re-reads the batch on restart; jobs made the first time are then duplicates, so none is
 * lost or doubled. `onQueued` hears of each new job (and may make the reading wait). Undefined when
 * another engine holds the batch or it is gone. Only a regular file is read, never through a link,
 * and no line is held past LIMITS.batchLineBytes: anything else is set aside in failed/ with its reason.
 */
export async function ingestBatch(spool: Spool, toucher: ImageToucher, country: string, name: string, onQueued: (job: Job) => Promise<void> | void = () => {}, policy: IntakePolicy = STRICT_INTAKE): Promise<BatchResult | undefined> {
  const path = entryPath(spool.root, 'incoming', country, name);
  const badName = nameProblem(name);
  if (badName) return refuse(spool, country, name, badName);
  const claim = await spool.claimBatch(country, name);
  if (!claim) return undefined;
  try {
    const opened = await openRegular(path);
    if ('missing' in opened) return undefined;
    if ('refused' in opened) return await refuse(spool, country, name, `batch refused: ${opened.refused}`);
    const { handle, size } = opened;
    const result: BatchResult = { counts: noCounts(), removed: false };
    // read only what was there when we looked: a writer still appending is caught by the size check
    const input = handle.createReadStream({ start: 0, end: Math.max(0, size - 1), autoClose: false });
    const lines = boundedLines(input, LIMITS.batchLineBytes);
    // URLs are enqueued INTAKE_CONCURRENCY at a time (each is a few syscalls and an fsync); the
    // directory is synced once, before the batch is removed
    const inFlight = new Set<Promise<void>>();
    // a busy URL is asked again once the others are done: the same URL twice in a batch meets its
    // own claim; a claim left by a dead intake is not stale yet, and then the batch stays
    const busyLines: BatchLine[] = [];
    const take = async (item: BatchLine, lastTry = false): Promise<void> => {
      if ('tooLong' in item) {
        result.counts[(await recordTooLong(spool, country, item)) ? 'invalid' : 'invalid_again']++;
        return;
      }
      const parsed = parseBatchLine(item.line);
      if (!parsed) return;
      const outcome = await enqueueUrl(spool, toucher, { ...parsed, country }, { skipDirSync: true, policy });
      if (outcome.outcome === 'busy' && !lastTry) {
        busyLines.push(item);
        return;
      }
      result.counts[outcome.outcome]++;
      if (outcome.job) await onQueued(outcome.job);
    };
    const start = async (item: BatchLine): Promise<void> => {
      const task: Promise<void> = take(item).finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= INTAKE_CONCURRENCY) await Promise.race(inFlight);
    };
    // the last line waits until we know the file is complete: it may be a URL cut in half
    let last: BatchLine | undefined;
    try {
      for await (const line of size > 0 ? lines : []) {
        if (last !== undefined) await start(last);
        last = line;
      }
    } finally {
      input.destroy();
      await handle.close().catch(() => {});
      await Promise.all(inFlight);
    }
    if ((await sizeOf(path)) === size && last !== undefined) await take(last);
    for (const line of busyLines.splice(0)) await take(line, true);
    await spool.writer.syncDir(stateDir(spool.root, 'incoming', country));
    if ((await sizeOf(path)) !== size) return result; // it grew: read again once it settles
    if (result.counts.busy > 0) return result; // a claim held by someone (perhaps a dead engine): read again
    await unlink(path).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
    result.removed = true;
    return result;
  } finally {
    await claim.release();
  }
}

/** The size of what is at `path` now, not following a link (undefined when gone). */
async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await lstat(path)).size;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** A batch that is not read is set aside in failed/ with its reason, so it is neither lost nor read again and again. */
async function refuse(spool: Spool, country: string, name: string, reason: string): Promise<BatchResult | undefined> {
  const where = await setAside(spool, 'incoming', country, name, reason);
  if (!where) return undefined; // someone else moved it first
  return { counts: noCounts(), removed: true, refused: reason };
}

/**
 * The spool's state machine: every move of a job between states, each written once. A move is the job
 * rewritten in place (only if it is still there) and then one rename (Spool.transition), or the rename
 * alone when the job has nothing to record; a crash leaves the job, whole, in one state or the other. Whoever calls these holds the job's claim;
 * a step that cannot be undone checks the claim first, with the file system (verifyHeld: fencing, so
 * that a holder whose claim was taken over anyway lets the job go instead of giving it a second outcome).
 *
 *   incoming --toDownloaded--> downloaded      every thread busy: the original is set down beside it
 *   incoming|downloaded --toThumbed--> thumbed its image is safe in the tree
 *   incoming|downloaded --toFailed--> failed   with its error code and reason
 *   incoming|downloaded --retryLater           stays, with the time it is due again
 *   downloaded|failed --requeue--> incoming    with its line at the end of the arrival log
 *   thumbed --reopen--> incoming               asked for again (a refresh, its files purged)
 *   thumbed --release--> gone                  every target has its image
 *   incoming|downloaded|failed --discard--> gone   no longer wanted (a canary after its check)
 */
import { lstat, rename, unlink } from 'node:fs/promises';
import type { ImageSysError } from '../engine/core/errors.js';
import { isMissing } from './atomic.js';
import { verifyHeld, type Claim } from './claims.js';
import { arrivalOf, encodeJob, restsAsIs, withFailure, withSuccess, type Job } from './job.js';
import { entryPath, originalPath, type State } from './layout.js';
import { REASON_SUFFIX } from './set-aside.js';
import type { Spool } from './spool.js';

/** Where a job can be worked on from. */
export type WorkState = 'incoming' | 'downloaded';

/** A refresh of an image last written longer ago than this needs no sync. */
export const UNCHANGED_AFTER_MS = 60 * 60 * 1000;

/** Records that a job is (again) in incoming/: its line in the arrival log, so it is worked on in its turn. */
export async function announce(spool: Spool, job: Job): Promise<void> {
  await spool.arrivals.append(job.country, [arrivalOf(job)]);
}

/** incoming -> downloaded: the original first (whole, fsynced), then the job, which now says what the source sent. The caller gives `original` up. */
export async function toDownloaded(spool: Spool, job: Job, original: Uint8Array, claim: Claim): Promise<void> {
  await verifyHeld(claim);
  // handed over: an original of tens of MB is not copied to the write thread (the caller is done with it)
  await spool.writer.write(spool.originalPath(job.country, job.hash), original, { handOver: true });
  await verifyHeld(claim);
  await spool.transition('incoming', 'downloaded', job);
}

/**
 * The image is safe in the tree: record it in the expiry index, drop the original, move the job to
 * thumbed/. `previous`: the image was in the tree already, its files last written then. The job is
 * rewritten only when it carries retry state; otherwise one rename (what the source said is in the
 * manifest).
 */
export async function toThumbed(spool: Spool, from: WorkState, job: Job, claim: Claim, previous?: Date): Promise<void> {
  await verifyHeld(claim);
  const now = spool.now();
  await spool.expiry.record(job.country, job.hash, now, previous);
  if (from === 'downloaded') await spool.removeOriginal(job.country, job.hash);
  // an image made long ago and only refreshed now has surely been swept: the sweeper may skip it
  // (one made minutes ago may not have been, after a crash that undid its job's last move)
  const unchanged = previous !== undefined && now.getTime() - previous.getTime() > UNCHANGED_AFTER_MS;
  if (restsAsIs(job, unchanged)) {
    // no directory sync: if a crash undoes this rename, the job is found again where it was and,
    // its manifest being durable in the tree, is finished again without any download
    await spool.writer.move(spool.jobPath(from, job.country, job.hash), spool.jobPath('thumbed', job.country, job.hash), { skipSync: true });
    return;
  }
  await spool.transition(from, 'thumbed', withSuccess(job, now, unchanged));
}

/**
 * An image whose manifest changed outside a job (its class: the classifier's or an operator's): a job
 * for it in thumbed/, so that the sweeper sends it to the frontends again. Under the image's claim.
 * Nothing when a job of it exists already: in work, it is sent when done; in thumbed/, it waits to be.
 */
export async function toResend(spool: Spool, job: Job, claim: Claim): Promise<boolean> {
  await verifyHeld(claim);
  if ((await spool.findJob(job.country, job.hash)) !== undefined) return false;
  await spool.writeJob('thumbed', job);
  return true;
}

/** Failed for good: the original goes, the job moves to failed/ carrying its error code and reason. */
export async function toFailed(spool: Spool, from: WorkState, job: Job, error: Pick<ImageSysError, 'code' | 'message'>, claim: Claim): Promise<Job> {
  await verifyHeld(claim);
  const failed = withFailure(job, error, spool.now());
  await spool.removeOriginal(job.country, job.hash);
  await spool.transition(from, 'failed', failed);
  return failed;
}

/** An attempt failed and another may cure it: the job stays where it is, due again at `until`. */
export async function retryLater(spool: Spool, state: WorkState, job: Job, error: Pick<ImageSysError, 'code' | 'message'>, until: number, claim: Claim): Promise<Job> {
  await verifyHeld(claim);
  const waiting = withFailure(job, error, spool.now(), new Date(until));
  await spool.updateJob(state, waiting);
  return waiting;
}

/**
 * Back to incoming/ (a retry, an original gone) with its line at the end of the arrival log, so that
 * it is worked on in its turn, its host known.
 */
export async function requeue(spool: Spool, from: Exclude<State, 'incoming' | 'thumbed'>, job: Job, claim: Claim): Promise<void> {
  await verifyHeld(claim);
  await spool.transition(from, 'incoming', job);
  await announce(spool, job);
}

/**
 * A thumbed job is asked for again (a refresh, or its files purged from the tree): back to incoming/.
 * The intake that reopens it hands it to its engine itself, so no arrival line is written.
 */
export async function reopen(spool: Spool, job: Job): Promise<void> {
  await spool.transition('thumbed', 'incoming', job);
}

/**
 * A thumbed job leaves the spool: every target has its image. Under its claim (an engine may be
 * reopening it), and only while it is still the version that was delivered (`ino`, the inode of the
 * link the sweeper made): a new version waits to be delivered in its turn.
 */
export async function release(spool: Spool, country: string, hash: string, ino: number): Promise<'released' | 'busy' | 'changed'> {
  const claim = await spool.claimJob(country, hash);
  if (!claim) return 'busy';
  try {
    const path = spool.jobPath('thumbed', country, hash);
    const now = await lstat(path).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    if (now?.ino !== ino) return 'changed';
    // one that cannot be removed now (a read-only spool) is handed out again by the next sweep
    await unlink(path).catch(() => {});
    return 'released';
  } finally {
    await claim.release();
  }
}

/**
 * A job no longer wanted (a canary after its check) leaves the spool from every state but thumbed/
 * (which the sweeper releases), with its original and its reason. The caller holds its claim.
 */
export async function discard(spool: Spool, country: string, hash: string, claim: Claim): Promise<void> {
  await verifyHeld(claim);
  const paths = [...(['incoming', 'downloaded', 'failed'] as const).map((state) => spool.jobPath(state, country, hash)), originalPath(spool.root, country, hash), entryPath(spool.root, 'failed', country, `${hash}${REASON_SUFFIX}`)];
  for (const path of paths) {
    await unlink(path).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }
}

/** How filing a misnamed job went; `problem`: something that could not be done, for the log. */
export interface Refiled {
  refiled: boolean;
  problem?: string;
}

/**
 * Files a job found under another name (hand-written, copied) under `<hash>.job`, under its claim. A
 * copy of a job that exists already is kept aside as `failed/<cc>/<name>.duplicate`; a copy of a
 * failed job in incoming/ is a retry by hand and takes the failed job's place. A job filed into
 * incoming/ gets its arrival line.
 */
export async function refileMisnamed(spool: Spool, state: State, country: string, fileName: string, job: Job): Promise<Refiled> {
  const claim = await spool.claimJob(country, job.hash);
  if (!claim) return { refiled: false };
  try {
    const from = entryPath(spool.root, state, country, fileName);
    const existing = await spool.findJob(country, job.hash);
    let problem: string | undefined;
    if (existing === 'failed' && state === 'incoming') {
      // `cp failed/uk/<hash>.job incoming/uk/again.job`: a retry by hand; the copy takes its place
      problem = await unlink(spool.jobPath('failed', country, job.hash)).then(
        () => undefined,
        (error: unknown) => (isMissing(error) ? undefined : `the failed job it retries stays in failed/ too: ${(error as Error).message}`),
      );
    } else if (existing) {
      const aside = entryPath(spool.root, 'failed', country, `${fileName}.duplicate`);
      problem = await rename(from, aside).then(
        () => undefined,
        // gone meanwhile is what we wanted; anything else leaves the copy where it is, to be met again
        (error: unknown) => (isMissing(error) ? undefined : `a duplicate of ${existing}/${job.hash}.job could not be set aside, it stays as ${state}/${country}/${fileName}: ${(error as Error).message}`),
      );
      return problem === undefined ? { refiled: false } : { refiled: false, problem };
    }
    await spool.writer.write(from, encodeJob(job));
    await spool.writer.move(from, spool.jobPath(state, country, job.hash));
    // its new name has no line in the arrival log yet: without one it would wait for the log to empty
    if (state === 'incoming') await announce(spool, job);
    return problem === undefined ? { refiled: true } : { refiled: true, problem };
  } finally {
    await claim.release();
  }
}

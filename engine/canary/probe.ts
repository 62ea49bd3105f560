/**
 * One look at where a canary is: its batch in incoming/, its job in whichever state holds it, its
 * manifest in the local tree, and each target it has not reached yet, listed with rsync itself (what
 * the sweeper would have had to send, not what it says it sent). A target is listed only once a sweep
 * of it has finished since it was last listed (its status file, spool/.sweep/.status/, is newer): an
 * rsync is a fork of the whole daemon, and between two sweeps nothing can have arrived.
 */
import { stat } from 'node:fs/promises';
import type { SweepTarget } from '../config/targets.js';
import { entryPath, type State } from '../../spool/layout.js';
import type { Spool } from '../../spool/spool.js';
import { canaryBatchName } from '../core/canary-path.js';
import { manifestRelPath, readManifest } from '../tree/tree.js';
import { listArgs, RSYNC_PARTIAL, rsyncReason, type RsyncOptions } from '../sweep/rsync.js';
import type { RsyncLister } from './lister.js';
import { readTargetRecord } from '../sweep/target-status.js';
import { targetStatusPath } from '../../spool/sweep-layout.js';
import type { CanaryRecord, Sighting } from './record.js';
import { servedAt } from './store.js';

export interface ProbeContext {
  spool: string;
  /** The spool's job reader (the same codec as the engine's). */
  jobs: Spool;
  tree: string;
  rsync: RsyncOptions;
  /** Where the listings run (a shell kept for them: lister.ts). */
  lister: RsyncLister;
}

/** The states in the order a job goes through them, the last first: a look between two moves finds it in one. */
const JOB_STATES: readonly State[] = ['thumbed', 'downloaded', 'incoming', 'failed'];

async function findJob(jobs: Spool, record: CanaryRecord): Promise<Sighting['job']> {
  for (const state of JOB_STATES) {
    // one being replaced reads as missing or corrupt: the next look sees it
    const job = await jobs.readJob(state, record.country, record.hash).catch(() => undefined);
    if (job) return { state, createdAt: job.createdAt, downloaded: job.source !== undefined, ...(job.error !== undefined ? { error: job.error } : {}) };
  }
  return undefined;
}

/** When a sweep of `target` last finished (its status file's mtime), if one ever did. */
async function lastSweepOf(spool: string, target: string): Promise<number | undefined> {
  return stat(targetStatusPath(spool, target)).then((s) => s.mtimeMs, () => undefined);
}

/** The file system's clock and this host's may differ by this much: a sweep this close before the manifest may have sent it. */
const CLOCK_SLACK_MS = 2_000;

/** A target's last listing for one canary: the sweep it followed (its status file's mtime) and why the canary was not there. */
export interface Listing {
  swept: number;
  why: string;
}

/** Whether the canary's manifest is on `target`: rsync lists it, or says why it cannot. `listed`: the last listing per target. */
async function onTarget(context: ProbeContext, target: SweepTarget, record: CanaryRecord, madeAt: string, listed: Map<string, Listing>): Promise<{ found: boolean; why?: string }> {
  const swept = await lastSweepOf(context.spool, target.name);
  const last = listed.get(target.name);
  if (swept === undefined || swept <= (last?.swept ?? Date.parse(madeAt) - CLOCK_SLACK_MS)) {
    return { found: false, why: last?.why ?? `no sweep of ${target.name} finished since the canary was made (is imagesys sweep in cron?)` };
  }
  const found = await listOn(context, target, record);
  if (!found.found) listed.set(target.name, { swept, why: found.why ?? 'not found there' });
  return found;
}

async function listOn(context: ProbeContext, target: SweepTarget, record: CanaryRecord): Promise<{ found: boolean; why?: string }> {
  const rel = manifestRelPath(record.country, record.hash);
  const watchdogMs = (context.rsync.timeoutSeconds + context.rsync.connectTimeoutSeconds) * 1000 + 10_000;
  const result = await context.lister.run(context.rsync.rsync, listArgs(target, rel, context.rsync), watchdogMs);
  if (result.code === 0 && result.stdout.includes(`${record.hash}.json`)) return { found: true };
  const sweep = await readTargetRecord(context.spool, target.name);
  const lastSweep = sweep?.lastError ? `; the last sweep: ${sweep.lastError}` : '';
  if (result.code === RSYNC_PARTIAL || result.code === 0) return { found: false, why: `not there yet${lastSweep}` };
  return { found: false, why: `rsync could not list it: ${rsyncReason(result)}${lastSweep}` };
}

/**
 * Where the canary is now; the targets in `pending` are listed once it is in the local tree and a sweep
 * of theirs has finished since their last listing (`listed`, kept by the caller per canary, is updated).
 */
export async function probe(context: ProbeContext, record: CanaryRecord, pending: readonly SweepTarget[], listed: Map<string, Listing>): Promise<Sighting> {
  const batch = entryPath(context.spool, 'incoming', record.country, canaryBatchName(record.id));
  const [batchWaiting, job, served, manifest] = await Promise.all([
    stat(batch).then(() => true, () => false),
    findJob(context.jobs, record),
    servedAt(context.spool, record.slot),
    readManifest(context.tree, record.country, record.hash).catch(() => undefined),
  ]);
  const targets: Sighting['targets'] = {};
  if (manifest) {
    const found = await Promise.all(pending.map((target) => onTarget(context, target, record, manifest.createdAt, listed)));
    pending.forEach((target, i) => (targets[target.name] = found[i]!));
  }
  return { batchWaiting, ...(job ? { job } : {}), ...(served ? { servedAt: served } : {}), ...(manifest ? { madeAt: manifest.createdAt } : {}), targets };
}

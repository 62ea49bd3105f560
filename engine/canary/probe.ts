/**
 * One look at where a canary is: its batch in incoming/, its job in whichever state holds it, its
 * manifest in the local tree, and each target it has not reached yet, listed with rsync itself (what
 * the sweeper would have had to send, not what it says it sent).
 */
import { stat } from 'node:fs/promises';
import type { SweepTarget } from '../config/targets.js';
import { entryPath, jobPath, type State } from '../../spool/layout.js';
import { canaryBatchName } from '../core/canary-path.js';
import { readOwnText } from '../../spool/safe-open.js';
import { manifestRelPath, readManifest } from '../tree/tree.js';
import { listArgs, RSYNC_PARTIAL, rsyncReason, runRsync, type RsyncOptions } from '../sweep/rsync.js';
import { readTargetRecord } from '../sweep/target-status.js';
import type { CanaryRecord, Sighting } from './record.js';
import { servedAt } from './store.js';

export interface ProbeContext {
  spool: string;
  tree: string;
  rsync: RsyncOptions;
}

/** The states in the order a job goes through them, the last first: a look between two moves finds it in one. */
const JOB_STATES: readonly State[] = ['thumbed', 'downloaded', 'incoming', 'failed'];

async function findJob(spool: string, record: CanaryRecord): Promise<Sighting['job']> {
  for (const state of JOB_STATES) {
    const text = await readOwnText(jobPath(spool, state, record.country, record.hash)).catch(() => undefined);
    if (text === undefined) continue;
    try {
      const job = JSON.parse(text) as { createdAt?: unknown; error?: unknown; source?: unknown };
      if (typeof job.createdAt !== 'string') continue;
      return { state, createdAt: job.createdAt, downloaded: job.source !== undefined, ...(typeof job.error === 'string' ? { error: job.error } : {}) };
    } catch {
      continue; // being replaced: the next look sees it
    }
  }
  return undefined;
}

/** Whether the canary's manifest is on `target`: rsync lists it, or says why it cannot. */
async function onTarget(context: ProbeContext, target: SweepTarget, record: CanaryRecord): Promise<{ found: boolean; why?: string }> {
  const rel = manifestRelPath(record.country, record.hash);
  const watchdogMs = (context.rsync.timeoutSeconds + context.rsync.connectTimeoutSeconds) * 1000 + 10_000;
  const result = await runRsync(context.rsync.rsync, listArgs(target, rel, context.rsync), watchdogMs);
  if (result.code === 0 && result.stdout.includes(`${record.hash}.json`)) return { found: true };
  const sweep = await readTargetRecord(context.spool, target.name);
  const lastSweep = sweep?.lastError ? `; the last sweep: ${sweep.lastError}` : '';
  if (result.code === RSYNC_PARTIAL || result.code === 0) return { found: false, why: `not there yet${lastSweep}` };
  return { found: false, why: `rsync could not list it: ${rsyncReason(result)}${lastSweep}` };
}

/** Where the canary is now; the targets in `pending` are listed once it is in the local tree. */
export async function probe(context: ProbeContext, record: CanaryRecord, pending: readonly SweepTarget[]): Promise<Sighting> {
  const batch = entryPath(context.spool, 'incoming', record.country, canaryBatchName(record.id));
  const [batchWaiting, job, served, manifest] = await Promise.all([
    stat(batch).then(() => true, () => false),
    findJob(context.spool, record),
    servedAt(context.spool, record.slot),
    readManifest(context.tree, record.country, record.hash).catch(() => undefined),
  ]);
  const targets: Sighting['targets'] = {};
  if (manifest) {
    const found = await Promise.all(pending.map((target) => onTarget(context, target, record)));
    pending.forEach((target, i) => (targets[target.name] = found[i]!));
  }
  return { batchWaiting, ...(job ? { job } : {}), ...(served ? { servedAt: served } : {}), ...(manifest ? { madeAt: manifest.createdAt } : {}), targets };
}

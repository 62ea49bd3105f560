/**
 * A canary's record (`<spool>/.canary/<slot>.json`) and what follows from it: where the canary got
 * to, whether it is decided, its timings, and the last canary per target. Pure: the spool, the tree
 * and the targets are looked at by probe.ts, and the record is kept by store.ts.
 */
import type { State } from '../../spool/layout.js';

/** Where a canary can stop: its batch not read, its download, its thumbnails, the sweeper's send. */
export const CANARY_STAGES = ['intake', 'download', 'thumbnail', 'sync'] as const;
export type CanaryStage = (typeof CANARY_STAGES)[number];

/** The local tree, which a canary reaches before any target: a failure before the sync is its. */
export const LOCAL_TARGET = 'local';

export { CANARY_DATASOURCE } from '../core/image-class.js';

export interface CanaryFailure {
  stage: CanaryStage;
  target: string;
  reason: string;
}

export interface CanaryRecord {
  version: 1;
  /** The interval it was sent for: floor(dropped time / interval); one canary per slot, whoever sends it. */
  slot: number;
  /** 16 hex digits: names its image and its URL, so that it is never in the tree already. */
  id: string;
  url: string;
  hash: string;
  country: string;
  /** The engine that sent it (`host~pid`), which checks it. */
  by: string;
  droppedAt: string;
  deadlineAt: string;
  /** When intake made its job (the job's createdAt). */
  queuedAt?: string;
  /** When a daemon's server first served its picture: the download's end. */
  servedAt?: string;
  /** When its manifest was written in the local tree (the manifest's createdAt). */
  madeAt?: string;
  /** Per target (`local` included): when it was first found there. */
  arrived: Record<string, string>;
  /** Set once it is decided: found everywhere, or the deadline passed first. */
  result?: { ok: boolean; at: string; failures: CanaryFailure[] };
  /** Its images were removed after the check (the targets' copies through the sweeper's backlog). */
  purged?: boolean;
}

/** What probe.ts saw of a canary at one look. */
export interface Sighting {
  /** Its batch is still in incoming/ (not read yet). */
  batchWaiting: boolean;
  /** Its job, in whichever state it was found. */
  job?: { state: State; createdAt: string; downloaded: boolean; error?: string };
  /** When its picture was first served (store.ts markServed). */
  servedAt?: string;
  /** Its manifest's createdAt, when the manifest is in the local tree. */
  madeAt?: string;
  /** Per target looked at (those it has not reached yet): found, or why not. */
  targets: Record<string, { found: boolean; why?: string }>;
}

/** A canary about to be sent: what names it, the time it is sent at and how long it has. */
export type NewCanary = Pick<CanaryRecord, 'slot' | 'id' | 'url' | 'hash' | 'country' | 'by'> & { now: number; deadlineMs: number };

export function newRecord(c: NewCanary): CanaryRecord {
  const { now, deadlineMs, ...rest } = c;
  return { version: 1, ...rest, droppedAt: iso(now), deadlineAt: iso(now + deadlineMs), arrived: {} };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const ms = (at: string): number => Date.parse(at);

/** The record after a look at `now`: stages reached, targets found, and the verdict once due. */
export function advance(record: CanaryRecord, seen: Sighting, targets: readonly string[], now: number): CanaryRecord {
  if (record.result) return record;
  const next: CanaryRecord = { ...record, arrived: { ...record.arrived } };
  if (seen.job && !next.queuedAt) next.queuedAt = seen.job.createdAt;
  if (seen.servedAt) next.servedAt ??= seen.servedAt;
  if (seen.madeAt) {
    next.madeAt ??= seen.madeAt;
    next.queuedAt ??= seen.madeAt;
    next.arrived[LOCAL_TARGET] ??= seen.madeAt;
  }
  for (const [target, found] of Object.entries(seen.targets)) if (found.found) next.arrived[target] ??= iso(now);
  const missing = [LOCAL_TARGET, ...targets].filter((t) => next.arrived[t] === undefined);
  if (missing.length === 0) next.result = { ok: true, at: iso(now), failures: [] };
  else if (now >= ms(next.deadlineAt)) next.result = { ok: false, at: iso(now), failures: failuresOf(next, seen, missing) };
  return next;
}

/** Where a canary stopped, for each place it did not reach by its deadline. */
function failuresOf(record: CanaryRecord, seen: Sighting, missing: readonly string[]): CanaryFailure[] {
  if (record.arrived[LOCAL_TARGET] === undefined) return [{ target: LOCAL_TARGET, ...beforeTheTree(seen) }];
  return missing.map((target) => ({ stage: 'sync', target, reason: seen.targets[target]?.why ?? 'not found there' }));
}

function beforeTheTree(seen: Sighting): { stage: CanaryStage; reason: string } {
  const { job } = seen;
  const said = job?.error ? `: ${job.error}` : '';
  if (seen.batchWaiting) return { stage: 'intake', reason: 'its batch was still in incoming/ (no engine read it)' };
  if (!job) return { stage: 'intake', reason: 'its batch was read but no job was found' };
  if (job.state === 'downloaded') return { stage: 'thumbnail', reason: `its job waited in downloaded/${said}` };
  if (job.state === 'failed') return { stage: job.downloaded ? 'thumbnail' : 'download', reason: `its job failed${said}` };
  if (job.state === 'thumbed') return { stage: 'thumbnail', reason: 'its job was thumbed but its manifest was not in the tree' };
  return { stage: 'download', reason: `its job waited in incoming/${said || ' (not downloaded yet)'}` };
}

/** Seconds between two of a record's times, when both are known. */
function between(from: string | undefined, to: string | undefined): number | undefined {
  return from === undefined || to === undefined ? undefined : Math.max(0, (ms(to) - ms(from)) / 1000);
}

/** Seconds from the drop to its arrival on `target`. */
export function latencyOf(record: CanaryRecord, target: string): number | undefined {
  return between(record.droppedAt, record.arrived[target]);
}

export interface CanaryTimings {
  /** Drop to job: the batch read. */
  intake?: number;
  /** Job to its picture served: the wait for a download slot and the download. */
  download?: number;
  /** Picture served to manifest written: the thumbnails and the tree. */
  thumbnail?: number;
  /** Manifest to arrival, per target: the sweeper's part. */
  sync: Record<string, number>;
}

export function timingsOf(record: CanaryRecord): CanaryTimings {
  const sync: Record<string, number> = {};
  for (const target of Object.keys(record.arrived)) {
    const seconds = between(record.madeAt, record.arrived[target]);
    if (target !== LOCAL_TARGET && seconds !== undefined) sync[target] = seconds;
  }
  const timings: CanaryTimings = { sync };
  const intake = between(record.droppedAt, record.queuedAt);
  const download = between(record.queuedAt, record.servedAt);
  const thumbnail = between(record.servedAt, record.madeAt);
  if (intake !== undefined) timings.intake = intake;
  if (download !== undefined) timings.download = download;
  if (thumbnail !== undefined) timings.thumbnail = thumbnail;
  return timings;
}

/** The last canary decided for one target, as status, the page and /metrics show it. */
export interface TargetCanary {
  target: string;
  /** The newest decided canary: whether it reached this target, and when it was sent. */
  ok: boolean;
  droppedAt: string;
  /** Drop to arrival here, when it arrived. */
  seconds?: number;
  /** Where it stopped, when it did not arrive. */
  failure?: CanaryFailure;
  timings: CanaryTimings;
  /** The newest arrival of any canary here. */
  lastSuccessAt?: string;
}

/** Per target (`local` first, then the configured ones), the newest decided canary and the newest success. */
export function lastPerTarget(records: readonly CanaryRecord[], targets: readonly string[]): TargetCanary[] {
  const decided = records.filter((r) => r.result).sort((a, b) => b.slot - a.slot || ms(b.droppedAt) - ms(a.droppedAt));
  const out: TargetCanary[] = [];
  for (const target of [LOCAL_TARGET, ...targets]) {
    const last = decided[0];
    if (!last) continue;
    const arrivedAt = last.arrived[target];
    const failure = last.result!.failures.find((f) => f.target === target) ?? last.result!.failures.find((f) => f.target === LOCAL_TARGET);
    const success = decided.find((r) => r.arrived[target] !== undefined)?.arrived[target];
    const seconds = latencyOf(last, target);
    out.push({
      target,
      ok: arrivedAt !== undefined,
      droppedAt: last.droppedAt,
      ...(seconds !== undefined ? { seconds } : {}),
      ...(arrivedAt === undefined && failure ? { failure } : {}),
      timings: timingsOf(last),
      ...(success ? { lastSuccessAt: success } : {}),
    });
  }
  return out;
}

/** A record read back from disk, or undefined when it is not one (a stray or damaged file). */
export function parseRecord(text: string): CanaryRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<CanaryRecord>;
    const ok = r.version === 1 && Number.isInteger(r.slot) && typeof r.id === 'string' && typeof r.hash === 'string' && typeof r.droppedAt === 'string' && typeof r.arrived === 'object' && r.arrived !== null;
    return ok ? (r as CanaryRecord) : undefined;
  } catch {
    return undefined;
  }
}

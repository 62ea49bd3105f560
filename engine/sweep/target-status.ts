/**
 * How far behind each target is, as the last sweep left it: `spool/.sweep/.status/<target>.json`.
 * The sweeper runs from cron and exits, so it leaves its findings here for `imagesys status`, the
 * status page and /metrics. Totals are cumulative over sweeps (they are Prometheus counters).
 */
import { readOwnText } from '../../spool/safe-open.js';
import { readdir } from 'node:fs/promises';
import type { AtomicWriter } from '../../spool/atomic.js';
import { targetStatusDir, targetStatusPath } from '../../spool/sweep-layout.js';

/** How far behind a target is, as status, the page and /metrics show it. */
export interface TargetStatus {
  target: string;
  /**
   * Seconds since the start of the last sweep that left this target level (everything thumbed before
   * then is there); null when it never was.
   */
  lagSeconds: number | null;
  /** Images and deletions waiting in its backlog now. */
  backlog: number;
  lastLevelAt: string | null;
  lastAttemptAt: string | null;
  /** How long the last sweep spent on it (rsync runs included). */
  lastSeconds: number | null;
  /** Why the last sweep left it behind. */
  lastError?: string;
  /** New to the sweeper and not yet sent the whole tree once: not level, whatever its backlog. */
  seeding: boolean;
  /** Over all sweeps: images sent, images deleted, sweeps that left it behind. */
  sentTotal: number;
  deletedTotal: number;
  behindTotal: number;
}

export interface TargetRecord {
  target: string;
  /** Start of the last sweep that handed out new images and left this target level. */
  lastLevelAt: string | null;
  lastAttemptAt: string;
  /** Images and deletions left in its backlog by the last sweep. */
  backlog: number;
  /** How long the last sweep spent on this target. */
  lastSeconds: number;
  lastError?: string;
  sentTotal: number;
  deletedTotal: number;
  /** Sweeps that left it behind. */
  behindTotal: number;
  /** New to the sweeper, and the whole tree not yet sent to it once. */
  seeding?: boolean;
}

export async function readTargetRecord(spool: string, target: string): Promise<TargetRecord | undefined> {
  try {
    const text = await readOwnText(targetStatusPath(spool, target));
    return text === undefined ? undefined : (JSON.parse(text) as TargetRecord);
  } catch {
    return undefined;
  }
}

export interface SweepOfTarget {
  target: string;
  /** When this sweep handed out new images (undefined: it did not sync, e.g. a purge alone). */
  handedOutAt?: Date;
  at: Date;
  seconds: number;
  sent: number;
  deleted: number;
  level: boolean;
  backlog: number;
  error?: string;
  /** Still not sent the whole tree once after this sweep. */
  seeding: boolean;
}

/** The record after one more sweep. Pure. */
export function nextRecord(previous: TargetRecord | undefined, sweep: SweepOfTarget): TargetRecord {
  const record: TargetRecord = {
    target: sweep.target,
    lastLevelAt: sweep.level && sweep.handedOutAt ? sweep.handedOutAt.toISOString() : (previous?.lastLevelAt ?? null),
    lastAttemptAt: sweep.at.toISOString(),
    backlog: sweep.backlog,
    lastSeconds: sweep.seconds,
    sentTotal: (previous?.sentTotal ?? 0) + sweep.sent,
    deletedTotal: (previous?.deletedTotal ?? 0) + sweep.deleted,
    behindTotal: (previous?.behindTotal ?? 0) + (sweep.level ? 0 : 1),
  };
  if (!sweep.level) record.lastError = sweep.error ?? 'not finished';
  if (sweep.seeding) record.seeding = true;
  return record;
}

export async function recordTargetSweep(writer: AtomicWriter, spool: string, sweep: SweepOfTarget): Promise<void> {
  const record = nextRecord(await readTargetRecord(spool, sweep.target), sweep);
  await writer.write(targetStatusPath(spool, sweep.target), `${JSON.stringify(record, null, 2)}\n`, { skipDirSync: true });
}

/** Every configured target's record (targets never swept appear with no lag known). */
export async function readTargetRecords(spool: string, targets: readonly string[]): Promise<Array<TargetRecord | { target: string }>> {
  const names = new Set(targets);
  for (const name of await readdir(targetStatusDir(spool)).catch(() => [] as string[])) if (name.endsWith('.json') && !name.startsWith('.')) names.add(name.slice(0, -5));
  const records: Array<TargetRecord | { target: string }> = [];
  for (const target of [...names].sort()) records.push((await readTargetRecord(spool, target)) ?? { target });
  return records;
}

/** What status shows of a target. Pure. */
export function targetStatus(record: TargetRecord | { target: string }, now: number): TargetStatus {
  if (!('lastAttemptAt' in record)) return { target: record.target, lagSeconds: null, backlog: 0, lastLevelAt: null, lastAttemptAt: null, lastSeconds: null, lastError: 'never swept', sentTotal: 0, deletedTotal: 0, behindTotal: 0, seeding: true };
  return {
    target: record.target,
    lagSeconds: record.lastLevelAt ? Math.max(0, Math.round((now - Date.parse(record.lastLevelAt)) / 1000)) : null,
    backlog: record.backlog,
    lastLevelAt: record.lastLevelAt,
    lastAttemptAt: record.lastAttemptAt,
    lastSeconds: record.lastSeconds ?? null,
    ...(record.lastError ? { lastError: record.lastError } : {}),
    sentTotal: record.sentTotal,
    deletedTotal: record.deletedTotal,
    behindTotal: record.behindTotal,
    seeding: record.seeding === true,
  };
}

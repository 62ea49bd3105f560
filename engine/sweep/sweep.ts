import { ClaimRegistry } from '../../spool/claims.js';
import { FsTime } from '../../spool/fs-time.js';
import { access, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicWriter } from '../../spool/atomic.js';
import { Spool } from '../../spool/spool.js';
import { sweepDir, sweepLockPath } from '../../spool/sweep-layout.js';
import { spoolTmpDir } from '../../spool/layout.js';
import type { Config } from '../config/config.js';
import { systemClock, type Clock } from '../core/clock.js';
import { PROGRAM_ERRORS, ProgramError } from '../core/program-errors.js';
import { treeTmpDir } from '../tree/tree.js';
import { checkLocal, checkTarget, type CheckReport } from './fscheck.js';
import { countBacklog, fanOut, releaseDelivered } from './outbox.js';
import { purge, type PurgeReport } from './purge.js';
import { seedTarget, syncTarget, unseededCountries, type SyncReport } from './sync.js';
import { recordTargetSweep } from './target-status.js';

export interface SweepOptions {
  sync: boolean;
  purge: boolean;
  fsCheck: boolean;
  repair: boolean;
  countries: string[];
  /** The time the purge's cutoff counts from; the clock's now unless given. */
  now?: Date;
  clock?: Clock;
  /** Progress lines (--verbose). */
  say?: (line: string) => void;
}

export interface SweepResult {
  handedOut: number;
  released: number;
  purge?: PurgeReport;
  targets: Array<SyncReport & { backlog: number }>;
  checks: CheckReport[];
  /** Backlogs in the spool of targets the config does not name. */
  unknownTargets?: string[];
  /** Entries of thumbed/ that were not jobs, set aside in failed/ with their reasons. */
  setAside: string[];
}

/**
 * Backlogs of targets that are not in the config (renamed, removed, or the wrong config file): left
 * alone, and named in every report, so that an operator decides (`rm -r spool/.sweep/<name>`).
 */
async function unknownTargets(spool: string, names: readonly string[]): Promise<string[]> {
  const unknown: string[] = [];
  for (const entry of await readdir(sweepDir(spool), { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory() && !entry.name.startsWith('.') && !names.includes(entry.name)) unknown.push(entry.name);
  }
  return unknown;
}

/** Exit codes of `imagesys sweep`. */
/** The sweep's exit codes; bad usage and a held lock are program errors, whose codes give theirs. */
export const SWEEP_EXIT = { ok: 0, behind: 1, usage: PROGRAM_ERRORS.ERR_IMAGESYS_USAGE.exit, locked: PROGRAM_ERRORS.ERR_IMAGESYS_SWEEP_LOCKED.exit, differences: 4 } as const;

/**
 * One sweep at a time: a lock directory next to the spool's sweep state, refreshed while held and
 * judged stale (30 s) by the spool file system's time, as a job's claim is (spool/claims.ts), so that
 * sweepers on hosts whose clocks differ do not both run.
 */
async function lock(spool: string): Promise<() => Promise<void>> {
  await mkdir(sweepDir(spool), { recursive: true });
  const claim = await new ClaimRegistry(sweepDir(spool), 30_000, new FsTime(spoolTmpDir(spool))).tryClaimAt(sweepLockPath(spool), 'sweep');
  if (!claim) throw new ProgramError('ERR_IMAGESYS_SWEEP_LOCKED', `another sweep is running (lock ${sweepLockPath(spool)})`);
  return () => claim.release();
}

/**
 * The sweeper's run: purge (local now, targets through their backlog), hand new thumbed jobs to every
 * target, bring each target level in parallel (one down does not hold up the others), release jobs
 * every target has, then fs-check if asked.
 */
export async function sweep(config: Config, options: SweepOptions): Promise<SweepResult> {
  const say = options.say ?? (() => {});
  const clock = options.clock ?? systemClock;
  const release = await lock(config.spool);
  try {
    const names = config.sweep.targets.map((t) => t.name);
    const writer = new AtomicWriter(treeTmpDir(config.tree), config.fsync);
    const spool = new Spool({ root: config.spool, fsync: config.fsync, staleMs: config.claims.staleMs, clock });
    const result: SweepResult = { handedOut: 0, released: 0, targets: [], checks: [], unknownTargets: await unknownTargets(config.spool, names), setAside: [] };
    const rsync = { rsync: config.sweep.rsync, timeoutSeconds: config.sweep.timeoutSeconds, connectTimeoutSeconds: config.sweep.connectTimeoutSeconds, bwlimitKiB: config.sweep.bwlimitKiB };

    if (options.purge) {
      const now = options.now ?? spool.now();
      const cutoff = new Date(now.getTime() - config.sweep.purgeAfterDays * 86_400_000);
      say(`purge: images not refreshed since ${cutoff.toISOString()}`);
      const context = { spool, tree: config.tree, countries: options.countries, targets: names };
      result.purge = await purge(context, cutoff, (r) => say(`purge: ${r.days} day(s) read, ${r.checked} checked, ${r.purged} purged`));
    }
    const handedOutAt = options.sync ? spool.now() : undefined;
    if (options.sync) {
      for (const country of options.countries) {
        const fanned = await fanOut(spool, country, names);
        result.handedOut += fanned.handed;
        result.setAside.push(...fanned.setAside);
      }
      say(`sync: ${result.handedOut} new image(s) handed to ${names.length} target(s)`);
    }
    if (options.sync || options.purge) {
      result.targets = await Promise.all(
        config.sweep.targets.map(async (target) => {
          const began = performance.now();
          const before = await countBacklog(config.spool, target.name, options.countries);
          say(`sync: ${target.name}: ${before} to deliver`);
          // a target new to the sweeper first gets the whole tree (a purge alone does not seed); the
          // countries it has are brought level through their backlogs whatever became of the others
          const seedError = options.sync ? await seedTarget(config.spool, config.tree, target, options.countries, rsync, say, spool.now()) : undefined;
          // seeding (and so not level) until every configured country was seeded, not only those of this run
          const notSeeded = await unseededCountries(config.spool, target.name, [...new Set([...config.countries, ...options.countries])]);
          const seeded = options.countries.filter((c) => !notSeeded.includes(c));
          const synced = await syncTarget(config.spool, config.tree, target, seeded, { ...rsync, batchSize: config.sweep.batchSize });
          const seeding = notSeeded.length > 0;
          const error = seedError ?? synced.error ?? (seeding ? `not yet seeded with the tree of ${notSeeded.join(', ')} (a sweep --sync of those countries does it)` : undefined);
          const report: SyncReport = { ...synced, level: synced.level && !seeding, seeding, ...(error ? { error } : {}) };
          const backlog = report.level ? 0 : await countBacklog(config.spool, target.name, options.countries);
          say(`sync: ${target.name}: ${report.sent} sent, ${report.deleted} deleted, ${backlog} left${report.error ? ` (${report.error})` : ''}`);
          // for status, the page and /metrics: how far behind this target is
          const sweepOfTarget = { target: target.name, at: spool.now(), seconds: (performance.now() - began) / 1000, sent: report.sent, deleted: report.deleted, level: report.level, backlog, seeding: report.seeding, ...(handedOutAt ? { handedOutAt } : {}), ...(report.error ? { error: report.error } : {}) };
          await recordTargetSweep(spool.writer, config.spool, sweepOfTarget).catch((error: unknown) => say(`sync: ${target.name}: status not recorded: ${(error as Error).message}`));
          return { ...report, backlog };
        }),
      );
      for (const country of options.countries) result.released += await releaseDelivered(spool, country, names);
    }
    if (options.fsCheck) {
      const context = { spool, tree: config.tree, targets: config.sweep.targets, writer, rsync, repair: options.repair };
      // canaries on their way are differences by design, and their check is the canary's own (engine/canary/)
      for (const country of options.countries.filter((c) => c !== config.canary.country)) {
        if (!(await access(join(config.tree, country)).then(() => true, () => false))) continue;
        result.checks.push(await checkLocal(context, country));
        for (const target of config.sweep.targets) result.checks.push(await checkTarget(context, target, country));
      }
    }
    return result;
  } finally {
    await release().catch(() => {});
  }
}

/** The exit code a sweep's result calls for. Pure. */
export function sweepExitCode(result: SweepResult): number {
  if (result.targets.some((t) => !t.level)) return SWEEP_EXIT.behind;
  if (result.checks.some((c) => c.error || (c.differences.length > 0 && !c.repaired))) return SWEEP_EXIT.differences;
  return SWEEP_EXIT.ok;
}

/** Warnings that do not change the exit code but belong in cron's mail (stderr) whatever it is. Pure. */
export function warnings(result: SweepResult): string[] {
  const lines = result.setAside.map((line) => `sweep: set aside ${line} (see failed/)`);
  for (const name of result.unknownTargets ?? []) lines.push(`sweep: warning: spool/.sweep/${name} is the backlog of a target not in the config; remove it if ${name} is gone for good`);
  return lines;
}

/** Lines for the operator besides the warnings: always on trouble, everything with --verbose. Pure. */
export function describe(result: SweepResult, verbose: boolean): string[] {
  const lines: string[] = [];
  for (const t of result.targets) {
    if (!t.level) lines.push(`sweep: ${t.target} is behind: ${t.backlog} image(s) waiting; ${t.error ?? 'not finished'}`);
    else if (verbose) lines.push(`sweep: ${t.target} level (${t.sent} sent, ${t.deleted} deleted)`);
  }
  for (const c of result.checks) {
    const counts = ['missing', 'extra', 'differs', 'corrupt'].map((kind) => `${c.differences.filter((d) => d.kind === kind).length} ${kind}`).join(', ');
    if (c.error) lines.push(`fs-check: ${c.where}/${c.country}: ${c.error}`);
    else if (c.differences.length > 0) {
      lines.push(`fs-check: ${c.where}/${c.country}: ${counts}${c.repaired ? ' (repaired)' : ''}`);
      if (verbose) for (const d of c.differences.slice(0, 20)) lines.push(`  ${d.kind} ${d.path}`);
    } else if (verbose) lines.push(`fs-check: ${c.where}/${c.country}: no differences`);
  }
  if (verbose) {
    if (result.purge) lines.push(`sweep: purge read ${result.purge.days} day(s), checked ${result.purge.checked}, purged ${result.purge.purged}`);
    lines.push(`sweep: ${result.handedOut} handed out, ${result.released} job(s) released from thumbed/`);
  }
  return lines;
}

import { entriesOf } from '../../spool/dirs.js';
import { canaryEnabled, type Config } from '../config/config.js';
import { lstat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { JOB_SUFFIX, isVisible, stateDir, STATES, type State } from '../../spool/layout.js';
import { LIMITS } from '../../spool/limits.js';
import { readRegular } from '../../spool/safe-open.js';
import { readDaemonStates, type SeenDaemon } from './daemon-state.js';
import { systemClock, type Clock } from '../core/clock.js';
import { withoutCredentials } from '../core/hash.js';
import { formatBytes, formatClockOffset, formatDuration, padLeft, secondsBetween } from './format.js';
import { minutesInProgress, readHistory, slotted, sumSince, type MinuteCounts } from './history.js';
import { readTargetRecords, targetStatus, type TargetStatus } from '../sweep/target-status.js';
import { readClassCounts, type ClassCounts } from '../classes/class-counts.js';
import { lastPerTarget, type TargetCanary } from '../canary/record.js';
import { readRecords } from '../canary/store.js';

export interface DiskInfo {
  path: string;
  freeBytes: number;
  totalBytes: number;
}

export interface StatusReport {
  spool: string;
  tree: string;
  at: string;
  counts: Record<string, Record<State, number>>;
  totals: Record<State, number>;
  /** Batches waiting in incoming/ to be read. */
  batches: number;
  oldest: { country: string; state: State; job: string; ageSeconds: number } | null;
  /** Most frequent failure codes among failed jobs, each with up to three example URLs and reasons. */
  failures: Array<{ code: string; count: number; examples: Array<{ url: string; error: string }> }>;
  /** Failed jobs read to rank them (at most FAILURE_SAMPLE per country): counts are of these. */
  failuresRead: number;
  /** Waiting jobs looked at to find the oldest (at most OLDEST_SCAN_LIMIT): it is the oldest of these. */
  oldestOf: number;
  disk: DiskInfo[];
  /** The engines that use this spool, from their state files: alive ones and recently dead ones. */
  engines: SeenDaemon[];
  /** Hosts and datasources that a live engine has paused. */
  paused: Array<SeenDaemon['paused'][number] & { engine: string }>;
  /** Why a live engine has paused its downloads (low disk), if one has. */
  downloadsPaused: string[];
  /** Each sweep target: how far behind it is (from the sweeper's status files and backlogs). */
  targets: TargetStatus[];
  /** Images per minute over the last hours, all engines of this spool together (history files). */
  throughput: Throughput;
  /** The newest thumbnails made by live engines, newest first. */
  latest: LatestThumbnail[];
  /** Images in the tree per class, as the engines counted them (engine/classes/class-counts.ts). */
  classes: ClassCounts;
  /** Per target (`local`, the tree, first): the last canary decided and the last that arrived (engine/canary/). */
  canary: TargetCanary[];
  /** Where a live engine serves its status page and metrics. */
  pages: string[];
  /** How often the status page refreshes itself. */
  refreshSeconds: number;
}


/** Counts of one minute (or a sum of minutes), without the failures by code. */
export type ThroughputCounts = Omit<MinuteCounts, 'codes'>;

export interface Throughput {
  /** One entry per minute, oldest first, ending with the current minute; minutes without work are zeros. */
  minutes: Array<ThroughputCounts & { t: string }>;
  last5Minutes: ThroughputCounts;
  lastHour: ThroughputCounts;
}

export interface LatestThumbnail {
  country: string;
  hash: string;
  url: string;
  at: string;
  /** Each size's path relative to the tree; the status page shows `/tree/<path>`. */
  sizes: Array<{ name: string; path: string; width: number; height: number }>;
}

/**
 * Waiting jobs stat-ed to find the oldest, shared evenly among the waiting directories (incoming/ and
 * downloaded/ of each country): beyond it the oldest of a sample of each (directory order is hash
 * order, so a fair one), so that status and the page stay quick on a spool of millions.
 */
const OLDEST_SCAN_LIMIT = 20_000;
/** Failed jobs read per country to rank failure reasons. */
const FAILURE_SAMPLE = 5_000;

const emptyStateCounts = (): Record<State, number> => ({ incoming: 0, downloaded: 0, thumbed: 0, failed: 0 });

/** What status needs to know besides the spool's contents. */
export interface StatusSource {
  spool: string;
  tree: string;
  countries: readonly string[];
  /** The configured sweep targets' names. */
  targets: readonly string[];
  refreshSeconds: number;
  /** Whether canaries are sent: their records are shown only then (old ones would look like a failing canary). */
  canaries: boolean;
}

export function statusSource(config: Pick<Config, 'spool' | 'tree' | 'sweep' | 'http' | 'canary'>, countries: readonly string[]): StatusSource {
  return { spool: config.spool, tree: config.tree, countries, targets: config.sweep.targets.map((t) => t.name), refreshSeconds: config.http.refreshSeconds, canaries: canaryEnabled(config) };
}

/** Hours of throughput the status page charts. */
export const THROUGHPUT_HOURS = 6;
/** Thumbnails in the status page's strip (each engine keeps as many). */
export const LATEST_SHOWN = 12;
const EXAMPLES_PER_CODE = 3;

/**
 * Everything `imagesys status` and the status page report, read from the spool, the engines' state
 * and history files and the sweeper's target records (no daemon needs to run).
 */
export async function gatherStatus(source: StatusSource, clock: Clock = systemClock): Promise<StatusReport> {
  const { spool, tree, countries } = source;
  // one reading of the clock, so every age in the report is measured from the same `at`
  const now = clock();
  const counts: StatusReport['counts'] = {};
  const totals = emptyStateCounts();
  let batches = 0;
  let oldest: StatusReport['oldest'] = null;
  let statted = 0;
  const statPerDir = Math.max(100, Math.ceil(OLDEST_SCAN_LIMIT / (countries.length * 2)));
  let failuresRead = 0;
  const failures = new Map<string, { count: number; examples: Array<{ url: string; error: string }> }>();
  for (const country of countries) {
    const row = emptyStateCounts();
    for (const state of STATES) {
      const dir = stateDir(spool, state, country);
      let stattedHere = 0;
      for await (const name of listNames(dir)) {
        if (isVisible(name, '.urls') && state === 'incoming') {
          batches++;
          continue;
        }
        if (!isVisible(name, JOB_SUFFIX)) continue;
        row[state]++;
        if ((state === 'incoming' || state === 'downloaded') && stattedHere < statPerDir) {
          stattedHere++;
          statted++;
          const mtime = await mtimeOf(join(dir, name));
          if (mtime !== undefined) {
            const ageSeconds = Math.max(0, Math.round((now - mtime) / 1000));
            if (!oldest || ageSeconds > oldest.ageSeconds) oldest = { country, state, job: name, ageSeconds };
          }
        }
        if (state === 'failed' && row.failed <= FAILURE_SAMPLE) {
          failuresRead++;
          const reason = await failureOf(join(dir, name));
          if (reason) {
            const entry = failures.get(reason.code) ?? { count: 0, examples: [] };
            entry.count++;
            if (entry.examples.length < EXAMPLES_PER_CODE) entry.examples.push(reason.example);
            failures.set(reason.code, entry);
          }
        }
      }
      totals[state] += row[state];
    }
    counts[country] = row;
  }
  const engines = await readDaemonStates(spool, now);
  const alive = engines.filter((e) => e.alive);
  const targets = (await readTargetRecords(spool, source.targets)).map((record) => targetStatus(record, now));
  return {
    spool,
    tree,
    at: new Date(now).toISOString(),
    counts,
    totals,
    batches,
    oldest,
    oldestOf: statted,
    failuresRead,
    failures: [...failures.entries()].map(([code, v]) => ({ code, ...v })).sort((a, b) => b.count - a.count).slice(0, 10),
    disk: [await disk(spool), await disk(tree)].filter((d): d is DiskInfo => d !== undefined),
    engines,
    paused: alive.flatMap((e) => e.paused.map((p) => ({ ...p, engine: `${e.host}~${e.pid}` }))),
    downloadsPaused: alive.flatMap((e) => (e.downloadsPaused ? [`${e.host}~${e.pid}: ${e.downloadsPaused}`] : [])),
    targets,
    throughput: await throughputOf(spool, engines, now),
    latest: alive.flatMap((e) => e.latest ?? []).sort((a, b) => b.at.localeCompare(a.at)).slice(0, LATEST_SHOWN),
    classes: await readClassCounts(tree),
    canary: source.canaries ? lastPerTarget(await readRecords(spool), source.targets) : [],
    pages: alive.flatMap((e) => (e.http ? [e.http] : [])),
    refreshSeconds: source.refreshSeconds,
  };
}

/** Every engine's minutes over the charted hours, added together. */
async function throughputOf(spool: string, engines: readonly SeenDaemon[], now: number): Promise<Throughput> {
  const since = now - THROUGHPUT_HOURS * 3_600_000;
  const minutes = (await readHistory(spool, since, minutesInProgress(engines), now)).flatMap((p) => p.minutes);
  const bare = ({ codes: _codes, ...counts }: MinuteCounts): ThroughputCounts => counts;
  return {
    minutes: slotted(minutes, since + 60_000, now + 1, 60_000).map(({ t, ...counts }) => ({ t, ...bare(counts) })),
    last5Minutes: bare(sumSince(minutes, now - 4 * 60_000)),
    lastHour: bare(sumSince(minutes, now - 59 * 60_000)),
  };
}

async function* listNames(dir: string): AsyncGenerator<string> {
  for await (const entry of entriesOf(dir)) yield entry.name;
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await lstat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Characters of a URL or a reason shown in a report: a hand-made job may hold anything up to LIMITS.jobFileBytes. */
const SHOWN_CHARS = 300;

const shorten = (text: string): string => (text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS - 3)}...` : text);

async function failureOf(path: string): Promise<{ code: string; example: { url: string; error: string } } | undefined> {
  try {
    // anyone who can write the spool may have put a link or a FIFO here: read only a bounded regular file
    const read = await readRegular(path, LIMITS.jobFileBytes);
    if (!('text' in read)) return undefined;
    const job = JSON.parse(read.text) as { errorCode?: unknown; error?: unknown; url?: unknown };
    const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
    return { code: shorten(text(job.errorCode, 'unknown')), example: { url: shorten(withoutCredentials(text(job.url, '?'))), error: shorten(text(job.error, '')) } };
  } catch {
    return undefined;
  }
}

async function disk(path: string): Promise<DiskInfo | undefined> {
  try {
    const s = await statfs(path);
    return { path, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return undefined;
  }
}

/** One target's last canary: `n2  FAILED at sync (sent 3 min ago): not there yet; last arrived 14 min ago`. Pure. */
export function formatCanary(c: TargetCanary, at: string): string {
  const ago = (t: string): string => `${formatDuration(secondsBetween(t, at))} ago`;
  const { sync, ...stages } = c.timings;
  const steps = [...Object.entries(stages).map(([stage, s]) => `${stage} ${s.toFixed(1)} s`), ...(sync[c.target] !== undefined ? [`sync ${sync[c.target]!.toFixed(1)} s`] : [])];
  const head = c.ok ? `ok in ${c.seconds!.toFixed(1)} s (${steps.join(', ')})` : `FAILED at ${c.failure?.stage ?? '?'}: ${c.failure?.reason ?? 'not found'}`;
  const last = c.ok ? '' : `; last arrived ${c.lastSuccessAt ? ago(c.lastSuccessAt) : 'never'}`;
  return `${c.target.padEnd(12)} ${head}, sent ${ago(c.droppedAt)}${last}`;
}

/** The text form of a status report: a table per country, then what needs attention. Pure. */
export function formatStatus(report: StatusReport): string {
  const lines = [`spool ${report.spool}   tree ${report.tree}`, '', `country ${STATES.map((s) => padLeft(s, 11)).join('')}`];
  for (const [country, row] of Object.entries(report.counts)) lines.push(`${country.padEnd(7)} ${STATES.map((s) => padLeft(row[s], 11)).join('')}`);
  lines.push(`${'total'.padEnd(7)} ${STATES.map((s) => padLeft(report.totals[s], 11)).join('')}`);
  if (report.batches > 0) lines.push('', `${report.batches} batch file(s) waiting to be read`);
  const waiting = Object.values(report.counts).reduce((sum, row) => sum + row.incoming + row.downloaded, 0);
  const sampled = report.oldestOf < waiting ? ` (the oldest of ${report.oldestOf} looked at)` : '';
  lines.push('', report.oldest ? `oldest waiting job: ${report.oldest.country}/${report.oldest.job} in ${report.oldest.state}/, ${formatDuration(report.oldest.ageSeconds)} old${sampled}` : 'no job waiting');
  if (report.failures.length > 0) {
    lines.push('', report.failuresRead < report.totals.failed ? `top failure reasons (from ${report.failuresRead} of the ${report.totals.failed} failed jobs):` : 'top failure reasons:');
    for (const f of report.failures) {
      lines.push(`${padLeft(f.count, 8)}  ${f.code}`);
      for (const e of f.examples) lines.push(`${' '.repeat(10)}e.g. ${e.url.slice(0, 160)}: ${e.error.slice(0, 120)}`);
    }
  }
  const { last5Minutes: five, lastHour: hour } = report.throughput;
  lines.push('', `throughput: last 5 min ${five.thumbed} thumbed, ${five.skipped} already in tree, ${five.failed} failed; last hour ${hour.thumbed} thumbed, ${hour.skipped} already in tree, ${hour.failed} failed, ${formatBytes(hour.bytesIn)} downloaded, ${formatBytes(hour.bytesOut)} written`);
  const { photo, placeholder, duplicate } = report.classes;
  lines.push(`images by class: ${photo} photo, ${placeholder} placeholder, ${duplicate} duplicate`);
  lines.push('');
  for (const d of report.disk) lines.push(`disk ${d.path}: ${formatBytes(d.freeBytes)} free of ${formatBytes(d.totalBytes)}`);
  lines.push('');
  if (report.engines.length === 0) lines.push('engines: none has run on this spool lately');
  for (const e of report.engines) {
    const state = e.alive ? `running ${formatDuration(secondsBetween(e.startedAt, e.updatedAt))}` : `NOT RUNNING, last seen ${formatDuration(secondsBetween(e.updatedAt, report.at))} ago`;
    const clock = e.clock ? `; ${e.clock.level === 'ok' ? '' : 'CLOCK OFF: '}${formatClockOffset(e.clock.offsetMs)}` : '';
    lines.push(`engine ${e.host}~${e.pid} (${e.mode}, ${e.countries.join(' ')}): ${state}; ${e.stats.thumbed} thumbed, ${e.stats.failed} failed, ${e.stats.retries} retries, ${e.stats.stuck} stuck, ${e.queued.active} in progress, ${e.queued.waiting} waiting${clock}`);
  }
  for (const page of report.pages) lines.push(`status page and /metrics: ${page}`);
  for (const reason of report.downloadsPaused) lines.push(`DOWNLOADS PAUSED ${reason}`);
  if (report.paused.length > 0) {
    lines.push('', 'paused sources (failing too often; their jobs wait):');
    for (const p of report.paused) lines.push(`  ${p.source.padEnd(40)} until ${p.until}  ${p.failures}/${p.attempts} failed, pause #${p.strikes}${p.lastFailure ? `, last: ${p.lastFailure}` : ''}`);
  }
  if (report.targets.length > 0) {
    lines.push('', 'targets:');
    for (const t of report.targets) {
      const lag = t.seeding ? 'seeding (receives the whole tree once)' : t.lagSeconds === null ? 'never level' : `lag ${formatDuration(t.lagSeconds)}`;
      const last = t.lastAttemptAt ? `, last sweep ${t.lastAttemptAt}${t.lastSeconds !== null ? ` (${t.lastSeconds.toFixed(1)} s)` : ''}` : '';
      lines.push(`  ${t.target.padEnd(12)} ${lag}, ${t.backlog} waiting${last}${t.lastError ? `; ${t.lastError}` : ''}`);
    }
  }
  if (report.canary.length > 0) lines.push('', 'canary (the last one checked, per target):', ...report.canary.map((c) => `  ${formatCanary(c, report.at)}`));
  if (report.latest.length > 0) lines.push('', `latest thumbnail: ${report.latest[0]!.url} at ${report.latest[0]!.at}`);
  return lines.join('\n');
}

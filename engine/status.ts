import { entriesOf } from '../spool/dirs.js';
import { readFile, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { JOB_SUFFIX, isVisible, stateDir, STATES, type State } from '../spool/layout.js';
import { readDaemonStates, type SeenDaemon } from './daemon-state.js';

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
  failures: Array<{ code: string; count: number; example: string }>;
  disk: DiskInfo[];
  /** The engines that use this spool, from their state files: alive ones and recently dead ones. */
  engines: SeenDaemon[];
  /** Hosts and datasources that a live engine has paused. */
  paused: Array<SeenDaemon['paused'][number] & { engine: string }>;
  /** Why a live engine has paused its downloads (low disk), if one has. */
  downloadsPaused: string[];
}

/** Stat-ing every waiting job to find the oldest stops here, so status stays quick on huge spools. */
const OLDEST_SCAN_LIMIT = 200_000;
/** Failed jobs read per country to rank failure reasons. */
const FAILURE_SAMPLE = 5_000;

const emptyCounts = (): Record<State, number> => ({ incoming: 0, downloaded: 0, thumbed: 0, failed: 0 });

/** Everything `imagesys status` reports, read from the spool alone (the daemon need not run). */
export async function gatherStatus(spool: string, tree: string, countries: readonly string[], now = Date.now()): Promise<StatusReport> {
  const counts: StatusReport['counts'] = {};
  const totals = emptyCounts();
  let batches = 0;
  let oldest: StatusReport['oldest'] = null;
  let statted = 0;
  const failures = new Map<string, { count: number; example: string }>();
  for (const country of countries) {
    const row = emptyCounts();
    for (const state of STATES) {
      const dir = stateDir(spool, state, country);
      for await (const name of listNames(dir)) {
        if (isVisible(name, '.urls') && state === 'incoming') {
          batches++;
          continue;
        }
        if (!isVisible(name, JOB_SUFFIX)) continue;
        row[state]++;
        if ((state === 'incoming' || state === 'downloaded') && statted < OLDEST_SCAN_LIMIT) {
          statted++;
          const mtime = await mtimeOf(join(dir, name));
          if (mtime !== undefined) {
            const ageSeconds = Math.max(0, Math.round((now - mtime) / 1000));
            if (!oldest || ageSeconds > oldest.ageSeconds) oldest = { country, state, job: name, ageSeconds };
          }
        }
        if (state === 'failed' && row.failed <= FAILURE_SAMPLE) {
          const reason = await failureOf(join(dir, name));
          if (reason) {
            const entry = failures.get(reason.code) ?? { count: 0, example: reason.example };
            entry.count++;
            failures.set(reason.code, entry);
          }
        }
      }
      totals[state] += row[state];
    }
    counts[country] = row;
  }
  return {
    spool,
    tree,
    at: new Date(now).toISOString(),
    counts,
    totals,
    batches,
    oldest,
    failures: [...failures.entries()].map(([code, v]) => ({ code, ...v })).sort((a, b) => b.count - a.count).slice(0, 10),
    disk: [await disk(spool), await disk(tree)].filter((d): d is DiskInfo => d !== undefined),
    ...(await enginesOf(spool, now)),
  };
}

async function enginesOf(spool: string, now: number): Promise<Pick<StatusReport, 'engines' | 'paused' | 'downloadsPaused'>> {
  const engines = await readDaemonStates(spool, now);
  const alive = engines.filter((e) => e.alive);
  return {
    engines,
    paused: alive.flatMap((e) => e.paused.map((p) => ({ ...p, engine: `${e.host}~${e.pid}` }))),
    downloadsPaused: alive.flatMap((e) => (e.downloadsPaused ? [`${e.host}~${e.pid}: ${e.downloadsPaused}`] : [])),
  };
}

async function* listNames(dir: string): AsyncGenerator<string> {
  for await (const entry of entriesOf(dir)) yield entry.name;
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function failureOf(path: string): Promise<{ code: string; example: string } | undefined> {
  try {
    const job = JSON.parse(await readFile(path, 'utf8')) as { errorCode?: string; error?: string; url?: string };
    return { code: job.errorCode ?? 'unknown', example: `${job.url ?? '?'}: ${job.error ?? ''}` };
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

const pad = (text: string | number, width: number): string => String(text).padStart(width);

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`;
}

/** The text form of a status report: a table per country, then what needs attention. Pure. */
export function formatStatus(report: StatusReport): string {
  const lines = [`spool ${report.spool}   tree ${report.tree}`, '', `country ${STATES.map((s) => pad(s, 11)).join('')}`];
  for (const [country, row] of Object.entries(report.counts)) lines.push(`${country.padEnd(7)} ${STATES.map((s) => pad(row[s], 11)).join('')}`);
  lines.push(`${'total'.padEnd(7)} ${STATES.map((s) => pad(report.totals[s], 11)).join('')}`);
  if (report.batches > 0) lines.push('', `${report.batches} batch file(s) waiting to be read`);
  lines.push('', report.oldest ? `oldest waiting job: ${report.oldest.country}/${report.oldest.job} in ${report.oldest.state}/, ${formatDuration(report.oldest.ageSeconds)} old` : 'no job waiting');
  if (report.failures.length > 0) {
    lines.push('', 'top failure reasons:');
    for (const f of report.failures) lines.push(`${pad(f.count, 8)}  ${f.code.padEnd(20)} e.g. ${f.example.slice(0, 120)}`);
  }
  lines.push('');
  for (const d of report.disk) lines.push(`disk ${d.path}: ${formatBytes(d.freeBytes)} free of ${formatBytes(d.totalBytes)}`);
  lines.push('');
  if (report.engines.length === 0) lines.push('engines: none has run on this spool lately');
  for (const e of report.engines) {
    const seen = Math.max(0, Math.round((Date.parse(report.at) - Date.parse(e.updatedAt)) / 1000));
    const up = Math.max(0, Math.round((Date.parse(e.updatedAt) - Date.parse(e.startedAt)) / 1000));
    const state = e.alive ? `running ${formatDuration(up)}` : `NOT RUNNING, last seen ${formatDuration(seen)} ago`;
    lines.push(`engine ${e.host}~${e.pid} (${e.mode}, ${e.countries.join(' ')}): ${state}; ${e.stats.thumbed} thumbed, ${e.stats.failed} failed, ${e.stats.retries} retries, ${e.stats.stuck} stuck, ${e.queued.active} in progress, ${e.queued.waiting} waiting`);
  }
  for (const reason of report.downloadsPaused) lines.push(`DOWNLOADS PAUSED ${reason}`);
  if (report.paused.length > 0) {
    lines.push('', 'paused sources (failing too often; their jobs wait):');
    for (const p of report.paused) lines.push(`  ${p.source.padEnd(40)} until ${p.until}  ${p.failures}/${p.attempts} failed, pause #${p.strikes}${p.lastFailure ? `, last: ${p.lastFailure}` : ''}`);
  }
  return lines.join('\n');
}

/**
 * `imagesys report`, like the old worker report: per process and per host, images per hour and
 * failures over the last 24 hours, from the engines' history files (engine/observe/history.ts).
 */
import { padLeft, plural } from './format.js';
import { addCounts, emptyCounts, minuteOf, type MinuteCounts, type ProcessHistory } from './history.js';

export interface HourRow extends MinuteCounts {
  /** The hour's start (ISO). */
  hour: string;
}

export interface ProcessReport {
  process: string;
  host: string;
  pid: number;
  startedAt: string;
  hours: HourRow[];
  total: MinuteCounts;
}

export interface WorkReport {
  since: string;
  until: string;
  hours: number;
  processes: ProcessReport[];
  hosts: Array<{ host: string; processes: number; hours: HourRow[]; total: MinuteCounts }>;
  total: MinuteCounts;
}

const HOUR_MS = 3_600_000;
const hourOf = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;

function byHour(histories: readonly ProcessHistory[], since: number): HourRow[] {
  const hours = new Map<number, MinuteCounts>();
  for (const history of histories) {
    for (const minute of history.minutes) {
      const at = Date.parse(minute.t);
      if (at < minuteOf(since)) continue;
      const hour = hourOf(at);
      addCounts(hours.get(hour) ?? hours.set(hour, emptyCounts()).get(hour)!, minute);
    }
  }
  return [...hours].sort((a, b) => a[0] - b[0]).map(([hour, counts]) => ({ hour: new Date(hour).toISOString(), ...counts }));
}

const totalOf = (rows: readonly MinuteCounts[]): MinuteCounts => rows.reduce((sum, row) => addCounts(sum, row), emptyCounts());

/** Groups the histories' minutes since `now - hours` by process, host and hour. Pure. */
export function buildReport(histories: readonly ProcessHistory[], now: number, hours: number): WorkReport {
  const since = now - hours * HOUR_MS;
  const processes = histories
    .map((h) => {
      const rows = byHour([h], since);
      return { process: `${h.host}~${h.pid}`, host: h.host, pid: h.pid, startedAt: h.startedAt, hours: rows, total: totalOf(rows) };
    })
    .filter((p) => p.hours.length > 0);
  const hostNames = [...new Set(processes.map((p) => p.host))].sort();
  const hosts = hostNames.map((host) => {
    const rows = byHour(histories.filter((h) => h.host === host), since);
    return { host, processes: processes.filter((p) => p.host === host).length, hours: rows, total: totalOf(rows) };
  });
  return { since: new Date(since).toISOString(), until: new Date(now).toISOString(), hours, processes, hosts, total: totalOf(hosts.map((h) => h.total)) };
}

function topFailure(codes: Record<string, number>): string {
  const top = Object.entries(codes).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
  return top ? `${top[0]} ${top[1]}` : '';
}

function row(label: string, counts: MinuteCounts): string {
  return `${label.padEnd(34)}${padLeft(counts.thumbed, 9)}${padLeft(counts.skipped, 9)}${padLeft(counts.failed, 8)}${padLeft(counts.retries, 9)}  ${topFailure(counts.codes)}`;
}

const HEADER = `${''.padEnd(34)}${padLeft('thumbed', 9)}${padLeft('in tree', 9)}${padLeft('failed', 8)}${padLeft('retries', 9)}  top failure`;
const hourLabel = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;

/** The text form: each process's hours, each host's hours, then a one-line summary. Pure. */
export function formatReport(report: WorkReport): string {
  const lines: string[] = [`work of the last ${report.hours} h (${hourLabel(report.since)} to ${hourLabel(report.until)} UTC), per hour`];
  if (report.processes.length === 0) lines.push('', 'no engine did any work in that time (history files: spool/.state/history/)');
  for (const p of report.processes) {
    lines.push('', `process ${p.process} (started ${p.startedAt})`, HEADER);
    for (const h of p.hours) lines.push(row(`  ${hourLabel(h.hour)}`, h));
    lines.push(row('  total', p.total));
  }
  for (const h of report.hosts) {
    lines.push('', `host ${h.host} (${plural(h.processes, 'process', 'processes')})`, HEADER);
    for (const r of h.hours) lines.push(row(`  ${hourLabel(r.hour)}`, r));
    lines.push(row('  total', h.total));
  }
  const t = report.total;
  const perHour = Math.round((t.thumbed + t.skipped) / report.hours);
  lines.push('', `report: ${t.thumbed} thumbed, ${t.skipped} already in tree, ${t.failed} failed, ${t.retries} retries by ${report.processes.length} process(es) on ${report.hosts.length} host(s) in ${report.hours} h (${perHour} images/h)`);
  return lines.join('\n');
}

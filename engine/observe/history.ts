/**
 * What each engine did, minute by minute: the numbers behind the status page's charts and
 * `imagesys report`. Each engine appends its finished minutes to
 * `spool/.state/history/<host>~<pid>~<start ms>.jsonl` (one JSON line a minute with any work) and
 * shows the minute in progress in its state file, so readers see every engine of the spool, live or
 * gone, without asking any of them. Files older than two days are removed by readers.
 */
import { readOwnText } from '../../spool/safe-open.js';
import { appendFile, mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { historyDir, historyPath } from '../../spool/layout.js';
import { systemClock } from '../core/clock.js';

export interface MinuteCounts {
  thumbed: number;
  skipped: number;
  failed: number;
  retries: number;
  bytesIn: number;
  bytesOut: number;
  /** Failed jobs by error code. */
  codes: Record<string, number>;
}

/** One engine's minute. `t` is the minute's start (ISO). */
export interface MinuteRecord extends MinuteCounts {
  t: string;
}

export type CountedEvent = 'thumbed' | 'skipped' | 'failed' | 'retries';

const MINUTE_MS = 60_000;
/** History files not written to for this long are removed. */
const KEEP_MS = 2 * 86_400_000;

export const emptyCounts = (): MinuteCounts => ({ thumbed: 0, skipped: 0, failed: 0, retries: 0, bytesIn: 0, bytesOut: 0, codes: {} });

export const minuteOf = (ms: number): number => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/** Adds `b` into `a`. */
export function addCounts(a: MinuteCounts, b: Partial<MinuteCounts>): MinuteCounts {
  a.thumbed += b.thumbed ?? 0;
  a.skipped += b.skipped ?? 0;
  a.failed += b.failed ?? 0;
  a.retries += b.retries ?? 0;
  a.bytesIn += b.bytesIn ?? 0;
  a.bytesOut += b.bytesOut ?? 0;
  for (const [code, n] of Object.entries(b.codes ?? {})) a.codes[code] = (a.codes[code] ?? 0) + n;
  return a;
}

const isEmpty = (c: MinuteCounts): boolean => c.thumbed + c.skipped + c.failed + c.retries + c.bytesIn + c.bytesOut === 0;

/** An engine's counts per minute, in memory until the minute is over. Pure (time is passed in). */
export class MinuteBuckets {
  private readonly open = new Map<number, MinuteCounts>();

  private bucket(now: number): MinuteCounts {
    const minute = minuteOf(now);
    let counts = this.open.get(minute);
    if (!counts) this.open.set(minute, (counts = emptyCounts()));
    return counts;
  }

  count(event: CountedEvent, now: number, code?: string): void {
    const counts = this.bucket(now);
    counts[event]++;
    if (event === 'failed' && code) counts.codes[code] = (counts.codes[code] ?? 0) + 1;
  }

  bytes(direction: 'bytesIn' | 'bytesOut', n: number, now: number): void {
    this.bucket(now)[direction] += n;
  }

  /** The minute in progress (for the state file). */
  current(now: number): MinuteRecord {
    const minute = minuteOf(now);
    return { t: new Date(minute).toISOString(), ...(this.open.get(minute) ?? emptyCounts()) };
  }

  /** Minutes taken out whose history could not be written: kept for the next try. */
  putBack(minutes: readonly MinuteRecord[]): void {
    for (const { t, ...counts } of minutes) addCounts(this.bucket(Date.parse(t)), counts);
  }

  /** Takes out the minutes that are over (all of them with `all`), oldest first, empty ones dropped. */
  takeFinished(now: number, all = false): MinuteRecord[] {
    const cutoff = all ? Infinity : minuteOf(now);
    const done: MinuteRecord[] = [];
    for (const [minute, counts] of [...this.open].sort((a, b) => a[0] - b[0])) {
      if (minute >= cutoff) continue;
      this.open.delete(minute);
      if (!isEmpty(counts)) done.push({ t: new Date(minute).toISOString(), ...counts });
    }
    return done;
  }
}

export { historyDir } from '../../spool/layout.js';

/** One process: the history file's name without its suffix. */
export function processKey(host: string, pid: number, startedAt: number): string {
  return `${host}~${pid}~${startedAt}`;
}

export async function appendHistory(spool: string, key: string, minutes: readonly MinuteRecord[]): Promise<void> {
  if (minutes.length === 0) return;
  await mkdir(historyDir(spool), { recursive: true });
  await appendFile(historyPath(spool, `${key}.jsonl`), minutes.map((m) => `${JSON.stringify(m)}\n`).join(''));
}

export interface ProcessHistory {
  key: string;
  host: string;
  pid: number;
  startedAt: string;
  minutes: MinuteRecord[];
}

function parseKey(key: string): Pick<ProcessHistory, 'host' | 'pid' | 'startedAt'> | undefined {
  const match = /^(.+)~(\d+)~(\d+)$/.exec(key);
  if (!match) return undefined;
  return { host: match[1]!, pid: Number(match[2]), startedAt: new Date(Number(match[3])).toISOString() };
}

function parseMinute(line: string): MinuteRecord | undefined {
  try {
    const m = JSON.parse(line) as MinuteRecord;
    return typeof m.t === 'string' && Number.isFinite(Date.parse(m.t)) ? { t: m.t, ...addCounts(emptyCounts(), m) } : undefined;
  } catch {
    return undefined; // a line cut short by a crash
  }
}

/**
 * Every process's minutes since `since`, from the history files, plus the minutes in progress that
 * `current` gives (from the state files) where the file does not hold them yet.
 */
export async function readHistory(spool: string, since: number, current: ReadonlyArray<{ key: string; minute: MinuteRecord }> = [], now: number = systemClock()): Promise<ProcessHistory[]> {
  const dir = historyDir(spool);
  const byKey = new Map<string, ProcessHistory>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.jsonl') || name.startsWith('.')) continue;
    const key = name.slice(0, -'.jsonl'.length);
    const who = parseKey(key);
    if (!who) continue;
    const path = historyPath(spool, name);
    const mtime = await stat(path).then((s) => s.mtimeMs, () => 0);
    if (now - mtime > KEEP_MS) {
      await unlink(path).catch(() => {});
      continue;
    }
    if (mtime < since) continue;
    const text = (await readOwnText(path).catch(() => undefined)) ?? '';
    const minutes = text.split('\n').map(parseMinute).filter((m): m is MinuteRecord => m !== undefined && Date.parse(m.t) >= minuteOf(since));
    byKey.set(key, { key, ...who, minutes });
  }
  for (const { key, minute } of current) {
    const who = parseKey(key);
    if (!who || Date.parse(minute.t) < minuteOf(since) || isEmpty(minute)) continue;
    const entry = byKey.get(key) ?? { key, ...who, minutes: [] };
    if (!entry.minutes.some((m) => m.t === minute.t)) entry.minutes.push(minute);
    byKey.set(key, entry);
  }
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
}

/** The minutes in progress that engines' state files show (readHistory's `current`). */
export function minutesInProgress(states: ReadonlyArray<{ historyKey?: string; currentMinute?: MinuteRecord }>): Array<{ key: string; minute: MinuteRecord }> {
  return states.flatMap((s) => (s.historyKey && s.currentMinute ? [{ key: s.historyKey, minute: s.currentMinute }] : []));
}

/** Sums minutes into fixed slots of `slotMs` from `from` to `to` (exclusive), zeros where idle. Pure. */
export function slotted(minutes: readonly MinuteRecord[], from: number, to: number, slotMs: number): MinuteRecord[] {
  const start = Math.floor(from / slotMs) * slotMs;
  const slots: MinuteRecord[] = [];
  for (let t = start; t < to; t += slotMs) slots.push({ t: new Date(t).toISOString(), ...emptyCounts() });
  for (const m of minutes) {
    const index = Math.floor((Date.parse(m.t) - start) / slotMs);
    if (index >= 0 && index < slots.length) addCounts(slots[index]!, m);
  }
  return slots;
}

/** The sum of the minutes at or after `since`. Pure. */
export function sumSince(minutes: readonly MinuteRecord[], since: number): MinuteCounts {
  const total = emptyCounts();
  for (const m of minutes) if (Date.parse(m.t) >= minuteOf(since)) addCounts(total, m);
  return total;
}

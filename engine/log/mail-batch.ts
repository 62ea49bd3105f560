/**
 * What a mail alert says: the log events gathered since the last mail, counted per kind (the message,
 * with the event's error code when it has one), with the first few of each kind as examples, and the
 * mail's subject and text rendered from them. Counts stay exact however many events come; what is
 * stored (examples, kinds) is bounded by MAIL_LIMITS. Pure: no I/O, no clock.
 */
import { pino } from 'pino';

/** A log line as pino wrote it, parsed. */
export interface LogEvent {
  level: number;
  time: number;
  msg?: string;
  [field: string]: unknown;
}

export interface MailLimits {
  /** Examples kept per kind (the first ones). */
  examplesPerKind: number;
  /** Examples kept in all. */
  examplesTotal: number;
  /** Kinds counted apart; the events of any further kind are counted under OTHER_KINDS. */
  kinds: number;
  /** An example is cut to this many characters. */
  exampleChars: number;
}

export const MAIL_LIMITS: Readonly<MailLimits> = Object.freeze({ examplesPerKind: 5, examplesTotal: 20, kinds: 50, exampleChars: 1_000 });

/** The kind that events of kinds past `MailLimits.kinds` are counted under. */
export const OTHER_KINDS = '(other messages)';


export interface Kind {
  /** The message, with ` [code]` when the events carry an error code. */
  label: string;
  /** The highest level seen among its events. */
  level: number;
  count: number;
  firstAt: number;
  lastAt: number;
  /** The first events, each one line: the time, then its fields as JSON. */
  examples: string[];
}

/** Fields every line has, or that the example shows apart. */
const LEFT_OUT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** The kind an event belongs to: its message, and its error code when it has one. */
export function kindOf(event: LogEvent): string {
  const msg = typeof event.msg === 'string' && event.msg !== '' ? event.msg : '(no message)';
  const err = event.err as { code?: unknown } | undefined;
  const code = typeof event.code === 'string' ? event.code : typeof err?.code === 'string' ? err.code : undefined;
  return code ? `${msg} [${code}]` : msg;
}

/** One event as an example line: its time (UTC) and its own fields, cut to `chars`. */
export function exampleOf(event: LogEvent, chars: number): string {
  const fields = Object.fromEntries(Object.entries(event).filter(([name]) => !LEFT_OUT.has(name)));
  const line = `${isoTime(event.time)} ${JSON.stringify(fields)}`;
  return line.length > chars ? `${line.slice(0, chars - 3)}...` : line;
}

function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '(no time)';
}

/** The events waiting for a mail. */
export class AlertBatch {
  private readonly kinds = new Map<string, Kind>();
  private examples = 0;
  /** Mails of these events that could not be sent. */
  failedSends = 0;

  constructor(private readonly limits: Readonly<MailLimits> = MAIL_LIMITS) {}

  /** Events held. */
  get count(): number {
    let n = 0;
    for (const kind of this.kinds.values()) n += kind.count;
    return n;
  }

  get empty(): boolean {
    return this.kinds.size === 0;
  }

  /** The kinds, most frequent first (then by label). */
  list(): Kind[] {
    return [...this.kinds.values()].sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
  }

  add(event: LogEvent): void {
    const time = typeof event.time === 'number' ? event.time : Number.NaN;
    this.addKind(kindOf(event), { level: event.level, count: 1, firstAt: time, lastAt: time, examples: [exampleOf(event, this.limits.exampleChars)] });
  }

  /** A batch whose mail failed, put before the events that came since: the next mail carries both. */
  static merged(older: AlertBatch, newer: AlertBatch): AlertBatch {
    const out = new AlertBatch(older.limits);
    for (const batch of [older, newer]) for (const kind of batch.kinds.values()) out.addKind(kind.label, kind);
    out.failedSends = older.failedSends + newer.failedSends;
    return out;
  }

  private addKind(label: string, from: Omit<Kind, 'label'>): void {
    const key = this.kinds.has(label) || this.kinds.size < this.limits.kinds ? label : OTHER_KINDS;
    let kind = this.kinds.get(key);
    if (!kind) {
      kind = { label: key, level: from.level, count: 0, firstAt: from.firstAt, lastAt: from.lastAt, examples: [] };
      this.kinds.set(key, kind);
    }
    kind.level = Math.max(kind.level, from.level);
    kind.count += from.count;
    kind.firstAt = Math.min(kind.firstAt, from.firstAt);
    kind.lastAt = Math.max(kind.lastAt, from.lastAt);
    for (const example of from.examples) {
      if (kind.examples.length >= this.limits.examplesPerKind || this.examples >= this.limits.examplesTotal) break;
      kind.examples.push(example);
      this.examples++;
    }
  }
}

export interface MailContext {
  /** The program's name in the subject (`imagesys`). */
  program: string;
  /** This machine's name. */
  host: string;
  /** The process that logged (`engine`) and its pid. */
  component: string;
  pid: number;
  /** The level mailed from (`error`) and the mails' least interval, for the text. */
  level: string;
  minIntervalMinutes: number;
}

/** A level's name, as pino names its numbers. */
function levelName(level: number): string {
  return pino.levels.labels[level] ?? `level ${level}`;
}

const PLURAL: Readonly<Record<string, string>> = { fatal: 'fatal', error: 'errors', warn: 'warnings' };
const SINGULAR: Readonly<Record<string, string>> = { fatal: 'fatal', error: 'error', warn: 'warning' };

/** `2 errors, 9 warnings`: the events counted by level, the highest first. */
export function levelCounts(kinds: readonly Kind[]): string {
  const counts = new Map<string, number>();
  for (const kind of [...kinds].sort((a, b) => b.level - a.level)) counts.set(levelName(kind.level), (counts.get(levelName(kind.level)) ?? 0) + kind.count);
  return [...counts].map(([name, n]) => `${n} ${(n === 1 ? SINGULAR : PLURAL)[name] ?? name}`).join(', ');
}

/** The mail for a batch: its subject (`imagesys on web1: 2 errors, 9 warnings (3 kinds)`) and its plain text. */
export function renderAlertMail(batch: AlertBatch, context: MailContext): { subject: string; text: string } {
  const kinds = batch.list();
  const total = batch.count;
  const subject = `${context.program} on ${context.host}: ${levelCounts(kinds)} (${kinds.length} ${kinds.length === 1 ? 'kind' : 'kinds'})`;
  const first = Math.min(...kinds.map((k) => k.firstAt));
  const last = Math.max(...kinds.map((k) => k.lastAt));
  const width = String(Math.max(...kinds.map((k) => k.count))).length;
  const text = [
    `${context.program} ${context.component} on ${context.host} (pid ${context.pid}) logged ${total} ${total === 1 ? 'line' : 'lines'} at ${context.level} or above from ${isoTime(first)} to ${isoTime(last)}.`,
    batch.failedSends > 0 ? `They include lines whose mail could not be sent (${batch.failedSends} ${batch.failedSends === 1 ? 'try' : 'tries'} failed).` : '',
    `At most one mail goes every ${context.minIntervalMinutes} min (alert.minIntervalMinutes); the log holds every line.`,
    '',
    'Lines per message:',
    ...kinds.map((k) => `  ${String(k.count).padStart(width)}  ${levelName(k.level).padEnd(5)}  ${k.label}`),
    '',
    'The first of each:',
    ...kinds.flatMap((k) => (k.examples.length === 0 ? [] : ['', `${k.label} (${k.count}):`, ...k.examples.map((e) => `  ${e}`)])),
    '',
  ]
    .filter((line, i, lines) => line !== '' || lines[i - 1] !== '')
    .join('\n');
  return { subject, text };
}

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { LogFile } from './log-file.js';

export interface LoggerOptions {
  level: string;
  /** Component name: the log files are `<component>.log` and `<component>.error.log`. */
  component: string;
  /** With --daemon: write `<component>.log` and `<component>.error.log` under this directory. */
  dir?: string;
  /** With `dir`: a file is rotated before it would grow past this size (default 64 MiB). */
  maxBytes?: number;
  /** With `dir`: rotated files kept per log file (default 10). */
  keep?: number;
  /** With `dir`: the clock that decides when a day ends (tests cross midnight with it). */
  now?: () => number;
  /** Readable lines instead of JSON (foreground on a terminal). */
  pretty?: boolean;
  /** One more stream, whatever the mode, for the lines at or above its level (mail alerts: engine/log/mailer.ts). */
  extra?: ExtraStream;
}

/** A stream that takes each serialized line at or above `level` (whatever `LoggerOptions.level` is). */
export interface ExtraStream {
  level: string;
  write(line: string): void;
}

/** The lower of two level names: the logger must make the lines of both its own level and the extra stream's. */
function lowerLevel(a: string, b: string): string {
  return pino.levels.values[a]! <= pino.levels.values[b]! ? a : b;
}

/** The files behind each logger createLogger made with `dir`, for reopenLogFiles. */
const filesOf = new WeakMap<Logger, LogFile[]>();

/**
 * One logger per process, its lines named after the process (`name`); its parts take child loggers
 * with a `component` (intake, jobs, health, http) and jobs children of those with their hash.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { name: options.component };
  const extra = options.extra ? [{ level: options.extra.level, stream: options.extra }] : [];
  const level = options.extra ? lowerLevel(options.level, options.extra.level) : options.level;
  if (options.dir) {
    mkdirSync(options.dir, { recursive: true });
    const rotation = { maxBytes: options.maxBytes ?? 64 * 1024 * 1024, keep: options.keep ?? 10, ...(options.now ? { now: options.now } : {}) };
    const all = new LogFile(join(options.dir, `${options.component}.log`), rotation);
    const errors = new LogFile(join(options.dir, `${options.component}.error.log`), rotation);
    const streams = pino.multistream([
      { level: options.level, stream: all },
      // the error log holds warnings and worse, but only those the log's level lets through
      { level: lowerLevel('warn', options.level) === 'warn' ? options.level : 'warn', stream: errors }, // the higher of the two
      ...extra,
    ]);
    const log = pino({ level, base }, streams);
    filesOf.set(log, [all, errors]);
    return log;
  }
  const out = options.pretty
    ? pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname,name,component', messageFormat: '{if component}[{component}] {end}{msg}', translateTime: 'HH:MM:ss' } })
    : pino.destination(2);
  if (extra.length === 0) return pino({ level, base }, out);
  return pino({ level, base }, pino.multistream([{ level: options.level, stream: out }, ...extra]));
}

/**
 * Reopens the log files behind `log` (the logger createLogger returned, not a child): after
 * logrotate renamed them, on SIGHUP. False when `log` writes to no files of its own.
 */
export function reopenLogFiles(log: Logger): boolean {
  const files = filesOf.get(log);
  for (const file of files ?? []) file.reopen();
  return files !== undefined;
}

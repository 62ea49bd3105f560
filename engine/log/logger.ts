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
}

/** The files behind each logger createLogger made with `dir`, for reopenLogFiles. */
const filesOf = new WeakMap<Logger, LogFile[]>();

/**
 * One logger per process, its lines named after the process (`name`); its parts take child loggers
 * with a `component` (intake, jobs, health, http) and jobs children of those with their hash.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { name: options.component };
  if (options.dir) {
    mkdirSync(options.dir, { recursive: true });
    const rotation = { maxBytes: options.maxBytes ?? 64 * 1024 * 1024, keep: options.keep ?? 10, ...(options.now ? { now: options.now } : {}) };
    const all = new LogFile(join(options.dir, `${options.component}.log`), rotation);
    const errors = new LogFile(join(options.dir, `${options.component}.error.log`), rotation);
    const streams = pino.multistream([
      { level: options.level, stream: all },
      { level: 'warn', stream: errors },
    ]);
    const log = pino({ level: options.level, base }, streams);
    filesOf.set(log, [all, errors]);
    return log;
  }
  if (options.pretty) {
    return pino({ level: options.level, base }, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname,name,component', messageFormat: '{if component}[{component}] {end}{msg}', translateTime: 'HH:MM:ss' } }));
  }
  return pino({ level: options.level, base }, pino.destination(2));
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

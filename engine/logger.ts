import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Component name: the log file is `<component>.log`. */
  component: string;
  /** With --daemon: write `<component>.log` and `<component>.error.log` under this directory. */
  dir?: string;
  /** Readable lines instead of JSON (foreground on a terminal). */
  pretty?: boolean;
}

/** One logger per process; stages and jobs take child loggers from it. */
export function createLogger(options: LoggerOptions): Logger {
  const base = { component: options.component };
  if (options.dir) {
    mkdirSync(options.dir, { recursive: true });
    const streams = pino.multistream([
      { level: options.level as pino.Level, stream: pino.destination({ dest: join(options.dir, `${options.component}.log`), mkdir: true, sync: false }) },
      { level: 'warn', stream: pino.destination({ dest: join(options.dir, `${options.component}.error.log`), mkdir: true, sync: false }) },
    ]);
    return pino({ level: options.level, base }, streams);
  }
  if (options.pretty) {
    return pino({ level: options.level, base }, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname,component', translateTime: 'HH:MM:ss' } }));
  }
  return pino({ level: options.level, base }, pino.destination(2));
}

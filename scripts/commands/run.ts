import type { Logger } from 'pino';
import type { Config } from '../../engine/config.js';
import { Engine } from '../../engine/engine.js';
import { createLogger } from '../../engine/logger.js';
import { setPriority } from 'node:os';

export interface RunArgs {
  once: boolean;
  daemon: boolean;
  countries: string[];
  verbose: boolean;
}

function summary(engine: Engine, seconds: number): string {
  const s = engine.stats;
  const codes = Object.entries(s.failuresByCode).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([code, n]) => `${code} ${n}`).join(', ');
  return `run: ${s.thumbed} thumbed, ${s.skipped} already in tree, ${s.failed} failed${codes ? ` (${codes})` : ''}, ${s.retries} retries, ${s.spilled} via downloaded/, ${s.batches} batches read in ${seconds.toFixed(1)}s`;
}

/** `imagesys run`: the daemon, or with --once a drain of what is queued. */
export async function runCommand(config: Config, args: RunArgs): Promise<number> {
  const log: Logger = createLogger({
    level: config.log.level,
    component: 'engine',
    ...(args.daemon ? { dir: config.log.dir } : { pretty: process.stderr.isTTY }),
  });
  if (config.pool.nice > 0) {
    try {
      setPriority(config.pool.nice);
    } catch {
      log.warn({ nice: config.pool.nice }, 'could not lower the process priority');
    }
  }
  const engine = new Engine({ config, countries: args.countries, log });
  const started = performance.now();
  if (args.once) {
    const progress = setInterval(() => {
      const s = engine.stats;
      process.stderr.write(`progress: ${s.thumbed} thumbed, ${s.failed} failed, ${s.retries} retries, ${engine.queueDepth} in queue, ${engine.deferredCount} waiting to retry\n`);
    }, 2_000);
    try {
      await engine.drain();
    } finally {
      clearInterval(progress);
      await engine.stop();
    }
    console.log(summary(engine, (performance.now() - started) / 1000));
    return 0;
  }
  await engine.start();
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      log.info({ signal }, 'stopping: finishing the work in hand');
      resolve();
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
  await engine.stop();
  log.info({ ...engine.stats }, summary(engine, (performance.now() - started) / 1000));
  log.flush?.();
  return 0;
}

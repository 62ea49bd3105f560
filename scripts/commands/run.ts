import type { Logger } from 'pino';
import type { Config } from '../../engine/config/config.js';
import { Engine } from '../../engine/engine.js';
import { Observability } from '../../engine/observe/observability.js';
import { createLogger, reopenLogFiles } from '../../engine/log/logger.js';
import { allowCanaries, startCanary } from '../../engine/canary/start.js';
import { AlertMailer, mailsAlerts } from '../../engine/log/mailer.js';
import { systemClock } from '../../engine/core/clock.js';
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
  // mail alerts, in every mode of run (the sweeper has none: cron mails its output)
  const mailer = mailsAlerts(config.alert) ? new AlertMailer({ settings: config.alert, component: 'engine', clock: systemClock }) : undefined;
  const log: Logger = createLogger({
    level: config.log.level,
    component: 'engine',
    ...(args.daemon ? { dir: config.log.dir, maxBytes: config.log.maxMiB * 1024 * 1024, keep: config.log.keep } : { pretty: process.stderr.isTTY }),
    ...(mailer ? { extra: mailer } : {}),
  });
  mailer?.useLog(log);
  try {
    return await runEngine(config, args, log);
  } catch (error) {
    // said through the log too, so that a daemon's death is mailed (alert.email) and kept in its error log
    log.fatal({ err: error }, 'imagesys run stopped by an error');
    throw error;
  } finally {
    // whatever ends the run, what waits for a mail is sent (for at most a few seconds)
    await mailer?.close();
  }
}

/** The engine's run, in both modes, with the process's logger. */
async function runEngine(config: Config, args: RunArgs, log: Logger): Promise<number> {
  if (args.daemon) {
    // for logrotate: it renames the files, then sends SIGHUP so that new lines go to new files
    process.on('SIGHUP', () => {
      reopenLogFiles(log);
      log.info({ signal: 'SIGHUP', dir: config.log.dir }, 'log files reopened');
    });
  }
  if (process.env.UV_THREADPOOL_SIZE === undefined) {
    // only the environment can size libuv's pool (bin/imagesys sets it): 4 threads for fs and sharp
    log.warn('UV_THREADPOOL_SIZE is not set: libuv runs 4 threads for all file system work; start imagesys through bin/imagesys');
  }
  if (config.pool.nice > 0) {
    try {
      setPriority(config.pool.nice);
    } catch {
      log.warn({ nice: config.pool.nice }, 'could not lower the process priority');
    }
  }
  const observability: Observability = new Observability(config, args.countries, () => engine.liveFigures(), log);
  const engine: Engine = new Engine({ config, countries: args.countries, log, observer: observability.metrics });
  const announce = async (): Promise<string | undefined> => {
    const url = await observability.serve();
    if (url) engine.announce(url);
    return url;
  };
  const started = performance.now();
  if (args.once) {
    const progress = setInterval(() => {
      const s = engine.stats;
      process.stderr.write(`progress: ${s.thumbed} thumbed, ${s.failed} failed, ${s.retries} retries, ${engine.queueDepth} in queue, ${engine.deferredCount} waiting to retry\n`);
    }, 2_000);
    // a signal stops the drain as it stops the daemon: the work in hand is finished, the rest stays queued
    let stoppedBy: string | undefined;
    let stopping: Promise<void> | undefined;
    const onSignal = (signal: string): void => {
      stoppedBy ??= signal;
      log.info({ signal }, 'stopping: finishing the work in hand');
      stopping ??= engine.stop();
    };
    const onInt = (): void => onSignal('SIGINT');
    const onTerm = (): void => onSignal('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    try {
      await announce();
      await engine.drain();
    } finally {
      clearInterval(progress);
      await (stopping ?? engine.stop());
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      await observability.close();
    }
    const unread = [...engine.unreadable].map(([dir, code]) => `${dir} (${code})`);
    const notes = [stoppedBy ? `stopped by ${stoppedBy}: the rest stays queued` : '', unread.length > 0 ? `could not read ${unread.join(', ')}` : ''].filter(Boolean);
    console.log(`${summary(engine, (performance.now() - started) / 1000)}${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`);
    return unread.length > 0 ? 1 : 0;
  }
  // the server first: the canaries' source is known before the engine takes its first job
  const serverUrl = await announce();
  const wiring = { config, countries: args.countries, spool: engine.spool, downloader: engine.downloader, observer: observability.metrics.canary, serverUrl, log: log.child({ component: 'canary' }) };
  const canaryFrom = allowCanaries(wiring);
  await engine.start();
  const canary = canaryFrom === undefined ? undefined : await startCanary(wiring, canaryFrom);
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      log.info({ signal }, 'stopping: finishing the work in hand');
      resolve();
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
  await canary?.stop();
  await engine.stop();
  await observability.close();
  log.info({ ...engine.stats }, summary(engine, (performance.now() - started) / 1000));
  log.flush?.();
  return 0;
}

/** Whether and how this daemon sends canaries: the origin they come from, the runner started. */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { canaryEnabled } from '../config/config.js';
import { systemClock } from '../core/clock.js';
import type { Downloader } from '../download/downloader.js';
import type { Spool } from '../../spool/spool.js';
import { CanaryRunner, type CanaryObserver } from './canary.js';

/** This daemon's server as its own downloader reaches it: an unspecified listen address is reached on loopback. Pure. */
export function selfOrigin(serverUrl: string): string {
  const url = new URL(serverUrl);
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  return url.origin;
}

export interface CanaryWiring {
  config: Config;
  /** The countries this daemon works on: it sends canaries only if the canary's country is one. */
  countries: readonly string[];
  spool: Spool;
  downloader: Downloader;
  observer: CanaryObserver;
  /** Where this daemon's HTTP server listens, if it does. */
  serverUrl: string | undefined;
  log: Logger;
}

/** Starts sending canaries, or says why not; undefined when this daemon sends none. */
export async function startCanary(w: CanaryWiring): Promise<CanaryRunner | undefined> {
  const { config, log } = w;
  if (!canaryEnabled(config) || !w.countries.includes(config.canary.country)) return undefined;
  const origin = config.canary.source === 'self' ? w.serverUrl && selfOrigin(w.serverUrl) : config.canary.source;
  if (!origin) {
    log.error({ source: config.canary.source }, 'canaries not sent: canary.source is "self" but this daemon serves no HTTP (http.listen)');
    return undefined;
  }
  w.downloader.allowCanaryFrom(origin);
  const runner = new CanaryRunner({ config, spool: w.spool, clock: systemClock, log, observer: w.observer, origin });
  await runner.start();
  log.info({ origin, everyMinutes: config.canary.intervalMinutes, deadlineMinutes: config.canary.deadlineMinutes }, 'canaries on');
  return runner;
}

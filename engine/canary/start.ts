/** Whether and how this daemon sends canaries: the origin they come from, the runner started. */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { canaryEnabled, parseListen } from '../config/config.js';
import { isIP } from 'node:net';
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

/**
 * Where canaries are downloaded from: `canary.source`, or for `self` the address this daemon's server
 * is bound to, or (when it could not listen: another daemon of this host has the port) `http.listen`
 * itself, whoever serves there. Undefined when there is no such address. Pure.
 */
export function canaryOrigin(config: Pick<Config, 'canary' | 'http'>, serverUrl: string | undefined): string | undefined {
  if (config.canary.source !== 'self') return config.canary.source;
  if (serverUrl) return selfOrigin(serverUrl);
  const listen = parseListen(config.http.listen);
  if (!listen || listen.port === 0 || isIP(listen.host) === 0) return undefined;
  return selfOrigin(`http://${isIP(listen.host) === 6 ? `[${listen.host}]` : listen.host}:${listen.port}`);
}

/** Whether this daemon works on canaries, and says why not when they are on but it does not. */
export function worksOnCanaries(config: Pick<Config, 'canary'>, countries: readonly string[], log: Logger): boolean {
  if (!canaryEnabled(config)) return false;
  if (countries.includes(config.canary.country)) return true;
  log.info({ canaryCountry: config.canary.country, countries }, 'this engine sends no canaries: its countries leave out the canary country (another engine of the spool must work on it)');
  return false;
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

/**
 * Lets this daemon's downloader fetch canaries (before it takes any job: a canary left queued by the
 * last run may be the first) and returns where they come from; undefined when this daemon works on none.
 */
export function allowCanaries(w: Omit<CanaryWiring, 'spool' | 'observer'>): string | undefined {
  const { config, log } = w;
  if (!worksOnCanaries(config, w.countries, log)) return undefined;
  const origin = canaryOrigin(config, w.serverUrl);
  if (!origin) {
    log.error({ source: config.canary.source, listen: config.http.listen }, 'canaries not sent: canary.source is "self" but this daemon serves no HTTP at an address (http.listen)');
    return undefined;
  }
  w.downloader.allowCanaryFrom(origin);
  return origin;
}

/** Starts sending canaries from `origin` (what allowCanaries returned). */
export async function startCanary(w: CanaryWiring, origin: string): Promise<CanaryRunner> {
  const { config, log } = w;
  const runner = new CanaryRunner({ config, spool: w.spool, clock: systemClock, log, observer: w.observer, origin });
  await runner.start();
  log.info({ origin, everyMinutes: config.canary.intervalMinutes, deadlineMinutes: config.canary.deadlineMinutes }, 'canaries on');
  return runner;
}

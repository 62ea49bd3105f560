import { availableParallelism } from 'node:os';
import { isAllowEntry } from '../core/address-guard.js';
import { destProblem, type SweepTarget } from './targets.js';
import type { BackoffPolicy } from '../core/backoff.js';
import type { OutputFormat, ProcessDetails, SizeSpec } from '../../workers/thumbnail-task.js';

export interface CountryThumbnails {
  sizes?: SizeSpec[];
  formats?: OutputFormat[];
  process?: Partial<ProcessDetails>;
  datasources?: Record<string, { process?: Partial<ProcessDetails> }>;
}

export interface Config {
  spool: string;
  tree: string;
  /** Countries the daemon watches and `status` reports (more appear as they are used). */
  countries: string[];
  /** Public base URL under which the tree is served; the Interface builds URLs from it. */
  baseUrl: string;
  thumbnails: {
    sizes: SizeSpec[];
    formats: OutputFormat[];
    process: ProcessDetails;
    /** Largest decoded image accepted, in pixels: stops decompression bombs. */
    maxPixels: number;
    countries: Record<string, CountryThumbnails>;
  };
  pool: {
    /** sharp worker threads. */
    threads: number;
    /** Images a thread works on at once: sharp's calls are asynchronous, so two keep a core busy. */
    tasksPerThread: number;
    /**
     * A downloaded image waits this long in memory for a free thread; then its original goes to
     * downloaded/ on disk and the download slot is freed (the thumbnail stage catches up from there).
     */
    spillAfterMs: number;
    /** Niceness applied to the process at start (0: unchanged). */
    nice: number;
  };
  download: {
    concurrency: number;
    perHost: number;
    /** Request starts per second to one host (0: no limit), on top of perHost. */
    perHostRate: number;
    connectTimeoutMs: number;
    headersTimeoutMs: number;
    bodyTimeoutMs: number;
    totalTimeoutMs: number;
    maxBytes: number;
    maxRedirects: number;
    userAgent: string;
    /**
     * Hosts (as in URLs) and address ranges (`127.0.0.1`, `10.0.0.0/8`, `fd00::/8`) that downloads may
     * reach although they are loopback, private, link-local, ...: none by default (SSRF guard).
     */
    allow: string[];
    /**
     * HTTP proxy for downloads: a URL (`http://proxy:3128`), `env` to follow HTTP_PROXY / HTTPS_PROXY /
     * NO_PROXY, or `none`. `imagesys run --noproxy` sets `none` for one run.
     */
    proxy: string;
  };
  retry: BackoffPolicy & { maxAttempts: number };
  claims: {
    /** A claim whose holder stopped refreshing it for this long is taken over. */
    staleMs: number;
  };
  intake: {
    /** A plain-written batch is read once its size and mtime were unchanged this long. */
    settleMs: number;
    /** Full rescan of the spool, for what the watcher missed. */
    rescanMs: number;
    /** Job names held in memory waiting for a slot, per stage. */
    queueLimit: number;
    /**
     * Accept URLs that carry `user:password@`. Off: they fail at intake as invalid_url. On: the job in
     * the spool keeps them (to download), the manifest, the status page and the logs never show them.
     */
    allowCredentials: boolean;
  };
  /** Self-healing: sources that keep failing are paused, jobs that stop moving are requeued. */
  health: {
    /** Failures are counted over this sliding window, per host and per datasource. */
    windowMs: number;
    /** Attempts in the window before a failure rate is judged at all. */
    minSamples: number;
    /** Share of transient failures (0-1) at which a host or datasource is paused. */
    failureRate: number;
    /** First pause; each failed probe afterwards doubles it, up to maxCoolOffMs. */
    coolOffMs: number;
    maxCoolOffMs: number;
    /** A job in progress that made no progress for this long is aborted and retried later. */
    stuckMs: number;
  };
  /** Downloads pause while the spool's or the tree's file system has less free space than this. */
  disk: {
    minFreeMiB: number;
    checkMs: number;
  };
  fsync: boolean;
  sweep: {
    /** The frontends' copies of the tree: a local directory, host:/path (ssh) or rsync://host:port/module/path. */
    targets: SweepTarget[];
    /** Images whose files were not refreshed for this many days are purged everywhere. */
    purgeAfterDays: number;
    /** rsync --timeout: a target that stalls this long is given up for this run. */
    timeoutSeconds: number;
    /** rsync --contimeout (daemon targets) / ssh ConnectTimeout. */
    connectTimeoutSeconds: number;
    /** rsync --bwlimit in KiB/s (0: no limit), to be gentle with the frontends. */
    bwlimitKiB: number;
    /** Paths handed to one rsync run. */
    batchSize: number;
    /** The rsync program. */
    rsync: string;
  };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    /** With --daemon: `<component>.log` and `<component>.error.log` are written here. */
    dir: string;
    /** A log file is rotated when it would grow past this size, and at midnight (UTC). */
    maxMiB: number;
    /** Rotated files kept per log file; older ones are deleted. */
    keep: number;
  };
  /** The daemon's HTTP server: /metrics (Prometheus), the status page at /, /api/status. */
  http: {
    /** host:port to listen on ('' turns the server off); port 0 picks a free port (see `imagesys status`). */
    listen: string;
    /** How often the status page refreshes itself, and how old the spool counts it shows may be. */
    refreshSeconds: number;
    /**
     * Host names (as in the Host header, without port) the server answers besides the listen address,
     * localhost, 127.0.0.1, ::1 and this machine's name: a page on another site that a DNS rebinding
     * points at 127.0.0.1 sends its own name, and is refused.
     */
    allowedHosts: string[];
  };
}

const cores = availableParallelism();

/** Every key's default: a daemon with no config file runs on ./var. */
export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze({
  spool: 'var/spool',
  tree: 'var/tree',
  // the nine countries of the predecessor
  countries: ['br', 'it', 'fr', 'es', 'de', 'uk', 'in', 'au', 'mx'],
  baseUrl: 'http://localhost:8080/thumbs',
  thumbnails: {
    sizes: [
      { name: 'thumb', width: 120, height: 90 },
      { name: 'medium', width: 200, height: 150 },
      { name: 'large', width: 480, height: 360 },
    ],
    // WebP q75 matches mozjpeg q80 in SSIM at ~27% fewer bytes on the listing photos; effort 2 is
    // 50% faster than 4 for 4% more bytes (README, Choices)
    formats: ['webp'],
    process: { quality: 75, sharpen: 0, gamma: 0, background: '#ffffff', effort: 2 },
    maxPixels: 100_000_000,
    countries: {},
  },
  pool: { threads: cores, tasksPerThread: 2, spillAfterMs: 2_000, nice: 0 },
  download: {
    concurrency: 32,
    perHost: 4,
    perHostRate: 10,
    connectTimeoutMs: 10_000,
    headersTimeoutMs: 15_000,
    bodyTimeoutMs: 30_000,
    totalTimeoutMs: 120_000,
    maxBytes: 32 * 1024 * 1024,
    maxRedirects: 5,
    userAgent: 'ImageSys/0.1 (+thumbnailer)',
    allow: [],
    proxy: 'env',
  },
  retry: { maxAttempts: 5, baseMs: 30_000, maxMs: 3_600_000, factor: 4, jitter: 0.5 },
  claims: { staleMs: 15_000 },
  intake: { settleMs: 2_000, rescanMs: 30_000, queueLimit: 2_000, allowCredentials: false },
  health: { windowMs: 300_000, minSamples: 20, failureRate: 0.5, coolOffMs: 60_000, maxCoolOffMs: 1_800_000, stuckMs: 900_000 },
  disk: { minFreeMiB: 1_024, checkMs: 10_000 },
  fsync: true,
  sweep: { targets: [], purgeAfterDays: 30, timeoutSeconds: 120, connectTimeoutSeconds: 15, bwlimitKiB: 0, batchSize: 20_000, rsync: 'rsync' },
  log: { level: 'info', dir: 'var/log', maxMiB: 64, keep: 10 },
  http: { listen: '127.0.0.1:9464', refreshSeconds: 10, allowedHosts: [] },
} satisfies Config);

export class ConfigError extends Error {
  readonly code = 'ERR_IMAGESYS_CONFIG';
  readonly key: string;
  constructor(key: string, expected: string, received: unknown) {
    super(`config: expected ${expected} for ${key} but received ${describe(received)}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const COUNTRY_PATTERN = /^[a-z]{2,3}$/;
const SIZE_NAME_PATTERN = /^[a-z0-9_-]{1,32}$/;
const FORMATS: readonly OutputFormat[] = ['webp', 'jpeg', 'avif', 'png'];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function isCountry(value: string): boolean {
  return COUNTRY_PATTERN.test(value);
}

type Raw = Record<string, unknown>;

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads one section: unknown keys are refused so that typos do not pass silently. */
function section(raw: unknown, key: string, allowed: readonly string[]): Raw {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new ConfigError(key, 'an object', raw);
  for (const name of Object.keys(raw)) {
    if (!allowed.includes(name)) {
      throw new ConfigError(`${key ? `${key}.` : ''}${name}`, `one of the keys ${allowed.join(', ')}`, name);
    }
  }
  return raw;
}

/**
 * The value checkers below take the key's default as `fallback`; REQUIRED marks a key that has no
 * sensible default (a size's width, a target's dest): leaving it out is an error naming the key.
 */
const REQUIRED = undefined;

/** What a checker returns for a key left out: its fallback, or a ConfigError when it is required. */
function absent<T>(key: string, fallback: T | undefined, expected: string): T {
  if (fallback === REQUIRED) throw new ConfigError(key, expected, undefined);
  return fallback;
}

function integer(raw: unknown, key: string, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined) return absent(key, fallback, `an integer from ${min} to ${max}`);
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) {
    throw new ConfigError(key, `an integer from ${min} to ${max}`, raw);
  }
  return raw;
}

function number(raw: unknown, key: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < min || raw > max) {
    throw new ConfigError(key, `a number from ${min} to ${max}`, raw);
  }
  return raw;
}

/** A string sent as an HTTP header: printable, no CR or LF (undici would refuse every request). */
function headerValue(raw: unknown, key: string, fallback: string): string {
  const value = string(raw, key, fallback);
  if (!/^[\x20-\x7e]+$/.test(value)) throw new ConfigError(key, 'printable ASCII without line breaks (it is sent as an HTTP header)', raw);
  return value;
}

function string(raw: unknown, key: string, fallback: string | undefined): string {
  if (raw === undefined) return absent(key, fallback, 'a non-empty string');
  if (typeof raw !== 'string' || raw.length === 0) throw new ConfigError(key, 'a non-empty string', raw);
  return raw;
}

/** `host:port` (an IPv6 host in brackets), or '' for none. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

function listenAddress(raw: unknown, key: string, fallback: string): string {
  if (raw === '') return '';
  const value = string(raw, key, fallback);
  if (!parseListen(value)) throw new ConfigError(key, "host:port (e.g. 127.0.0.1:9464), or '' for no HTTP server", raw);
  return value;
}

function proxySetting(raw: unknown, key: string, fallback: string): string {
  const value = string(raw, key, fallback);
  if (value === 'env' || value === 'none') return value;
  try {
    if (new URL(value).protocol === 'http:') return value;
  } catch {
    // falls through to the error
  }
  throw new ConfigError(key, 'an http:// proxy URL, "env" or "none"', raw);
}

function allowList(raw: unknown, key: string, fallback: readonly string[]): string[] {
  const entries = stringList(raw, key, fallback);
  entries.forEach((entry, i) => {
    if (!isAllowEntry(entry)) throw new ConfigError(`${key}[${i}]`, 'a host name, an IP address or a range like 10.0.0.0/8', entry);
  });
  return entries;
}

function stringList(raw: unknown, key: string, fallback: readonly string[]): string[] {
  if (raw === undefined) return [...fallback];
  if (!Array.isArray(raw) || raw.some((item) => typeof item !== 'string' || item.length === 0)) throw new ConfigError(key, 'an array of non-empty strings', raw);
  return [...(raw as string[])];
}

function boolean(raw: unknown, key: string, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'boolean') throw new ConfigError(key, 'true or false', raw);
  return raw;
}

function oneOf<T extends string>(raw: unknown, key: string, fallback: T, values: readonly T[]): T {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !values.includes(raw as T)) throw new ConfigError(key, `one of ${values.join(', ')}`, raw);
  return raw as T;
}

function country(raw: unknown, key: string): string {
  if (typeof raw !== 'string' || !isCountry(raw)) throw new ConfigError(key, 'a country code of 2-3 lowercase letters', raw);
  return raw;
}

function url(raw: unknown, key: string, fallback: string): string {
  const value = string(raw, key, fallback);
  try {
    new URL(value);
  } catch {
    throw new ConfigError(key, 'an absolute URL', raw);
  }
  return value.replace(/\/+$/, '');
}

function sizes(raw: unknown, key: string, fallback: SizeSpec[]): SizeSpec[] {
  if (raw === undefined) return fallback;
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(key, 'a non-empty array of sizes', raw);
  const seen = new Set<string>();
  return raw.map((item, index) => {
    const at = `${key}[${index}]`;
    const s = section(item, at, ['name', 'width', 'height']);
    if (typeof s.name !== 'string' || !SIZE_NAME_PATTERN.test(s.name)) {
      throw new ConfigError(`${at}.name`, 'a name of 1-32 characters a-z, 0-9, _ or -', s.name);
    }
    if (seen.has(s.name)) throw new ConfigError(`${at}.name`, 'a name not used by another size', s.name);
    seen.add(s.name);
    return {
      name: s.name,
      width: integer(s.width, `${at}.width`, REQUIRED, 1, 8192),
      height: integer(s.height, `${at}.height`, REQUIRED, 1, 8192),
    };
  });
}

function formats(raw: unknown, key: string, fallback: OutputFormat[]): OutputFormat[] {
  if (raw === undefined) return fallback;
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(key, `a non-empty array of ${FORMATS.join(', ')}`, raw);
  const list = raw.map((item, index) => oneOf(item, `${key}[${index}]`, 'webp', FORMATS));
  if (new Set(list).size !== list.length) throw new ConfigError(key, 'formats without repeats', raw);
  return list;
}

const PROCESS_KEYS = ['quality', 'sharpen', 'gamma', 'background', 'effort'] as const;
const COLOUR_PATTERN = /^#[0-9a-fA-F]{6}$/;

function processPartial(raw: unknown, key: string): Partial<ProcessDetails> {
  const s = section(raw, key, PROCESS_KEYS);
  const out: Partial<ProcessDetails> = {};
  if (s.quality !== undefined) out.quality = integer(s.quality, `${key}.quality`, 0, 1, 100);
  if (s.sharpen !== undefined) out.sharpen = number(s.sharpen, `${key}.sharpen`, 0, 0, 10);
  if (s.gamma !== undefined) {
    const gamma = number(s.gamma, `${key}.gamma`, 0, 0, 3);
    if (gamma !== 0 && gamma < 1) throw new ConfigError(`${key}.gamma`, '0 (off) or a number from 1 to 3', s.gamma);
    out.gamma = gamma;
  }
  if (s.effort !== undefined) out.effort = integer(s.effort, `${key}.effort`, 0, 0, 9);
  if (s.background !== undefined) {
    if (typeof s.background !== 'string' || !COLOUR_PATTERN.test(s.background)) {
      throw new ConfigError(`${key}.background`, 'a colour like "#ffffff"', s.background);
    }
    out.background = s.background;
  }
  return out;
}

function countryThumbnails(raw: unknown, key: string): Record<string, CountryThumbnails> {
  const table = section(raw, key, Object.keys(isObject(raw) ? raw : {}));
  const out: Record<string, CountryThumbnails> = {};
  for (const [code, value] of Object.entries(table)) {
    country(code, `${key}.${code}`);
    const at = `${key}.${code}`;
    const s = section(value, at, ['sizes', 'formats', 'process', 'datasources']);
    const entry: CountryThumbnails = {};
    if (s.sizes !== undefined) entry.sizes = sizes(s.sizes, `${at}.sizes`, []);
    if (s.formats !== undefined) entry.formats = formats(s.formats, `${at}.formats`, []);
    if (s.process !== undefined) entry.process = processPartial(s.process, `${at}.process`);
    if (s.datasources !== undefined) {
      const sources = section(s.datasources, `${at}.datasources`, Object.keys(isObject(s.datasources) ? s.datasources : {}));
      entry.datasources = {};
      for (const [id, detail] of Object.entries(sources)) {
        const d = section(detail, `${at}.datasources.${id}`, ['process']);
        entry.datasources[id] = { process: processPartial(d.process, `${at}.datasources.${id}.process`) };
      }
    }
    out[code] = entry;
  }
  return out;
}

const TARGET_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,32}$/;

function targets(raw: unknown, key: string): SweepTarget[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new ConfigError(key, 'an array of {name, dest}', raw);
  const seen = new Set<string>();
  return raw.map((item, index) => {
    const at = `${key}[${index}]`;
    const t = section(item, at, ['name', 'dest', 'bwlimitKiB']);
    if (typeof t.name !== 'string' || !TARGET_NAME_PATTERN.test(t.name)) throw new ConfigError(`${at}.name`, 'a name of 1-32 letters, digits, _ or -', t.name);
    if (seen.has(t.name)) throw new ConfigError(`${at}.name`, 'a name not used by another target', t.name);
    seen.add(t.name);
    const dest = string(t.dest, `${at}.dest`, REQUIRED);
    const problem = destProblem(dest);
    if (problem) throw new ConfigError(`${at}.dest`, problem, dest);
    return t.bwlimitKiB === undefined ? { name: t.name, dest } : { name: t.name, dest, bwlimitKiB: integer(t.bwlimitKiB, `${at}.bwlimitKiB`, 0, 0) };
  });
}

/**
 * Validates a raw config (parsed JSON) once, at the edge, and fills in every default.
 * Throws ConfigError naming the key and what was expected.
 */
export function parseConfig(raw: unknown): Config {
  const d = DEFAULT_CONFIG;
  const top = section(raw ?? {}, '', [
    'spool', 'tree', 'countries', 'baseUrl', 'thumbnails', 'pool', 'download', 'retry', 'claims', 'intake', 'health', 'disk', 'fsync', 'sweep', 'log', 'http',
  ]);
  const countriesRaw = top.countries;
  let countries = [...d.countries];
  if (countriesRaw !== undefined) {
    if (!Array.isArray(countriesRaw) || countriesRaw.length === 0) {
      throw new ConfigError('countries', 'a non-empty array of country codes', countriesRaw);
    }
    countries = countriesRaw.map((c, i) => country(c, `countries[${i}]`));
    const repeated = countries.findIndex((c, i) => countries.indexOf(c) !== i);
    if (repeated >= 0) throw new ConfigError(`countries[${repeated}]`, 'a country not listed before', countries[repeated]);
  }

  const t = section(top.thumbnails, 'thumbnails', ['sizes', 'formats', 'process', 'maxPixels', 'countries']);
  const p = section(top.pool, 'pool', ['threads', 'tasksPerThread', 'spillAfterMs', 'nice']);
  const dl = section(top.download, 'download', [
    'concurrency', 'perHost', 'perHostRate', 'connectTimeoutMs', 'headersTimeoutMs', 'bodyTimeoutMs', 'totalTimeoutMs', 'maxBytes',
    'maxRedirects', 'userAgent', 'allow', 'proxy',
  ]);
  const r = section(top.retry, 'retry', ['maxAttempts', 'baseMs', 'maxMs', 'factor', 'jitter']);
  const c = section(top.claims, 'claims', ['staleMs']);
  const i = section(top.intake, 'intake', ['settleMs', 'rescanMs', 'queueLimit', 'allowCredentials']);
  const h = section(top.health, 'health', ['windowMs', 'minSamples', 'failureRate', 'coolOffMs', 'maxCoolOffMs', 'stuckMs']);
  const dk = section(top.disk, 'disk', ['minFreeMiB', 'checkMs']);
  const l = section(top.log, 'log', ['level', 'dir', 'maxMiB', 'keep']);
  const hs = section(top.http, 'http', ['listen', 'refreshSeconds', 'allowedHosts']);
  const sw = section(top.sweep, 'sweep', ['targets', 'purgeAfterDays', 'timeoutSeconds', 'connectTimeoutSeconds', 'bwlimitKiB', 'batchSize', 'rsync']);

  const retry = {
    maxAttempts: integer(r.maxAttempts, 'retry.maxAttempts', d.retry.maxAttempts, 1, 100),
    baseMs: integer(r.baseMs, 'retry.baseMs', d.retry.baseMs, 0),
    maxMs: integer(r.maxMs, 'retry.maxMs', d.retry.maxMs, 0),
    factor: number(r.factor, 'retry.factor', d.retry.factor, 1, 100),
    jitter: number(r.jitter, 'retry.jitter', d.retry.jitter, 0, 1),
  };
  if (retry.maxMs < retry.baseMs) throw new ConfigError('retry.maxMs', `a number at least retry.baseMs (${retry.baseMs})`, retry.maxMs);
  const overrides = countryThumbnails(t.countries, 'thumbnails.countries');
  for (const code of Object.keys(overrides)) {
    if (!countries.includes(code)) throw new ConfigError(`thumbnails.countries.${code}`, `a country listed in countries (${countries.join(', ')})`, code);
  }
  const health = {
    windowMs: integer(h.windowMs, 'health.windowMs', d.health.windowMs, 1_000),
    minSamples: integer(h.minSamples, 'health.minSamples', d.health.minSamples, 1),
    failureRate: number(h.failureRate, 'health.failureRate', d.health.failureRate, 0.01, 1),
    coolOffMs: integer(h.coolOffMs, 'health.coolOffMs', d.health.coolOffMs, 100),
    maxCoolOffMs: integer(h.maxCoolOffMs, 'health.maxCoolOffMs', d.health.maxCoolOffMs, 100),
    stuckMs: integer(h.stuckMs, 'health.stuckMs', d.health.stuckMs, 1_000),
  };
  if (health.maxCoolOffMs < health.coolOffMs) {
    throw new ConfigError('health.maxCoolOffMs', `a number at least health.coolOffMs (${health.coolOffMs})`, health.maxCoolOffMs);
  }

  return {
    spool: string(top.spool, 'spool', d.spool),
    tree: string(top.tree, 'tree', d.tree),
    countries,
    baseUrl: url(top.baseUrl, 'baseUrl', d.baseUrl),
    thumbnails: {
      sizes: sizes(t.sizes, 'thumbnails.sizes', d.thumbnails.sizes),
      formats: formats(t.formats, 'thumbnails.formats', d.thumbnails.formats),
      process: { ...d.thumbnails.process, ...processPartial(t.process, 'thumbnails.process') },
      maxPixels: integer(t.maxPixels, 'thumbnails.maxPixels', d.thumbnails.maxPixels, 1),
      countries: overrides,
    },
    pool: {
      threads: integer(p.threads, 'pool.threads', d.pool.threads, 1, 256),
      tasksPerThread: integer(p.tasksPerThread, 'pool.tasksPerThread', d.pool.tasksPerThread, 1, 16),
      spillAfterMs: integer(p.spillAfterMs, 'pool.spillAfterMs', d.pool.spillAfterMs, 0),
      nice: integer(p.nice, 'pool.nice', d.pool.nice, 0, 19),
    },
    download: {
      concurrency: integer(dl.concurrency, 'download.concurrency', d.download.concurrency, 1, 4096),
      perHost: integer(dl.perHost, 'download.perHost', d.download.perHost, 1, 1024),
      perHostRate: number(dl.perHostRate, 'download.perHostRate', d.download.perHostRate, 0, 10_000),
      connectTimeoutMs: integer(dl.connectTimeoutMs, 'download.connectTimeoutMs', d.download.connectTimeoutMs, 1),
      headersTimeoutMs: integer(dl.headersTimeoutMs, 'download.headersTimeoutMs', d.download.headersTimeoutMs, 1),
      bodyTimeoutMs: integer(dl.bodyTimeoutMs, 'download.bodyTimeoutMs', d.download.bodyTimeoutMs, 1),
      totalTimeoutMs: integer(dl.totalTimeoutMs, 'download.totalTimeoutMs', d.download.totalTimeoutMs, 1),
      maxBytes: integer(dl.maxBytes, 'download.maxBytes', d.download.maxBytes, 1),
      maxRedirects: integer(dl.maxRedirects, 'download.maxRedirects', d.download.maxRedirects, 0, 20),
      userAgent: headerValue(dl.userAgent, 'download.userAgent', d.download.userAgent),
      allow: allowList(dl.allow, 'download.allow', d.download.allow),
      proxy: proxySetting(dl.proxy, 'download.proxy', d.download.proxy),
    },
    retry,
    claims: { staleMs: integer(c.staleMs, 'claims.staleMs', d.claims.staleMs, 2_000) },
    intake: {
      settleMs: integer(i.settleMs, 'intake.settleMs', d.intake.settleMs, 0),
      rescanMs: integer(i.rescanMs, 'intake.rescanMs', d.intake.rescanMs, 100),
      queueLimit: integer(i.queueLimit, 'intake.queueLimit', d.intake.queueLimit, 1),
      allowCredentials: boolean(i.allowCredentials, 'intake.allowCredentials', d.intake.allowCredentials),
    },
    health,
    disk: {
      minFreeMiB: integer(dk.minFreeMiB, 'disk.minFreeMiB', d.disk.minFreeMiB, 0),
      checkMs: integer(dk.checkMs, 'disk.checkMs', d.disk.checkMs, 100),
    },
    fsync: boolean(top.fsync, 'fsync', d.fsync),
    sweep: {
      targets: targets(sw.targets, 'sweep.targets'),
      purgeAfterDays: number(sw.purgeAfterDays, 'sweep.purgeAfterDays', d.sweep.purgeAfterDays, 0, 36_500),
      timeoutSeconds: integer(sw.timeoutSeconds, 'sweep.timeoutSeconds', d.sweep.timeoutSeconds, 1, 86_400),
      connectTimeoutSeconds: integer(sw.connectTimeoutSeconds, 'sweep.connectTimeoutSeconds', d.sweep.connectTimeoutSeconds, 1, 3_600),
      bwlimitKiB: integer(sw.bwlimitKiB, 'sweep.bwlimitKiB', d.sweep.bwlimitKiB, 0),
      batchSize: integer(sw.batchSize, 'sweep.batchSize', d.sweep.batchSize, 1),
      rsync: string(sw.rsync, 'sweep.rsync', d.sweep.rsync),
    },
    log: {
      level: oneOf(l.level, 'log.level', d.log.level, LOG_LEVELS),
      dir: string(l.dir, 'log.dir', d.log.dir),
      maxMiB: number(l.maxMiB, 'log.maxMiB', d.log.maxMiB, 0.001, 1_048_576),
      keep: integer(l.keep, 'log.keep', d.log.keep, 1, 10_000),
    },
    http: {
      listen: listenAddress(hs.listen, 'http.listen', d.http.listen),
      refreshSeconds: number(hs.refreshSeconds, 'http.refreshSeconds', d.http.refreshSeconds, 0.2, 3_600),
      allowedHosts: stringList(hs.allowedHosts, 'http.allowedHosts', d.http.allowedHosts).map((h, i) => {
        if (!/^[A-Za-z0-9.:\[\]_-]+$/.test(h)) throw new ConfigError(`http.allowedHosts[${i}]`, 'a host name or address, without port', h);
        return h.toLowerCase();
      }),
    },
  };
}

/** What one image of a country and datasource is made into. */
export interface Processing {
  sizes: SizeSpec[];
  formats: OutputFormat[];
  process: ProcessDetails;
}

/** Defaults, overridden by the country, overridden by the datasource. Pure. */
export function processingFor(config: Config, country: string, datasource: string | undefined): Processing {
  const t = config.thumbnails;
  const c = t.countries[country];
  const ds = datasource === undefined ? undefined : c?.datasources?.[datasource];
  return {
    sizes: c?.sizes ?? t.sizes,
    formats: c?.formats ?? t.formats,
    process: { ...t.process, ...c?.process, ...ds?.process },
  };
}

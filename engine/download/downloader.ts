import { isIP } from 'node:net';
import { systemClock, type Clock } from '../core/clock.js';
import { Agent, EnvHttpProxyAgent, Pool, request, type Dispatcher } from 'undici';
import { canaryOf } from '../core/canary-path.js';
import { AddressGuard, AllowList, BlockedAddressError } from '../core/address-guard.js';
import type { Config } from '../config/config.js';
import { ImageSysError, type ErrorCode } from '../core/errors.js';
import { HostPacer } from './pacer.js';
import { KeyedSemaphore, Semaphore } from '../core/semaphore.js';
import { TotalLimit } from './total-limit.js';
import { sniff } from './sniff.js';

export type DownloadOptions = Config['download'];

/** Validators from an earlier download, for a conditional GET. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

export type DownloadResult =
  | { notModified: false; bytes: Buffer; format: string; etag?: string; lastModified?: string; finalUrl: string }
  | { notModified: true; finalUrl: string };

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** undici's error codes mapped to ours; anything unknown from the network is a failed connection. */
const NETWORK_CODES: Record<string, ErrorCode> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'headers_timeout',
  UND_ERR_BODY_TIMEOUT: 'body_timeout',
  UND_ERR_SOCKET: 'body_incomplete',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'body_incomplete',
  UND_ERR_CLOSED: 'connect_failed',
  ECONNREFUSED: 'connect_failed',
  ECONNRESET: 'connect_failed',
  EPIPE: 'connect_failed',
  ENOTFOUND: 'connect_failed',
  EAI_AGAIN: 'connect_failed',
  EHOSTUNREACH: 'connect_failed',
  ENETUNREACH: 'connect_failed',
  ETIMEDOUT: 'connect_timeout',
};

/** What a caller of `download` may hear of and hold it back at. */
export interface DownloadHooks {
  signal?: AbortSignal;
  /** The job is a canary's (engine/canary/): its first request may take the guard's canary exception. */
  canary?: boolean;
  onStart?: () => void;
  onBody?: (declaredBytes: number | undefined, signal: AbortSignal) => Promise<void>;
}

/**
 * Downloads source images with bounded total and per-host concurrency, timeouts at every phase,
 * a body limit enforced while streaming, redirects followed by hand (each hop counted) and the
 * content sniffed by its magic bytes.
 */
export class Downloader {
  private readonly dispatcher: Dispatcher;
  /** Never through a proxy: a canary's picture is on this daemon's own network (the dispatcher itself when there is no proxy). */
  private readonly direct: Dispatcher;
  private readonly global: Semaphore;
  private readonly perHost: KeyedSemaphore;
  private readonly guard: AddressGuard;
  private readonly pacer: HostPacer;
  /** Requests go through a proxy, which resolves the names: the guard checks them first. */
  private readonly proxied: boolean;
  /** Hosts whose name the guard refused lately (host -> until when): checked before any slot or pacing. */
  private readonly refusedHosts = new Map<string, number>();
  /** The canaries' source (`http://127.0.0.1:9464`): the guard's one exception, for a canary's own path. */
  private canaryOrigin: string | undefined;

  constructor(
    private readonly options: DownloadOptions,
    private readonly clock: Clock = systemClock,
  ) {
    this.guard = new AddressGuard(new AllowList(options.allow));
    this.pacer = new HostPacer(options.perHostRate);
    const agentOptions = {
      // every direct connection resolves its name through the guard: the address connected to is checked
      connect: { timeout: options.connectTimeoutMs, lookup: this.guard.lookup },
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      connections: options.perHost,
      keepAliveTimeout: 4_000,
    };
    const proxy = proxyFor(options.proxy, process.env);
    this.proxied = proxy !== undefined;
    // through a proxy, plain http is forwarded (the proxy sees and logs the URL); https is tunnelled
    // the proxy's own connection pools take the timeouts too (undici would give them its 300 s defaults)
    const factory = (origin: string | URL, opts: object): Dispatcher => new Pool(origin, { ...opts, headersTimeout: options.headersTimeoutMs, bodyTimeout: options.bodyTimeoutMs });
    this.dispatcher = proxy ? new EnvHttpProxyAgent({ ...agentOptions, ...proxy, proxyTunnel: false, factory }) : new Agent(agentOptions);
    this.direct = proxy ? new Agent(agentOptions) : this.dispatcher;
    this.global = new Semaphore(options.concurrency);
    this.perHost = new KeyedSemaphore(options.perHost);
  }

  async close(): Promise<void> {
    await Promise.all([this.dispatcher.close(), this.direct !== this.dispatcher ? this.direct.close() : undefined]);
  }

  /**
   * Lets canaries through the guard: a canary job's first request (not a redirect) to exactly this
   * origin (an address written in the URL, and its port) for a canary's picture, sent directly (never
   * through a proxy); never a general loopback allowance.
   */
  allowCanaryFrom(origin: string): void {
    this.canaryOrigin = new URL(origin).origin;
  }

  private isCanary(url: string): boolean {
    const { origin, pathname, search } = new URL(url);
    return origin === this.canaryOrigin && canaryOf(pathname) !== undefined && search === '';
  }

  /**
   * `signal` (the engine's, for a job that stopped moving) cancels the download wherever it is;
   * `onStart` hears when a request begins, after the waits for a download slot; `onBody` is awaited
   * before an image's body is read, with its Content-Length if declared (the memory budget makes the
   * download wait there, its slot held, the server held back by TCP; that wait stops the clock of
   * `totalTimeoutMs`, and undici's body timeout does not run while the body is not read).
   */
  async download(url: string, validators?: Validators, options: DownloadHooks = {}): Promise<DownloadResult> {
    const total = new TotalLimit(this.options.totalTimeoutMs, options.signal);
    try {
      return await this.follow(url, validators, options, total);
    } finally {
      total.clear();
    }
  }

  private async follow(url: string, validators: Validators | undefined, options: DownloadHooks, total: TotalLimit): Promise<DownloadResult> {
    // the total time counts from the first request, not from the wait for a slot
    let signal: AbortSignal | undefined;
    const limit = (): AbortSignal => total.start();
    // credentials in the URL (allowed by intake.allowCredentials) go as Basic auth, to their own origin only
    const { url: start, auth } = basicAuthOf(url);
    let current = start;
    // a wait for the memory budget stops the total time's clock (the engine's watchdog knows it waits)
    const { onBody: hook } = options;
    const onBody = hook
      ? async (declared: number | undefined, bodySignal: AbortSignal): Promise<void> => {
          total.pause();
          try {
            await hook(declared, bodySignal);
          } finally {
            total.resume();
          }
        }
      : undefined;
    for (let hop = 0; ; hop++) {
      const host = new URL(current).host;
      // a URL the guard refuses costs no slot and no turn under the host's request rate
      const exempt = hop === 0 && options.canary === true && this.isCanary(current);
      if (!exempt) await this.refuseEarly(current);
      // per host: a slot, then a global slot, then its turn under the request rate (taken last, so
      // that requests queued behind the global limit do not start in a burst)
      const outcome = await this.perHost.run(host, () =>
        this.global.run(async () => {
          await this.pacer.wait(host, this.clock());
          options.onStart?.();
          return this.fetchOnce(current, validators, (signal ??= limit()), auth?.origin === new URL(current).origin ? auth.header : undefined, onBody, exempt ? this.direct : this.dispatcher);
        }),
      );
      if (outcome.kind === 'done') return outcome.result;
      if (hop >= this.options.maxRedirects) {
        throw new ImageSysError('too_many_redirects', `more than ${this.options.maxRedirects} redirects, last to ${outcome.location}`);
      }
      current = outcome.location;
    }
  }

  /**
   * Refuses before any wait what the guard would refuse at connect: an address written in the URL,
   * or a name refused in the last REFUSED_HOST_MS (looked up again: DNS may have changed).
   */
  private async refuseEarly(url: string): Promise<void> {
    const { host, hostname } = new URL(url);
    const bare = hostname.replace(/^\[|\]$/g, '');
    if (isIP(bare)) {
      const refused = this.guard.refusal(bare, bare);
      if (refused) throw new ImageSysError('blocked_address', refused.message);
      return;
    }
    const until = this.refusedHosts.get(host);
    if (until === undefined) return;
    if (until < this.clock()) {
      this.refusedHosts.delete(host);
      return;
    }
    try {
      await this.guard.check(bare);
    } catch (error) {
      const blocked = findBlocked(error);
      if (blocked) throw new ImageSysError('blocked_address', blocked.message, { cause: error });
      // a lookup that failed otherwise: the request itself says how
    }
  }

  private async fetchOnce(
    url: string,
    validators: Validators | undefined,
    signal: AbortSignal,
    authorization?: string,
    onBody?: DownloadHooks['onBody'],
    dispatcher: Dispatcher = this.dispatcher,
  ): Promise<{ kind: 'done'; result: DownloadResult } | { kind: 'redirect'; location: string }> {
    // an address written in the URL was checked by refuseEarly (it is connected to without a lookup)
    const hostname = new URL(url).hostname.replace(/^\[|\]$/g, '');
    if (!isIP(hostname) && this.proxied) {
      // the proxy resolves the name again when it connects; checking here is the best a client can do
      try {
        await this.guard.check(hostname);
      } catch (error) {
        throw networkError(error, signal);
      }
    }
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, accept: 'image/*,*/*;q=0.5' };
    if (validators?.etag) headers['if-none-match'] = validators.etag;
    if (validators?.lastModified) headers['if-modified-since'] = validators.lastModified;
    if (authorization) headers.authorization = authorization;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, { method: 'GET', headers, signal, dispatcher });
    } catch (error) {
      const failure = networkError(error, signal);
      if (failure.code === 'blocked_address') this.refusedHosts.set(new URL(url).host, this.clock() + REFUSED_HOST_MS);
      throw failure;
    }
    const { statusCode, body } = response;
    const header = (name: string): string | undefined => {
      const value = response.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    if (REDIRECT_STATUSES.has(statusCode)) {
      await body.dump().catch(() => {});
      const location = header('location');
      if (!location) throw new ImageSysError('bad_redirect', `HTTP ${statusCode} without Location from ${hostOf(url)}`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new ImageSysError('bad_redirect', `redirect to an invalid URL: ${location.slice(0, 200)}`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new ImageSysError('bad_redirect', `redirect to a ${next.protocol} URL`);
      }
      return { kind: 'redirect', location: next.href };
    }
    if (statusCode === 304 && validators) {
      await body.dump().catch(() => {});
      return { kind: 'done', result: { notModified: true, finalUrl: url } };
    }
    if (statusCode !== 200) {
      await body.dump().catch(() => {});
      throw statusError(statusCode, hostOf(url), header('retry-after'), this.clock());
    }
    const declared = Number(header('content-length'));
    if (Number.isFinite(declared) && declared > this.options.maxBytes) {
      body.destroy();
      throw new ImageSysError('too_big', `Content-Length ${declared} exceeds the limit of ${this.options.maxBytes} bytes`);
    }
    if (onBody) {
      try {
        await onBody(Number.isFinite(declared) ? declared : undefined, signal);
      } catch (error) {
        body.destroy();
        throw networkError(error, signal);
      }
    }
    const bytes = await readLimited(body, this.options.maxBytes, signal, Number.isFinite(declared) ? declared : undefined);
    const sniffed = sniff(bytes);
    if (sniffed.kind === 'not_image') {
      throw new ImageSysError(bytes.length === 0 ? 'empty_body' : 'not_image', `not an image: ${sniffed.what} (${bytes.length} bytes, Content-Type ${header('content-type') ?? 'none'})`);
    }
    if (sniffed.kind === 'unsupported') throw new ImageSysError('unsupported_format', `image format ${sniffed.format} is not accepted`);
    const result: DownloadResult = { notModified: false, bytes, format: sniffed.format, finalUrl: url };
    const etag = header('etag');
    const lastModified = header('last-modified');
    if (etag) result.etag = etag;
    if (lastModified) result.lastModified = lastModified;
    return { kind: 'done', result };
  }
}

/**
 * The body, at most `maxBytes`. With a Content-Length it is read into one buffer of that size (not
 * chunks then a copy: a large original was twice in memory at its end); a body longer than declared
 * (undici refuses that) or without one is gathered in chunks.
 */
async function readLimited(body: Dispatcher.ResponseData['body'], maxBytes: number, signal: AbortSignal, declared?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let into = declared !== undefined && declared > 0 ? Buffer.allocUnsafeSlow(declared) : undefined;
  let total = 0;
  try {
    for await (const chunk of body) {
      const piece = chunk as Buffer;
      if (total + piece.length > maxBytes) {
        body.destroy();
        throw new ImageSysError('too_big', `body exceeds the limit of ${maxBytes} bytes`);
      }
      if (into && total + piece.length <= into.length) {
        piece.copy(into, total);
      } else {
        if (into) chunks.push(into.subarray(0, total));
        into = undefined;
        chunks.push(piece);
      }
      total += piece.length;
    }
  } catch (error) {
    if (error instanceof ImageSysError) throw error;
    throw networkError(error, signal);
  }
  if (into) return total === into.length ? into : into.subarray(0, total);
  return Buffer.concat(chunks, total);
}

function hostOf(url: string): string {
  return new URL(url).host;
}

/** A server may ask for a pause, not for a year of silence: longer Retry-Afters are cut to this. */
const MAX_RETRY_AFTER_MS = 6 * 60 * 60 * 1000;

/** Seconds or an HTTP date, as RFC 9110 allows, at most MAX_RETRY_AFTER_MS; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(MAX_RETRY_AFTER_MS, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now));
}

export function statusError(status: number, host: string, retryAfter: string | undefined, now: number): ImageSysError {
  const message = `HTTP ${status} from ${host}`;
  if (status === 404 || status === 410) return new ImageSysError('http_not_found', message);
  if (status === 429) return new ImageSysError('http_rate_limited', message, optionalDelay(parseRetryAfter(retryAfter, now)));
  if (status >= 500 || status === 408) return new ImageSysError('http_server_error', message, optionalDelay(parseRetryAfter(retryAfter, now)));
  if (status >= 400) return new ImageSysError('http_client_error', message);
  return new ImageSysError('http_client_error', `unexpected ${message}`);
}

function optionalDelay(ms: number | undefined): { retryAfterMs?: number } {
  return ms === undefined ? {} : { retryAfterMs: ms };
}

/** TLS failures a retry will not cure: the certificate is wrong, not the network. */
const TLS_CODE = /^(CERT_|ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(VERIFY|GET)_|HOSTNAME_MISMATCH|ERR_INVALID_)/;

/** How long a host name the guard refused is looked up before any slot is taken (a name may be rebound). */
const REFUSED_HOST_MS = 60_000;

/**
 * A URL's `user:password@` as an Authorization header for its origin, and the URL without them
 * (undici would drop them silently). A redirect to another origin is not sent them. Pure.
 */
export function basicAuthOf(url: string): { url: string; auth?: { origin: string; header: string } } {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return { url };
  const secret = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, auth: { origin: parsed.origin, header: `Basic ${Buffer.from(secret, 'utf8').toString('base64')}` } };
}

function networkError(error: unknown, signal: AbortSignal): ImageSysError {
  if (signal.aborted) return new ImageSysError('total_timeout', 'download took longer than the total time limit', { cause: error });
  const blocked = findBlocked(error);
  if (blocked) return new ImageSysError('blocked_address', blocked.message, { cause: error });
  const code = (error as { code?: string } | null)?.code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (TLS_CODE.test(code)) return new ImageSysError('tls_error', `${code}: ${message}`, { cause: error });
  return new ImageSysError(NETWORK_CODES[code] ?? 'connect_failed', `${code || 'network error'}: ${message}`, { cause: error });
}

/** The guard's refusal, as thrown by the connector (undici may wrap it). */
function findBlocked(error: unknown): BlockedAddressError | undefined {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof BlockedAddressError) return e;
  }
  return undefined;
}

/**
 * The proxy settings for undici's EnvHttpProxyAgent: `none` or no proxy in the environment gives none;
 * a URL proxies http and https; `env` follows HTTP_PROXY / HTTPS_PROXY / NO_PROXY. Pure.
 */
export function proxyFor(setting: string, env: NodeJS.ProcessEnv): { httpProxy: string; httpsProxy: string; noProxy: string } | undefined {
  if (setting === 'none') return undefined;
  if (setting !== 'env') return { httpProxy: setting, httpsProxy: setting, noProxy: '' };
  const httpProxy = env.http_proxy ?? env.HTTP_PROXY ?? '';
  const httpsProxy = env.https_proxy ?? env.HTTPS_PROXY ?? '';
  if (!httpProxy && !httpsProxy) return undefined;
  return { httpProxy, httpsProxy, noProxy: env.no_proxy ?? env.NO_PROXY ?? '' };
}

/**
 * The daemon's HTTP server, for people and Prometheus on the local network:
 *   GET /             the status page (one self-contained document: no CDN, no external request;
 *                     engine/observe/page/)
 *   GET /api/status   what the page shows: the report `imagesys status --json` prints
 *   GET /metrics      Prometheus text
 *   GET /tree/<path>  a thumbnail of the tree, for the page's strip of latest thumbnails
 *   GET /canary/<slot>-<id>.png  a canary's picture, made from its id, while its record in the spool
 *                     waits for it (engine/canary/): for the downloaders
 * It takes no input but the path, and serves only thumbnail paths of the tree's own shape.
 */
import { realpath } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { openRegular } from '../../spool/safe-open.js';
import { canaryImage } from '../canary/image.js';
import { canaryOf, type CanaryName } from '../core/canary-path.js';
import { systemClock } from '../core/clock.js';
import { markServed, readRecord } from '../canary/store.js';
import type { Logger } from 'pino';
import { parseListen } from '../config/config.js';
import type { Metrics } from './metrics.js';
import { statusPage, type StatusPage } from './page/status-page.js';
import type { StatusReport } from './status.js';

export interface HttpServerOptions {
  /** host:port (port 0: any free port). */
  listen: string;
  /** Host header names answered besides the listen address, localhost and this machine's name. */
  allowedHosts?: readonly string[];
  metrics: Metrics;
  status: () => Promise<StatusReport>;
  tree: string;
  /** The spool, whose canary records say which canary pictures are served. */
  spool: string;
  log: Logger;
}

export interface RunningHttpServer {
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

/** The Host header's name (no port, IPv6 brackets kept), lower-cased; undefined when absent. Pure. */
export function hostOfHeader(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:]+)(?::\d+)?$/.exec(header.trim());
  return match?.[1]?.toLowerCase();
}

/** The names a server listening on `listenHost` answers to. Pure. */
export function answeredHosts(listenHost: string, extra: readonly string[], machine: string): Set<string> {
  const bracket = (h: string): string => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
  return new Set(['localhost', '127.0.0.1', '[::1]', bracket(listenHost.toLowerCase()), machine.toLowerCase(), ...extra.map(bracket)]);
}

/** `<cc>/<h0h1>/<h2h3>/<hash>.<size>.<ext>`: nothing else of the disk is served. */
const THUMBNAIL_PATH = /^[a-z]{2,3}\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{32}\.[a-z0-9_-]{1,32}\.(webp|jpg|avif|png)$/;
const IMAGE_TYPES: Record<string, string> = { webp: 'image/webp', jpg: 'image/jpeg', avif: 'image/avif', png: 'image/png' };

/**
 * The last report, made anew at most every `maxAgeMs` and by one reader at a time: the page,
 * /api/status and /metrics read the spool (possibly a million files) no more often, however many
 * ask. Once there is a report, callers get it at once and an old one is refreshed behind their back,
 * so that a scrape never waits for a walk of the spool (nor fails with it: the last report stays).
 */
export function cachedReport(make: () => Promise<StatusReport>, maxAgeMs: number, onError: (error: unknown) => void = () => {}): () => Promise<StatusReport> {
  let last: { at: number; report: StatusReport } | undefined;
  let making: Promise<StatusReport> | undefined;
  // a spool so big that reading it takes a while (or fails after a while) is read less often: at
  // most a fifth of the time
  let tookMs = 0;
  let triedAt = -Infinity;
  const refresh = (): Promise<StatusReport> => {
    if (making) return making;
    const started = (triedAt = performance.now());
    const made = make()
      .then((report) => {
        last = { at: performance.now(), report };
        return report;
      })
      .finally(() => {
        tookMs = performance.now() - started;
        if (making === made) making = undefined;
      });
    making = made;
    return made;
  };
  return () => {
    const now = performance.now();
    // a reading that hangs (a stalled file system) is given up after a minute: the next one may work
    if (making && now - triedAt > Math.max(60_000, 4 * maxAgeMs)) making = undefined;
    if (!last) return refresh();
    if (now - triedAt >= Math.max(maxAgeMs, 4 * tookMs)) refresh().catch(onError);
    return Promise.resolve(last.report);
  };
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const address = parseListen(options.listen);
  if (!address) throw new Error(`http.listen: not host:port: ${options.listen}`);
  const log = options.log.child({ component: 'http' });
  const hosts = answeredHosts(address.host, options.allowedHosts ?? [], hostname());
  const page = pageOrNothing(log);
  const server: Server = createServer((request, response) => {
    const host = hostOfHeader(request.headers.host);
    if (!host || !hosts.has(host)) {
      // a browser page of another site, its name rebound to this address, must read nothing here
      send(response, 421, 'text/plain; charset=utf-8', `not served for host ${JSON.stringify((request.headers.host ?? '').slice(0, 100))}: add it to http.allowedHosts\n`);
      return;
    }
    handle(options, page, request, response).catch((error: unknown) => {
      log.warn({ err: error, url: request.url }, 'request failed');
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const url = `http://${host}:${bound.port}`;
  log.info({ url }, 'status page and /metrics served');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The page, read once at start; without it (a dist/ that `npm run build` did not make) /api/status and
 * /metrics are served all the same: the daemon's figures matter more than their page.
 */
function pageOrNothing(log: Logger): StatusPage | undefined {
  try {
    return statusPage();
  } catch (error) {
    log.error({ err: error }, 'status page not served: it could not be put together (npm run build makes its files)');
    return undefined;
  }
}

async function handle(options: HttpServerOptions, page: StatusPage | undefined, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    send(response, 405, 'text/plain; charset=utf-8', 'only GET\n');
    return;
  }
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/' || path === '/index.html') {
    if (page) send(response, 200, 'text/html; charset=utf-8', page.html, { 'Content-Security-Policy': `${page.csp}; frame-ancestors 'none'`, 'X-Content-Type-Options': 'nosniff' });
    else send(response, 503, 'text/plain; charset=utf-8', 'the status page is not built (npm run build); /api/status and /metrics are served\n');
  } else if (path === '/api/status') {
    send(response, 200, 'application/json; charset=utf-8', `${JSON.stringify(await options.status())}\n`);
  } else if (path === '/metrics') {
    send(response, 200, options.metrics.contentType, await options.metrics.text());
  } else if (canaryOf(path)) {
    await sendCanary(options.spool, canaryOf(path)!, response);
  } else if (path.startsWith('/tree/')) {
    await sendThumbnail(options.tree, path.slice('/tree/'.length), response);
  } else {
    send(response, 404, 'text/plain; charset=utf-8', 'not found: try / or /metrics\n');
  }
}

/** The last canary picture made: a download retried is answered without making it again. */
let lastCanary: { id: string; png: Buffer } | undefined;

/**
 * A canary's picture, only while its record waits for it (a picture costs tens of ms of this event
 * loop: no client makes the daemon draw pictures for ids of its own); the first serve is noted, the
 * end of the canary's download stage.
 */
async function sendCanary(spool: string, canary: CanaryName, response: ServerResponse): Promise<void> {
  const record = await readRecord(spool, canary.slot);
  if (record?.id !== canary.id || record.result) {
    send(response, 404, 'text/plain; charset=utf-8', 'no such canary\n');
    return;
  }
  if (lastCanary?.id !== canary.id) lastCanary = { id: canary.id, png: canaryImage(canary.id) };
  const { png } = lastCanary;
  await markServed(spool, canary.slot, new Date(systemClock()).toISOString());
  response.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': png.length, 'Cache-Control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : png);
}

/** Whether `dir`, links resolved, lies inside `tree`: no link in the tree leads the server out of it. */
async function insideTree(tree: string, dir: string): Promise<boolean> {
  try {
    const [root, real] = await Promise.all([realpath(tree), realpath(dir)]);
    return real === root || real.startsWith(`${root}${sep}`);
  } catch {
    return false;
  }
}

async function sendThumbnail(tree: string, relPath: string, response: ServerResponse): Promise<void> {
  const match = THUMBNAIL_PATH.exec(relPath);
  const file = join(tree, relPath);
  // the file itself is opened without following a link, and only if it is a regular file
  const opened = match && (await insideTree(tree, dirname(file))) ? await openRegular(file).catch(() => undefined) : undefined;
  if (!match || !opened || !('handle' in opened)) {
    send(response, 404, 'text/plain; charset=utf-8', 'no such thumbnail\n');
    return;
  }
  response.writeHead(200, { 'Content-Type': IMAGE_TYPES[match[1]!]!, 'Content-Length': opened.size, 'Cache-Control': 'max-age=3600' });
  // pipeline closes the file when the client goes away, and the response when the file does (a purge)
  pipeline(opened.handle.createReadStream(), response).catch(() => {});
}

function send(response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

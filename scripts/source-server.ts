/**
 * A real HTTP image source on 127.0.0.1 for the demo, the tests and the bench. Each path has a
 * behaviour (an image, an error status, a flaky server, a slow or truncated body, an HTML page), and
 * every request is counted so tests can check that nothing was downloaded twice.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route =
  | { kind: 'image'; bytes: Buffer; contentType?: string; etag?: string; chunked?: boolean } // chunked: no Content-Length
  | { kind: 'status'; status: number; retryAfter?: string }
  /** Answers `status` for the first `failures` requests, then the image. */
  | { kind: 'flaky'; failures: number; status: number; bytes: Buffer; retryAfter?: string }
  /** Waits `delayMs` before the headers, then sends the image. */
  | { kind: 'slow'; delayMs: number; bytes: Buffer }
  /** Declares the full length, sends part of it, then closes the connection. */
  | { kind: 'truncated'; bytes: Buffer; sendBytes: number }
  | { kind: 'html'; status?: number }
  /** Streams `chunk` every `intervalMs` without a Content-Length until the client gives up. */
  | { kind: 'endless'; chunk: Buffer; intervalMs: number }
  | { kind: 'redirect'; location: string; status?: number }
  /** The image for Basic auth with this user and password; 401 otherwise. */
  | { kind: 'auth'; user: string; password: string; bytes: Buffer };

export interface SourceServer {
  url(path: string): string;
  readonly base: string;
  /** Requests per path. */
  readonly hits: Map<string, number>;
  /** Paths in the order they were requested, and when (ms, performance.now()), kept only with `recordOrder`. */
  readonly requests: string[];
  readonly requestTimes: number[];
  /** Most requests that were in progress at the same time. */
  readonly maxConcurrent: () => number;
  totalHits(): number;
  routes: Map<string, Route>;
  close(): Promise<void>;
}

const HTML = '<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n';

export async function startSourceServer(routes = new Map<string, Route>(), options: { recordOrder?: boolean } = {}): Promise<SourceServer> {
  const hits = new Map<string, number>();
  const requests: string[] = [];
  const requestTimes: number[] = [];
  let inFlight = 0;
  let maxConcurrent = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    maxConcurrent = Math.max(maxConcurrent, inFlight);
    res.on('close', () => inFlight--);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const count = (hits.get(path) ?? 0) + 1;
    hits.set(path, count);
    if (options.recordOrder) {
      requests.push(path);
      requestTimes.push(performance.now());
    }
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const sendImage = (bytes: Buffer, contentType = 'image/jpeg', etag?: string, chunked = false): void => {
      if (etag && req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': contentType, ...(chunked ? {} : { 'content-length': bytes.length }), ...(etag ? { etag } : {}) }).end(bytes);
    };
    switch (route.kind) {
      case 'auth': {
        const expected = `Basic ${Buffer.from(`${route.user}:${route.password}`).toString('base64')}`;
        if (req.headers.authorization === expected) sendImage(route.bytes);
        else res.writeHead(401, { 'www-authenticate': 'Basic realm="photos"' }).end();
        return;
      }
      case 'image':
        return sendImage(route.bytes, route.contentType, route.etag, route.chunked);
      case 'status':
        res.writeHead(route.status, { 'content-type': 'text/plain', ...(route.retryAfter ? { 'retry-after': route.retryAfter } : {}) }).end(`status ${route.status}\n`);
        return;
      case 'flaky':
        if (count <= route.failures) {
          res.writeHead(route.status, { 'content-type': 'text/plain', ...(route.retryAfter ? { 'retry-after': route.retryAfter } : {}) }).end('try again\n');
          return;
        }
        return sendImage(route.bytes);
      case 'slow': {
        const timer = setTimeout(() => sendImage(route.bytes), route.delayMs);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case 'truncated':
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': route.bytes.length });
        res.write(route.bytes.subarray(0, route.sendBytes), () => res.destroy());
        return;
      case 'html':
        res.writeHead(route.status ?? 200, { 'content-type': 'text/html' }).end(HTML);
        return;
      case 'endless': {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.write(route.chunk); // the headers and a first chunk at once; then one per interval
        const timer = setInterval(() => res.write(route.chunk), route.intervalMs);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case 'redirect':
        res.writeHead(route.status ?? 302, { location: route.location }).end();
        return;
    }
  };
  const server: Server = createServer(handle);
  server.keepAliveTimeout = 5_000; // as Apache; undici reuses a socket only if the hint exceeds 2 s
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    url: (path: string) => `${base}${path}`,
    hits,
    requests,
    requestTimes,
    maxConcurrent: () => maxConcurrent,
    routes,
    totalHits: () => [...hits.values()].reduce((a, b) => a + b, 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

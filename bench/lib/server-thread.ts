/**
 * The bench's HTTP image source in a worker thread of its own: its event loop is not the engine's, so
 * what `performance.eventLoopUtilization()` measures on the main thread is the engine's work alone (a
 * real source is another machine). Image routes only: each path names one of the images handed over.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startSourceServer, type Route } from '../../scripts/source-server.js';

/**
 * Copies of the served images the bench process holds while a thread server runs: the bench's own
 * (its corpus) and the server thread's (workerData is cloned, not shared). What the bench's memory
 * figures take off, to leave the engine's.
 */
export const SERVED_COPIES = 2;

interface ServerData {
  images: Uint8Array[];
  /** [path, index into images] */
  paths: Array<[string, number]>;
}

export interface ThreadServer {
  url(path: string): string;
  close(): Promise<void>;
}

/** Serves `routes` (path -> image bytes) from a worker thread. */
export async function startThreadServer(routes: ReadonlyMap<string, Uint8Array>): Promise<ThreadServer> {
  const index = new Map<Uint8Array, number>();
  const images: Uint8Array[] = [];
  const paths: Array<[string, number]> = [];
  for (const [path, bytes] of routes) {
    let i = index.get(bytes);
    if (i === undefined) {
      i = images.push(bytes) - 1;
      index.set(bytes, i);
    }
    paths.push([path, i]);
  }
  const data: ServerData = { images, paths };
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  const base = await new Promise<string>((resolve, reject) => {
    worker.once('message', (message: { base: string }) => resolve(message.base));
    worker.once('error', reject);
  });
  return {
    url: (path) => `${base}${path}`,
    close: async () => {
      await worker.terminate();
    },
  };
}

if (!isMainThread && parentPort && (workerData as ServerData | undefined)?.paths) {
  const { images, paths } = workerData as ServerData;
  const buffers = images.map((bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const routes = new Map<string, Route>(paths.map(([path, i]) => [path, { kind: 'image', bytes: buffers[i]! }]));
  const server = await startSourceServer(routes);
  parentPort.postMessage({ base: server.base });
}

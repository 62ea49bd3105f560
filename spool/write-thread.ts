/**
 * The spool's and the tree's writes, done in a thread of their own (spool/write-worker.ts): the
 * engine's event loop sends one message per write and hears one answer, instead of making each of
 * its system calls itself. An image's three thumbnails are 15 calls (open, write, fsync, close,
 * rename each) and a directory sync 4 more; every call is a trip through libuv's pool whose start
 * and end the calling thread pays for, and on a machine whose cores sharp keeps busy each trip
 * risks a wait for a core. The worker runs the same AtomicWriter code with the same calls, so the
 * guarantees (whole files, fsync, rename, directory sync) are those of atomic.ts, unchanged.
 *
 * The thread is referenced only while a write is under way, so an idle one keeps no process alive.
 * If it dies, the writes it had fail (their callers see an error, as for a failed call) and the next
 * write starts a new one.
 */
import { Worker } from 'node:worker_threads';
import { fromWire, type WriteReply, type WriteRequest, type WriterCall } from './write-protocol.js';

const WORKER = new URL('./write-worker.js', import.meta.url);
/**
 * The worker holds little (paths, and thumbnails for milliseconds), but V8's default young generation
 * (16 MiB semi-spaces) let handed-over bytes pile up between its collections: 10-30 MiB more peak RSS
 * on the mixed corpus. A small one collects them within a few images.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 };

/** One worker and the writes it has; a worker that ends takes its own writes down, no other's. */
interface Lane {
  worker: Worker;
  pending: Map<number, { resolve: () => void; reject: (error: Error) => void }>;
  idle: Array<() => void>;
}

export class WriteThread {
  /** Where new writes go; a lane being closed or dead is no longer here. */
  private lane: Lane | undefined;
  private nextId = 1;

  /**
   * Sends one write; resolves when it is done (durable as atomic.ts makes it), rejects with its error.
   * `handOver`: the caller will not touch the files' bytes again, so they are moved to the thread
   * (transferred) where they own their memory, instead of copied.
   */
  run(request: WriterCall, handOver = false): Promise<void> {
    const lane = this.current();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      const transfer = handOver ? [...new Set(request.files.flatMap(({ data }) => (typeof data === 'string' ? [] : ownBuffer(data) ?? [])))] : [];
      try {
        lane.worker.postMessage({ ...request, id } satisfies WriteRequest, transfer);
      } catch (error) {
        reject(error); // not sendable (a detached buffer): nothing was sent
        return;
      }
      lane.pending.set(id, { resolve, reject });
      if (lane.pending.size === 1) lane.worker.ref();
    });
  }

  /**
   * Ends the thread once the writes under way are done, or after `graceMs`: a write stuck in the file
   * system (a dead NFS mount) must not hold a stopping engine forever; it then fails (the temporaries
   * it leaves are removed by the next start's recovery). A write sent meanwhile starts another thread.
   */
  async close(graceMs = Infinity): Promise<void> {
    const lane = this.lane;
    if (!lane) return;
    this.lane = undefined;
    if (lane.pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const late = Number.isFinite(graceMs) ? new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))) : new Promise<void>(() => {});
      await Promise.race([new Promise<void>((resolve) => lane.idle.push(resolve)), late]);
      clearTimeout(timer);
    }
    const stuck = lane.pending.size > 0;
    this.fail(lane, new Error('the write thread was closed before this write was done'));
    // a thread ends only once its calls under way return: one stuck in the file system is not waited for
    const ended = lane.worker.terminate();
    if (stuck) ended.catch(() => {});
    else await ended;
  }

  private current(): Lane {
    if (this.lane) return this.lane;
    const lane: Lane = { worker: new Worker(WORKER, { resourceLimits: WORKER_LIMITS }), pending: new Map(), idle: [] };
    lane.worker.unref();
    lane.worker.on('message', (reply: WriteReply) => this.settle(lane, reply));
    lane.worker.on('messageerror', (error) => this.fail(lane, error)); // an answer that cannot be read
    lane.worker.on('error', (error) => this.fail(lane, error));
    lane.worker.on('exit', (code) => this.fail(lane, new Error(`the write thread ended (exit code ${code})`)));
    this.lane = lane;
    return lane;
  }

  private settle(lane: Lane, reply: WriteReply): void {
    const pending = lane.pending.get(reply.id);
    if (!pending) return;
    lane.pending.delete(reply.id);
    if (reply.error) pending.reject(fromWire(reply.error));
    else pending.resolve();
    if (lane.pending.size === 0) becameIdle(lane);
  }

  /** The thread died (or is closed): whatever it still had fails, and the next write starts another. */
  private fail(lane: Lane, error: Error): void {
    if (this.lane === lane) this.lane = undefined;
    const pending = [...lane.pending.values()];
    lane.pending.clear();
    for (const p of pending) p.reject(error);
    becameIdle(lane);
  }
}

function becameIdle(lane: Lane): void {
  lane.worker.unref();
  for (const waiter of lane.idle.splice(0)) waiter();
}

/**
 * The buffer `data` is the whole of, so that it can be transferred. Never an empty one:
 * nothing is saved by moving it, and a buffer already detached looks the same, which postMessage
 * would drop with its message, silently (Node 20); sent as a copy instead, it is refused at once.
 */
function ownBuffer(data: Uint8Array): ArrayBuffer | undefined {
  const { buffer } = data;
  const whole = data.byteLength > 0 && data.byteOffset === 0 && data.byteLength === buffer.byteLength;
  return whole && buffer instanceof ArrayBuffer ? buffer : undefined;
}

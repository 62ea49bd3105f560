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
import type { WireError, WriteReply, WriteRequest, WriterCall } from './write-protocol.js';

const WORKER = new URL('./write-worker.js', import.meta.url);

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class WriteThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Called once no write is under way (close waits for that). */
  private idleWaiters: Array<() => void> = [];

  /**
   * Sends one write; resolves when it is done (durable as atomic.ts makes it), rejects with its error.
   * `handOver`: the caller will not touch the files' bytes again, so they are moved to the thread
   * (transferred) where they own their memory, instead of copied.
   */
  run(request: WriterCall, handOver = false): Promise<void> {
    const worker = this.started();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      const transfer = handOver ? [...new Set(request.files.flatMap(({ data }) => (typeof data === 'string' ? [] : ownBuffer(data) ?? [])))] : [];
      try {
        worker.postMessage({ ...request, id } satisfies WriteRequest, transfer);
      } catch (error) {
        reject(error); // not sendable (a detached buffer): nothing was sent
        return;
      }
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
    });
  }

  /** Waits for the writes under way, then ends the thread (a later write would start another). */
  async close(): Promise<void> {
    if (this.pending.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER);
    worker.unref();
    worker.on('message', (reply: WriteReply) => this.settle(reply));
    worker.on('error', (error) => this.fail(worker, error));
    worker.on('exit', (code) => this.fail(worker, new Error(`the write thread ended (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private settle(reply: WriteReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (reply.error) pending.reject(fromWire(reply.error));
    else pending.resolve();
    if (this.pending.size === 0) this.becameIdle();
  }

  private becameIdle(): void {
    this.worker?.unref();
    for (const waiter of this.idleWaiters.splice(0)) waiter();
  }

  /** The thread died: whatever it had fails, and the next write starts another. */
  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
    this.becameIdle();
  }
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

/** An error as the calling code expects it from fs: message, and code, errno, syscall, path when it had them. */
function fromWire(wire: WireError): Error {
  const error = new Error(wire.message) as NodeJS.ErrnoException;
  if (wire.name) error.name = wire.name;
  if (wire.code !== undefined) error.code = wire.code;
  if (wire.errno !== undefined) error.errno = wire.errno;
  if (wire.syscall !== undefined) error.syscall = wire.syscall;
  if (wire.path !== undefined) error.path = wire.path;
  return error;
}

import { Piscina } from 'piscina';
import type { ThumbnailResult, ThumbnailTask } from '../workers/thumbnail-task.js';

const WORKER = new URL('../workers/thumbnail-worker.js', import.meta.url);

export interface ThumbnailPoolOptions {
  threads: number;
  tasksPerThread: number;
  nice: number;
}

/** What the engine needs from its thumbnail stage (the bench of the spool alone stands in for it). */
export interface ThumbnailRunner {
  run(task: ThumbnailTask): Promise<ThumbnailResult>;
  close(): Promise<void>;
  /** Threads, the share of time they were busy, tasks waiting: for /metrics. */
  figures?(): { threads: number; utilization: number; waiting: number };
}

/** The sharp worker threads: CPU work runs here, never on the event loop. */
export class ThumbnailPool implements ThumbnailRunner {
  private readonly piscina: Piscina;

  constructor(options: ThumbnailPoolOptions) {
    this.piscina = new Piscina({
      filename: WORKER.href,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: options.tasksPerThread,
      workerData: { nice: options.nice },
    });
  }

  /** No abort signal on purpose: piscina runs an abortable task alone on its thread. */
  run(task: ThumbnailTask): Promise<ThumbnailResult> {
    // transfer the bytes when they own their memory; a small Buffer may sit in Node's shared pool,
    // which cannot be transferred (it is copied instead)
    const { input } = task;
    const owns = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength;
    return this.piscina.run(task, owns ? { transferList: [input.buffer as ArrayBuffer] } : {});
  }

  figures(): { threads: number; utilization: number; waiting: number } {
    return { threads: this.piscina.threads.length, utilization: this.piscina.utilization, waiting: this.piscina.queueSize };
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}

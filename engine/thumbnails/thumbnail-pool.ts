import { Piscina } from 'piscina';
import type { ThumbnailResult, ThumbnailTask } from '../../workers/thumbnail-task.js';
import { restrictLoaders } from '../../workers/pipeline.js';
import { SharpThreadPriority } from './thread-priority.js';

const WORKER = new URL('../../workers/thumbnail-worker.js', import.meta.url);

export interface ThumbnailPoolOptions {
  threads: number;
  tasksPerThread: number;
  /** The sharp threads' nice value (the workers' and libvips'); 0 leaves them as they are. */
  nice: number;
}

/** What the engine needs from its thumbnail stage (the bench of the spool alone stands in for it). */
/** Threads, tasks running and the most that may run, tasks waiting for a thread. */
export interface PoolFigures {
  threads: number;
  active: number;
  capacity: number;
  waiting: number;
}

export interface ThumbnailRunner {
  run(task: ThumbnailTask): Promise<ThumbnailResult>;
  close(): Promise<void>;
  /** For /metrics. */
  figures?(): PoolFigures;
}

/** The sharp worker threads: CPU work runs here, never on the event loop. */
export class ThumbnailPool implements ThumbnailRunner {
  private readonly piscina: Piscina;
  private readonly capacity: number;
  private active = 0;
  private readonly priority: SharpThreadPriority;

  constructor(options: ThumbnailPoolOptions) {
    // process-wide in libvips: done here, before any worker opens an image (workers/pipeline.ts)
    restrictLoaders();
    this.piscina = new Piscina({
      filename: WORKER.href,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: options.tasksPerThread,
      workerData: { nice: options.nice, loadersRestricted: true },
    });
    this.capacity = options.threads * options.tasksPerThread;
    this.priority = new SharpThreadPriority(options.nice);
  }

  /** No abort signal on purpose: piscina runs an abortable task alone on its thread. */
  run(task: ThumbnailTask): Promise<ThumbnailResult> {
    // transfer the bytes when they own their memory; a small Buffer may sit in Node's shared pool,
    // which cannot be transferred (it is copied instead)
    const { input } = task;
    const owns = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength;
    this.active++;
    return this.piscina.run(task, owns ? { transferList: [input.buffer as ArrayBuffer] } : {}).finally(() => {
      this.active--;
      // libvips starts its threads as the work comes: lower the new ones (at most once a second)
      this.priority.maybeScan();
    });
  }

  /** libvips threads given the pool's nice value so far. */
  get loweredThreads(): number {
    return this.priority.lowered;
  }

  figures(): PoolFigures {
    return { threads: this.piscina.threads.length, active: Math.min(this.active, this.capacity), capacity: this.capacity, waiting: this.piscina.queueSize };
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}

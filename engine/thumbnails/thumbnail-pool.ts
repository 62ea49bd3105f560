import { getPriority } from 'node:os';
import { Piscina } from 'piscina';
import type { ThumbnailResult, ThumbnailTask } from '../../workers/thumbnail-task.js';
import { restrictLoaders } from '../../workers/pipeline.js';
import { SharpThreadPriority } from './thread-priority.js';

const WORKER = new URL('../../workers/thumbnail-worker.js', import.meta.url);

export interface ThumbnailPoolOptions {
  threads: number;
  tasksPerThread: number;
  /**
   * How far below the priority of the thread that makes the pool (the engine's: pool.nice, set by
   * `run`, or whatever the process was started with) the sharp threads run; 0 leaves them as they are.
   */
  threadNice: number;
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
  /**
   * The outputs' bytes are the caller's from then on: each in a buffer of its own, which the engine
   * hands over (transfers) to its write thread; two outputs sharing one buffer could not both be sent.
   */
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
    const nice = options.threadNice > 0 ? Math.min(19, getPriority() + options.threadNice) : 0;
    this.piscina = new Piscina({
      filename: WORKER.href,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: options.tasksPerThread,
      workerData: { nice, loadersRestricted: true },
      // originals and thumbnails are external memory, freed when their objects are collected: a small
      // young generation collects them within a few images (measured: 10-20 MiB less peak RSS on camera photos)
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    this.capacity = options.threads * options.tasksPerThread;
    this.priority = new SharpThreadPriority(nice);
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

  /** libvips threads at the pool's nice value so far, and those whose change was refused. */
  get threadPriorities(): { lowered: number; refused: number } {
    return this.priority.counts;
  }

  figures(): PoolFigures {
    return { threads: this.piscina.threads.length, active: Math.min(this.active, this.capacity), capacity: this.capacity, waiting: this.piscina.queueSize };
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}

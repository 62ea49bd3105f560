import { Piscina } from 'piscina';
import type { ThumbnailResult, ThumbnailTask } from '../workers/thumbnail-task.js';

const WORKER = new URL('../workers/thumbnail-worker.js', import.meta.url);

export interface ThumbnailPoolOptions {
  threads: number;
  nice: number;
}

/** The sharp worker threads: CPU work runs here, never on the event loop. */
export class ThumbnailPool {
  private readonly piscina: Piscina;

  constructor(options: ThumbnailPoolOptions) {
    this.piscina = new Piscina({
      filename: WORKER.href,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: 60_000,
      workerData: { nice: options.nice },
    });
  }

  run(task: ThumbnailTask): Promise<ThumbnailResult> {
    return this.piscina.run(task, { transferList: [task.input.buffer as ArrayBuffer] });
  }

  /** Busy fraction of the pool's threads since start (0..1). */
  get utilization(): number {
    return this.piscina.utilization;
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}

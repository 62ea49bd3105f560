/** pipeline: images/s through the worker pipeline alone (ThumbnailPool, default sizes/formats), bytes in memory. */
import { ThumbnailPool } from '../../engine/thumbnails/thumbnail-pool.js';
import { cpuMeter } from '../lib/cpu.js';
import { runLimited } from '../lib/lanes.js';
import type { RssSampler } from '../lib/rss.js';
import { secondsSince } from '../lib/stats.js';
import { Rounds, type PhaseContext, type PhaseResult } from './phase.js';

export interface PipelineResult extends PhaseResult {
  bytesPerImage: number | null;
  peakRssBytes: number;
}

export async function pipelinePhase({ corpus, config, processing, warmCount, rounds, progress }: PhaseContext, sampler: RssSampler): Promise<PipelineResult> {
  const threads = config.pool.threads;
  const inFlight = threads * (config.pool.tasksPerThread + 1);
  const pool = new ThumbnailPool({ threads, tasksPerThread: config.pool.tasksPerThread, threadNice: 0 });
  const task = (bytes: Uint8Array) => ({ input: bytes, sizes: processing.sizes, formats: processing.formats, process: processing.process, maxPixels: config.thumbnails.maxPixels });
  try {
    // warm-up: starts every worker, loads sharp in it, touches the code paths
    const warm = corpus.slice(0, warmCount).map((image) => new Uint8Array(image.bytes));
    await runLimited(warm, inFlight, async (bytes) => {
      await pool.run(task(bytes));
    });

    const timing = new Rounds(corpus.length);
    let outputBytes = 0;
    let ok = 0;
    let failures: string[] = [];
    for (let round = 0; round < rounds; round++) {
      // each task's bytes are transferred to the worker (detached here): one private copy per task, made before timing
      const inputs = corpus.map((image) => new Uint8Array(image.bytes));
      outputBytes = 0;
      ok = 0;
      failures = [];
      sampler.start();
      const cpu = cpuMeter();
      const started = performance.now();
      await runLimited(inputs, inFlight, async (bytes, index) => {
        const result = await pool.run(task(bytes));
        if (result.ok) {
          ok++;
          for (const output of result.outputs) outputBytes += output.data.byteLength;
        } else failures.push(`${corpus[index]?.name}: ${result.code} ${result.message}`);
      });
      const seconds = secondsSince(started);
      const cpuNote = cpu();
      sampler.stop();
      const rate = timing.add(seconds, cpuNote);
      if (rounds > 1) progress(`pipeline round ${round + 1}/${rounds} ... ${rate.toFixed(1)} img/s`);
    }
    if (failures.length > 0) progress(`pipeline: ${failures.length} failed, first: ${failures[0]}`);
    const best = timing.best;
    return {
      imgPerSec: best?.imgPerSec ?? null,
      seconds: best?.seconds ?? null,
      images: corpus.length,
      failures: failures.length,
      bytesPerImage: ok > 0 ? outputBytes / ok : null,
      peakRssBytes: sampler.peakBytes,
      note: `ThumbnailPool ${threads} threads, ${inFlight} in flight; ${timing.note}${best?.cpu ?? ''}`,
    };
  } finally {
    await pool.close();
  }
}

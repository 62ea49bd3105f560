/**
 * e2e: HTTP source -> spool batch -> download -> thumbnails -> tree, in this process (Engine.drain),
 * and how much of the main thread's time it takes per image (`performance.eventLoopUtilization()`).
 * The source server runs in a worker thread of its own, so that the main thread's figure is the
 * engine's alone. bookkeeping.ts runs the same rounds with the thumbnail stage stubbed.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../../engine/config/config.js';
import { Engine } from '../../engine/engine.js';
import { createLogger } from '../../engine/log/logger.js';
import type { ThumbnailRunner } from '../../engine/thumbnails/thumbnail-pool.js';
import { cpuMeter, mainThreadMeter } from '../lib/cpu.js';
import { fmt } from '../lib/format.js';
import type { RssSampler } from '../lib/rss.js';
import { profileSpan } from '../lib/profile.js';
import { startThreadServer } from '../lib/server-thread.js';
import { secondsSince } from '../lib/stats.js';
import { Rounds, type PhaseContext, type PhaseResult } from './phase.js';

export interface E2eResult extends PhaseResult {
  peakRssBytes: number;
  /** In the best round: from the start of the drain to the batch file read (null if not seen). */
  ingestSeconds: number | null;
  failuresByCode: Record<string, number>;
  retries: number;
  /** The main thread's active time per image (event loop utilisation), in the round that took least. */
  mainMsPerImage: number | null;
  /**
   * Of that, the CPU time the main thread ran per image (schedstat), in the round that took least;
   * the rest of the active time it was ready but waited for a core. Null where not measured.
   */
  mainCpuMsPerImage: number | null;
  /** Where the memory went, over the timed rounds (see MemoryFigures). */
  memory: MemoryFigures;
}

/** Peaks over the timed rounds: V8's heap, external memory and ArrayBuffers (in this thread), and the originals the engine spilled to disk. */
export interface MemoryFigures {
  peakHeapBytes: number;
  peakExternalBytes: number;
  peakArrayBuffersBytes: number;
  spilled: number;
  /** The most bytes of originals the engine held in memory at once (its memory budget's peak), and the budget. */
  peakOriginalsBytes: number;
  budgetBytes: number;
}

/** One round's images: what a URL of the round serves. */
export interface RoundImage {
  name: string;
  bytes: Buffer;
}

export interface EngineRoundsOptions {
  /** The images of every round (one URL each, new URLs every round). */
  images: readonly RoundImage[];
  /** Images of the warm-up (its own URLs). */
  warm: readonly RoundImage[];
  rounds: number;
  workDir: string;
  fsync: boolean;
  progress: PhaseContext['progress'];
  /** Shown in progress lines. */
  label: string;
  /** pool.threads of the engine (its default otherwise). */
  threads?: number;
  /** The thumbnail stage (sharp's pool unless given). */
  pool?: ThumbnailRunner;
  sampler?: RssSampler;
  /** --cpu-prof: a profile of the main thread per timed round goes there. */
  cpuProf?: string;
}

async function writeBatch(spool: string, country: string, name: string, urls: string[]): Promise<void> {
  const dir = join(spool, 'incoming', country);
  await mkdir(dir, { recursive: true });
  // as ETL does: a dotfile, then one rename into place
  await writeFile(join(dir, `.${name}.tmp`), `${urls.join('\n')}\n`);
  await rename(join(dir, `.${name}.tmp`), join(dir, name));
}

/** Timed rounds of an engine draining one batch each, from a source server, into a fresh spool and tree. */
export async function engineRounds(options: EngineRoundsOptions): Promise<E2eResult> {
  const { images, rounds, workDir, fsync, progress, label, sampler } = options;
  const routes = new Map<string, Uint8Array>();
  // every round has its own URLs, so that no round finds its images already in the tree
  const roundPaths = Array.from({ length: rounds }, (_, round) =>
    images.map((image, i) => {
      const path = `/photos/r${round}/${i}/${encodeURIComponent(image.name)}`;
      routes.set(path, image.bytes);
      return path;
    }),
  );
  const warmPaths = options.warm.map((image, i) => {
    const path = `/warm/${i}/${encodeURIComponent(image.name)}`;
    routes.set(path, image.bytes);
    return path;
  });
  const server = await startThreadServer(routes);
  const root = await mkdtemp(join(workDir, 'e2e-'));
  const config = parseConfig({
    spool: join(root, 'spool'),
    tree: join(root, 'tree'),
    countries: ['uk'],
    intake: { settleMs: 0 },
    download: { perHost: 32, perHostRate: 0, allow: ['127.0.0.1'], proxy: 'none' },
    log: { level: 'silent', dir: join(root, 'log') },
    fsync,
    ...(options.threads ? { pool: { threads: options.threads } } : {}),
  });
  const engine = new Engine({ config, countries: ['uk'], log: createLogger({ level: 'silent', component: 'bench' }), ...(options.pool ? { pool: options.pool } : {}) });
  try {
    // warm-up on the same engine: starts its workers and opens connections to the server
    await writeBatch(config.spool, 'uk', 'warm.urls', warmPaths.map((p) => server.url(p)));
    await engine.drain();
    if (engine.stats.thumbed !== warmPaths.length) progress(`${label} warm-up: ${engine.stats.thumbed}/${warmPaths.length} thumbed`);

    const count = images.length;
    const timing = new Rounds(count);
    let missing = 0;
    let thumbed = 0;
    let bestIngest: number | null = null;
    let retries = 0;
    let spilled = 0;
    let mainMsPerImage: number | null = null;
    let mainCpuMsPerImage: number | null = null;
    const mainNotes: string[] = [];
    const failuresByCode: Record<string, number> = {};
    for (let round = 0; round < rounds; round++) {
      const before = { ...engine.stats, failuresByCode: { ...engine.stats.failuresByCode } };
      await writeBatch(config.spool, 'uk', `bench-${round}.urls`, (roundPaths[round] ?? []).map((p) => server.url(p)));
      let ingestSeconds: number | null = null;
      const stopProfile = await profileSpan(options.cpuProf, `${label}-round${round + 1}`);
      sampler?.start();
      const cpu = cpuMeter();
      const loop = performance.eventLoopUtilization();
      const thread = mainThreadMeter();
      const started = performance.now();
      // the batch's reading is watched by polling the stats: cheap, and counted in the main thread's time
      const watcher = setInterval(() => {
        if (ingestSeconds === null && engine.stats.batches > before.batches) ingestSeconds = secondsSince(started);
      }, 5);
      try {
        await engine.drain();
      } finally {
        clearInterval(watcher);
      }
      const seconds = secondsSince(started);
      const used = performance.eventLoopUtilization(loop);
      const ran = thread();
      const cpuNote = cpu();
      sampler?.stop();
      await stopProfile();
      const mainMs = used.active / count;
      mainMsPerImage = mainMsPerImage === null ? mainMs : Math.min(mainMsPerImage, mainMs);
      mainNotes.push(`${mainMs.toFixed(2)}`);
      if (ran) mainCpuMsPerImage = Math.min(mainCpuMsPerImage ?? Infinity, ran.runMs / count);

      thumbed = engine.stats.thumbed - before.thumbed;
      const failed = engine.stats.failed - before.failed;
      for (const [code, n] of Object.entries(engine.stats.failuresByCode)) {
        const delta = n - (before.failuresByCode[code] ?? 0);
        if (delta > 0) failuresByCode[code] = (failuresByCode[code] ?? 0) + delta;
      }
      missing += count - thumbed;
      retries += engine.stats.retries - before.retries;
      spilled += engine.stats.spilled - before.spilled;
      if (thumbed !== count) {
        progress(`${label}: only ${thumbed}/${count} thumbed; failed ${failed} ${JSON.stringify(failuresByCode)}, retries ${engine.stats.retries - before.retries}, skipped ${engine.stats.skipped - before.skipped}`);
      }
      const rate = timing.add(seconds, `batch read in ${fmt(ingestSeconds, 2)}s; main thread ${mainMs.toFixed(2)} ms/image active (utilisation ${used.utilization.toFixed(2)}${ran ? `; ran ${(ran.runMs / count).toFixed(2)}, waited for a core ${(ran.waitMs / count).toFixed(2)}` : ''}); ${cpuNote}`);
      if (timing.best?.seconds === seconds) bestIngest = ingestSeconds;
      if (rounds > 1) progress(`${label} round ${round + 1}/${rounds} ... ${rate.toFixed(1)} img/s, main thread ${mainMs.toFixed(2)} ms/image`);
    }
    const best = timing.best;
    return {
      imgPerSec: best?.imgPerSec ?? null,
      seconds: best?.seconds ?? null,
      images: count,
      failures: missing,
      peakRssBytes: sampler?.peakBytes ?? 0,
      ingestSeconds: bestIngest,
      failuresByCode,
      retries,
      mainMsPerImage,
      mainCpuMsPerImage,
      memory: { peakHeapBytes: sampler?.peakHeapBytes ?? 0, peakExternalBytes: sampler?.peakExternalBytes ?? 0, peakArrayBuffersBytes: sampler?.peakArrayBuffersBytes ?? 0, spilled, peakOriginalsBytes: engine.memoryBudget.peak, budgetBytes: engine.memoryBudget.limit },
      note: `${thumbed}/${count} thumbed, ${retries} retries, ${spilled} spilled; fsync ${config.fsync}; ${timing.note}${rounds > 1 ? `main ms/image ${mainNotes.join('/')}; ` : ''}${best?.cpu ?? ''}`,
    };
  } finally {
    await engine.stop();
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

export function e2ePhase({ corpus, warmCount, rounds, workDir, progress, cpuProf }: PhaseContext, sampler: RssSampler, fsync: boolean): Promise<E2eResult> {
  return engineRounds({ images: corpus, warm: corpus.slice(0, warmCount), rounds, workDir, fsync, progress, label: 'e2e', sampler, ...(cpuProf ? { cpuProf } : {}) });
}

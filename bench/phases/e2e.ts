/** e2e: HTTP source server -> spool batch -> download -> thumbnails -> tree, in this process (Engine.drain). */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../../engine/config/config.js';
import { Engine } from '../../engine/engine.js';
import { createLogger } from '../../engine/log/logger.js';
import { startSourceServer, type Route } from '../../scripts/source-server.js';
import { cpuMeter } from '../lib/cpu.js';
import { fmt } from '../lib/format.js';
import type { RssSampler } from '../lib/rss.js';
import { secondsSince } from '../lib/stats.js';
import { Rounds, type PhaseContext, type PhaseResult } from './phase.js';

export interface E2eResult extends PhaseResult {
  peakRssBytes: number;
  /** In the best round: from the start of the drain to the batch file read (null if not seen). */
  ingestSeconds: number | null;
  failuresByCode: Record<string, number>;
  retries: number;
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

async function writeBatch(spool: string, country: string, name: string, urls: string[]): Promise<void> {
  const dir = join(spool, 'incoming', country);
  await mkdir(dir, { recursive: true });
  // as ETL does: a dotfile, then one rename into place
  await writeFile(join(dir, `.${name}.tmp`), `${urls.join('\n')}\n`);
  await rename(join(dir, `.${name}.tmp`), join(dir, name));
}

export async function e2ePhase({ corpus, workDir, warmCount, rounds, progress }: PhaseContext, sampler: RssSampler, fsync: boolean): Promise<E2eResult> {
  const routes = new Map<string, Route>();
  // every round has its own URLs, so that no round finds its images already in the tree
  const roundPaths = Array.from({ length: rounds }, (_, round) =>
    corpus.map((image, i) => {
      const path = `/photos/r${round}/${i}/${encodeURIComponent(image.name)}`;
      routes.set(path, { kind: 'image', bytes: image.bytes });
      return path;
    }),
  );
  const warmPaths = corpus.slice(0, warmCount).map((image, i) => {
    const path = `/warm/${i}/${encodeURIComponent(image.name)}`;
    routes.set(path, { kind: 'image', bytes: image.bytes });
    return path;
  });
  const server = await startSourceServer(routes);
  const root = await mkdtemp(join(workDir, 'e2e-'));
  const config = parseConfig({
    spool: join(root, 'spool'),
    tree: join(root, 'tree'),
    countries: ['uk'],
    intake: { settleMs: 0 },
    download: { perHost: 32, perHostRate: 0, allow: ['127.0.0.1'], proxy: 'none' },
    log: { level: 'silent', dir: join(root, 'log') },
    fsync,
  });
  const engine = new Engine({ config, countries: ['uk'], log: createLogger({ level: 'silent', component: 'bench' }) });
  try {
    // warm-up on the same engine: starts its workers and opens connections to the server
    await writeBatch(config.spool, 'uk', 'warm.urls', warmPaths.map((p) => server.url(p)));
    await engine.drain();
    if (engine.stats.thumbed !== warmPaths.length) progress(`e2e warm-up: ${engine.stats.thumbed}/${warmPaths.length} thumbed`);

    const timing = new Rounds(corpus.length);
    let missing = 0;
    let thumbed = 0;
    let bestIngest: number | null = null;
    let retries = 0;
    let spilled = 0;
    const failuresByCode: Record<string, number> = {};
    for (let round = 0; round < rounds; round++) {
      const before = { ...engine.stats, failuresByCode: { ...engine.stats.failuresByCode } };
      await writeBatch(config.spool, 'uk', `bench-${round}.urls`, (roundPaths[round] ?? []).map((p) => server.url(p)));
      let ingestSeconds: number | null = null;
      sampler.start();
      const cpu = cpuMeter();
      const started = performance.now();
      const watcher = setInterval(() => {
        if (ingestSeconds === null && engine.stats.batches > before.batches) ingestSeconds = secondsSince(started);
      }, 5);
      try {
        await engine.drain();
      } finally {
        clearInterval(watcher);
      }
      const seconds = secondsSince(started);
      const cpuNote = cpu();
      sampler.stop();

      thumbed = engine.stats.thumbed - before.thumbed;
      const failed = engine.stats.failed - before.failed;
      for (const [code, n] of Object.entries(engine.stats.failuresByCode)) {
        const delta = n - (before.failuresByCode[code] ?? 0);
        if (delta > 0) failuresByCode[code] = (failuresByCode[code] ?? 0) + delta;
      }
      missing += corpus.length - thumbed;
      retries += engine.stats.retries - before.retries;
      spilled += engine.stats.spilled - before.spilled;
      if (thumbed !== corpus.length) {
        progress(`e2e: only ${thumbed}/${corpus.length} thumbed; failed ${failed} ${JSON.stringify(failuresByCode)}, retries ${engine.stats.retries - before.retries}, skipped ${engine.stats.skipped - before.skipped}`);
      }
      const rate = timing.add(seconds, `batch read in ${fmt(ingestSeconds, 2)}s; ${cpuNote}`);
      if (timing.best?.seconds === seconds) bestIngest = ingestSeconds;
      if (rounds > 1) progress(`e2e round ${round + 1}/${rounds} ... ${rate.toFixed(1)} img/s`);
    }
    const best = timing.best;
    return {
      imgPerSec: best?.imgPerSec ?? null,
      seconds: best?.seconds ?? null,
      images: corpus.length,
      failures: missing,
      peakRssBytes: sampler.peakBytes,
      ingestSeconds: bestIngest,
      failuresByCode,
      retries,
      memory: { peakHeapBytes: sampler.peakHeapBytes, peakExternalBytes: sampler.peakExternalBytes, peakArrayBuffersBytes: sampler.peakArrayBuffersBytes, spilled, peakOriginalsBytes: engine.memoryBudget.peak, budgetBytes: engine.memoryBudget.limit },
      note: `${thumbed}/${corpus.length} thumbed, ${retries} retries, ${spilled} spilled; fsync ${config.fsync}; ${timing.note}${best?.cpu ?? ''}`,
    };
  } finally {
    await engine.stop();
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

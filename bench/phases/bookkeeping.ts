/**
 * bookkeeping: the engine without sharp, as a 16-core machine would run it. The thumbnail stage is
 * stubbed (it answers at once with tiny outputs, as bench:scale's does) and pool.threads is 16, so
 * what is timed is everything else end to end: the batch read into jobs (claims, job files), the
 * downloads from the local source (in a worker thread), the moves, the tree writes of the stub's
 * outputs and manifests, the expiry markers, the accounting. Images per second of that: the ceiling
 * one engine's main thread puts on a big machine.
 */
import type { RssSampler } from '../lib/rss.js';
import { stubPool } from '../lib/stub-pool.js';
import { engineRounds, type E2eResult, type RoundImage } from './e2e.js';
import type { PhaseContext } from './phase.js';

/** Threads the stubbed engine is configured with: the big machine of issue 14. */
export const BOOKKEEPING_THREADS = 16;
/** URLs per round: at a thousand per second a round of the fixture's 248 would be over before it began. */
export const BOOKKEEPING_IMAGES = 3_000;

export async function bookkeepingPhase({ corpus, rounds, workDir, progress, cpuProf }: PhaseContext, fsync: boolean, sampler?: RssSampler): Promise<E2eResult> {
  // the corpus' photos, over and over (the stub never looks at them; the downloads carry their bytes)
  const images: RoundImage[] = Array.from({ length: Math.max(BOOKKEEPING_IMAGES, corpus.length) }, (_, i) => corpus[i % corpus.length]!);
  const pool = stubPool();
  return engineRounds({ images, warm: images.slice(0, 200), rounds, workDir, fsync, progress, label: 'bookkeeping', threads: BOOKKEEPING_THREADS, pool, ...(sampler ? { sampler } : {}), ...(cpuProf ? { cpuProf } : {}) });
}

/**
 * `npm run bench [-- --corpus DIR] [--images N] [--mixed] [--phases pipeline,raw,vipsthumbnail,imagemagick,e2e,bookkeeping]`
 *
 * Measures, in one run and on one corpus:
 *   pipeline       images/s through the worker pipeline alone (ThumbnailPool, default sizes/formats)
 *   raw            the best plain sharp loop making the same outputs with the same thread count
 *   vipsthumbnail  the libvips CLI, one process per image per size, `threads` processes at a time
 *   imagemagick    `convert -thumbnail`, one process per image (-write chain), `threads` at a time
 *   e2e            HTTP source server -> spool batch -> download -> thumbnails -> tree (Engine.drain),
 *                  and the main thread's active time per image (event loop utilisation)
 *   bookkeeping    the same with the thumbnail stage stubbed and pool.threads 16: the engine alone
 * plus the peak RSS of the process during the pipeline and e2e phases and the bytes per image.
 * Each phase is a module of phases/; this file wires them, and bench-report.ts says what they found.
 *
 * Progress goes to stderr; a table and then, last, one JSON line go to stdout.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseConfig, processingFor } from '../engine/config/config.js';
import { DEFAULT_SAMPLE_COUNT, parseBenchArgs, usage, type BenchArgs } from './bench-args.js';
import { exitCodeOf, programCodeOf } from '../engine/core/program-errors.js';
import { UsageError } from '../scripts/cli-config.js';
import { benchReport, type BenchResults } from './bench-report.js';
import { loadCorpus, makeCorpus, makeMixedCorpus, MIXED_SMALL, type CorpusImage } from './lib/corpus.js';
import { fixedQuality } from './lib/fixed-quality.js';
import { fmt } from './lib/format.js';
import { printJsonLine, printLines, progressLines } from './lib/output.js';
import { RssSampler } from './lib/rss.js';
import { MIB } from './lib/stats.js';
import { cliToolPhase } from './phases/cli-tool.js';
import { bookkeepingPhase } from './phases/bookkeeping.js';
import { e2ePhase } from './phases/e2e.js';
import { imagemagick } from './phases/imagemagick.js';
import type { PhaseContext } from './phases/phase.js';
import { pipelinePhase } from './phases/pipeline.js';
import { rawPhase, SHARP_DEFAULT_CONCURRENCY } from './phases/raw-sharp.js';
import { vipsthumbnail } from './phases/vipsthumbnail.js';

const progress = progressLines('bench');

async function corpusOf(args: BenchArgs, workDir: string): Promise<{ corpus: CorpusImage[]; label: string }> {
  if (args.mixed) {
    const small = await corpusOf({ ...args, mixed: false, images: args.images ?? MIXED_SMALL }, workDir);
    const corpus = await makeMixedCorpus(args.tmp, small.corpus, progress);
    return { corpus, label: `a mixed corpus: ${small.corpus.length} from ${small.label} and ${corpus.length - small.corpus.length} large photos made from them` };
  }
  if (args.corpus) {
    const corpus = await loadCorpus(args.corpus, args.images).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      throw code === 'ENOENT' || code === 'ENOTDIR' ? new UsageError(`--corpus ${args.corpus}: not a directory`) : error;
    });
    if (corpus.length === 0) throw new Error(`no images in ${args.corpus}`);
    return { corpus, label: args.corpus };
  }
  const count = args.images ?? DEFAULT_SAMPLE_COUNT;
  progress(`generating ${count} sample images`);
  return { corpus: await makeCorpus(join(workDir, 'corpus'), count), label: `${count} generated samples (makeSampleSet)` };
}

/** Runs the phases asked for: pipeline and e2e first, so that their RSS is not inflated by what the others leave behind. */
async function runPhases(args: BenchArgs, ctx: PhaseContext, sampler: RssSampler): Promise<BenchResults> {
  const results: BenchResults = {};
  if (args.phases.has('pipeline')) {
    progress('pipeline ...');
    results.pipeline = await pipelinePhase(ctx, sampler);
    progress(`pipeline ... ${fmt(results.pipeline.imgPerSec)} img/s`);
  }
  if (args.phases.has('e2e')) {
    progress('e2e ...');
    // on the mixed corpus the e2e peak is its own (mixed_peak_rss_mb), not the pipeline's before it
    results.e2e = await e2ePhase(ctx, args.mixed ? new RssSampler() : sampler, args.fsync);
    progress(`e2e ... ${fmt(results.e2e.imgPerSec)} img/s`);
  }
  if (args.phases.has('bookkeeping')) {
    progress('bookkeeping (thumbnails stubbed, 16 threads) ...');
    results.bookkeeping = await bookkeepingPhase(ctx, args.fsync);
    progress(`bookkeeping ... ${fmt(results.bookkeeping.imgPerSec)} img/s`);
  }
  if (args.phases.has('raw')) {
    progress('raw sharp ...');
    results.raw = await rawPhase(ctx);
    progress(`raw sharp ... ${fmt(results.raw.imgPerSec)} img/s (${results.raw.best})`);
  }
  if (args.phases.has('vipsthumbnail')) results.vipsthumbnail = await cliToolPhase(vipsthumbnail, ctx);
  if (args.phases.has('imagemagick')) results.imagemagick = await cliToolPhase(imagemagick, ctx);
  return results;
}

async function main(): Promise<number> {
  const parsed = parseBenchArgs(process.argv.slice(2), tmpdir());
  if (parsed === 'help') {
    process.stdout.write(`${usage(tmpdir())}\n`);
    return 0;
  }
  const args = parsed;
  await mkdir(args.tmp, { recursive: true });
  const workDir = await mkdtemp(join(args.tmp, 'imagesys-bench-'));
  const interrupted = (): void => {
    if (!args.keep) rmSync(workDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const config = parseConfig({});
  const processing = processingFor(config, 'uk', undefined);
  const threads = config.pool.threads;
  const sampler = new RssSampler();
  const loadBefore = loadavg()[0] ?? 0;
  try {
    const { corpus, label } = await corpusOf(args, workDir);
    const corpusMiB = corpus.reduce((n, c) => n + c.bytes.length, 0) / MIB;
    const outputs = `${processing.sizes.map((s) => `${s.width}x${s.height}`).join(', ')} ${processing.formats.join('+')} q${fixedQuality(processing.process).quality}`;
    progress(`${corpus.length} images (${corpusMiB.toFixed(1)} MiB) from ${label}; ${threads} threads; outputs ${outputs}`);
    const warmCount = Math.min(Math.max(2, threads * 2), corpus.length);
    const results = await runPhases(args, { corpus, config, processing, threads, warmCount, rounds: args.rounds, workDir, progress, ...(args.cpuProf ? { cpuProf: args.cpuProf } : {}) }, sampler);

    const report = benchReport(results, {
      images: corpus.length,
      corpusMiB,
      corpusLabel: label,
      corpusDir: args.corpus,
      threads,
      outputs,
      phases: [...args.phases],
      fsync: args.fsync,
      rounds: args.rounds,
      mixed: args.mixed,
      loadBefore,
      loadAfter: loadavg()[0] ?? 0,
      firstRssBytes: sampler.firstBytes,
      hwmResetWorked: sampler.hwmResetWorked,
      cpuModel: cpus()[0]?.model.trim() ?? 'cpu',
      cores: availableParallelism(),
      node: process.version,
      sharp: sharp.versions.sharp,
      libvips: sharp.versions.vips,
      sharpDefaultConcurrency: SHARP_DEFAULT_CONCURRENCY,
      uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    });
    printLines(report.lines);
    printJsonLine(report.json);
    return report.failures > 0 ? 1 : 0;
  } finally {
    if (args.keep) progress(`kept ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // a command line it cannot run goes out with the usage (exit 2, as every program error of ImageSys)
    if (programCodeOf(error) === 'ERR_IMAGESYS_USAGE') {
      process.stderr.write(`bench: ${(error as Error).message}\n${usage(tmpdir())}\n`);
      process.exitCode = exitCodeOf(error);
      return;
    }
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 2;
  },
);

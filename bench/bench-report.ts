/**
 * `npm run bench`'s report, from the phases' results: the table, the ratios against the targets and
 * the JSON line (its keys are what records of past runs hold: keep them). Pure.
 */
import { SERVED_COPIES } from './lib/server-thread.js';
import type { Phase } from './bench-args.js';
import { fmt, table } from './lib/format.js';
import { MIB, ratio, round } from './lib/stats.js';
import type { CliToolResult } from './phases/cli-tool.js';
import type { E2eResult } from './phases/e2e.js';
import type { PhaseResult } from './phases/phase.js';
import type { PipelineResult } from './phases/pipeline.js';
import type { RawResult } from './phases/raw-sharp.js';

/** What each phase gave; a phase not run is missing. */
export interface BenchResults {
  pipeline?: PipelineResult;
  raw?: RawResult;
  vipsthumbnail?: CliToolResult;
  imagemagick?: CliToolResult;
  e2e?: E2eResult;
  /** The e2e rounds with the thumbnail stage stubbed and 16 threads. */
  bookkeeping?: E2eResult;
}

/** The facts of the run the report states beside the figures. */
export interface BenchRun {
  images: number;
  corpusMiB: number;
  corpusLabel: string;
  /** --corpus, or undefined for generated samples. */
  corpusDir: string | undefined;
  threads: number;
  /** The outputs made, as "120x90, 200x150 webp q75". */
  outputs: string;
  phases: readonly Phase[];
  fsync: boolean;
  rounds: number;
  /** The corpus is the mixed one (--mixed): the e2e peak is reported as mixed_peak_rss_mb. */
  mixed: boolean;
  loadBefore: number;
  loadAfter: number;
  /** RSS when the first timed round started. */
  firstRssBytes: number | undefined;
  hwmResetWorked: boolean;
  cpuModel: string;
  cores: number;
  node: string;
  sharp: string;
  libvips: string;
  sharpDefaultConcurrency: number;
  uvThreadpoolSize: number;
}

export interface BenchReport {
  lines: string[];
  json: Record<string, unknown>;
  /** Failed images over every phase (the exit code is 1 when there are any). */
  failures: number;
}

const mark = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'met' : 'NOT MET');

export function benchReport(results: BenchResults, run: BenchRun): BenchReport {
  const { pipeline, raw, vipsthumbnail: vips, imagemagick: magick, e2e, bookkeeping } = results;
  const pipelineRate = pipeline?.imgPerSec ?? null;
  const rawRate = raw?.imgPerSec ?? null;
  const magickRate = magick?.imgPerSec ?? null;
  const e2eRate = e2e?.imgPerSec ?? null;
  const peakBytes = pipeline || e2e ? Math.max(pipeline?.peakRssBytes ?? 0, e2e?.peakRssBytes ?? 0) : null;
  const peakRssMb = peakBytes === null ? null : peakBytes / MIB;
  const bytesPerImage = pipeline?.bytesPerImage ?? null;
  // the bench holds the corpus in memory twice for its source server (its own and the server thread's
  // copy, every byte read, so resident): that is the source's memory, not the engine's, and is taken
  // off (bench:run-once measures them apart). Taking off one copy only, as before the server moved to
  // a thread, left the figure 139 MiB too high.
  const mixedPeakMb = run.mixed && e2e ? e2e.peakRssBytes / MIB - SERVED_COPIES * run.corpusMiB : null;
  const pipelineVsRaw = ratio(pipelineRate, rawRate);
  const e2eVsPipeline = ratio(e2eRate, pipelineRate);
  const pipelineVsMagick = ratio(pipelineRate, magickRate);
  const mainMs = e2e?.mainMsPerImage ?? null;
  const mainCeiling = ratio(1000, mainMs);
  const bookkeepingRate = bookkeeping?.imgPerSec ?? null;
  const targets = {
    pipeline_ge_0_9_raw: pipelineVsRaw === null ? null : pipelineVsRaw >= 0.9,
    e2e_ge_0_8_pipeline: e2eVsPipeline === null ? null : e2eVsPipeline >= 0.8,
    pipeline_ge_4_imagemagick: pipelineVsMagick === null ? null : pipelineVsMagick >= 4,
    peak_rss_le_300mb: peakRssMb === null ? null : peakRssMb <= 300,
    mixed_peak_rss_le_300mb: mixedPeakMb === null ? null : mixedPeakMb <= 300,
    main_ms_per_image_le_1: mainMs === null ? null : mainMs <= 1,
    e2e_ge_0_9_pipeline: e2eVsPipeline === null ? null : e2eVsPipeline >= 0.9,
    bookkeeping_16_ge_1000: bookkeepingRate === null ? null : bookkeepingRate >= 1000,
  };

  const rows: string[][] = [['phase', 'img/s', 'seconds', 'images', 'failed', 'notes']];
  const row = (name: string, r: PhaseResult | undefined): void => {
    if (!r) rows.push([name, '-', '-', '-', '-', 'not run']);
    else rows.push([name, fmt(r.imgPerSec), fmt(r.seconds, 2), String(r.images), String(r.failures), r.note]);
  };
  row('pipeline', pipeline);
  row('raw sharp (best)', raw);
  for (const v of raw?.variants ?? []) rows.push([`  ${v.label}`, fmt(v.imgPerSec), fmt(v.seconds, 2), String(run.images), '', `${Math.round(v.bytesPerImage)} bytes/image; ${v.note}`]);
  row('vipsthumbnail', vips);
  row('imagemagick', magick);
  row('e2e', e2e);
  row('bookkeeping (16 thr, stub)', bookkeeping);

  const lines = [
    `ImageSys bench: ${run.images} images (${run.corpusMiB.toFixed(1)} MiB) from ${run.corpusLabel}`,
    `${run.threads} threads (${run.cpuModel}, ${run.cores} cores), node ${run.node}, sharp ${run.sharp} / libvips ${run.libvips}; outputs ${run.outputs}`,
    `load average (1 min) before ${run.loadBefore.toFixed(2)}, after ${run.loadAfter.toFixed(2)}: other work on the machine skews every number`,
    '',
    table(rows),
    '',
    `bytes per image (all sizes, pipeline): ${bytesPerImage === null ? '-' : Math.round(bytesPerImage)}`,
    `peak RSS (pipeline + e2e phases):      ${fmt(peakRssMb)} MiB (RSS when the first timed round started: ${fmt(run.firstRssBytes === undefined ? null : run.firstRssBytes / MIB)} MiB)${run.hwmResetWorked ? '' : '; VmHWM could not be reset per phase, so it covers the whole run'}`,
    '',
    `pipeline / raw sharp   ${fmt(pipelineVsRaw, 2).padStart(6)}   target >= 0.9   ${mark(targets.pipeline_ge_0_9_raw)}`,
    `e2e / pipeline         ${fmt(e2eVsPipeline, 2).padStart(6)}   target >= 0.8   ${mark(targets.e2e_ge_0_8_pipeline)}`,
    `pipeline / imagemagick ${fmt(pipelineVsMagick, 2).padStart(6)}   target >= 4     ${mark(targets.pipeline_ge_4_imagemagick)}`,
    `peak RSS MiB           ${fmt(peakRssMb, 0).padStart(6)}   target <= 300   ${mark(targets.peak_rss_le_300mb)}`,
    `e2e / pipeline         ${fmt(e2eVsPipeline, 2).padStart(6)}   target >= 0.9   ${mark(targets.e2e_ge_0_9_pipeline)}   (issue 14)`,
    `main thread ms/image   ${fmt(mainMs, 2).padStart(6)}   target <= 1.0   ${mark(targets.main_ms_per_image_le_1)}   (e2e, event loop active; ceiling ${fmt(mainCeiling, 0)} img/s; of which the thread ran ${fmt(e2e?.mainCpuMsPerImage ?? null, 2)} ms)`,
    `bookkeeping 16 img/s   ${fmt(bookkeepingRate, 0).padStart(6)}   target >= 1000  ${mark(targets.bookkeeping_16_ge_1000)}   (thumbnails stubbed, 16 threads; main thread ${fmt(bookkeeping?.mainMsPerImage ?? null, 2)} ms/image active, ran ${fmt(bookkeeping?.mainCpuMsPerImage ?? null, 2)})`,
  ];
  if (run.mixed) {
    const m = e2e?.memory;
    const mib = (bytes: number | undefined): string => fmt(bytes === undefined ? null : bytes / MIB, 0);
    lines.push(
      `mixed e2e peak RSS MiB ${fmt(mixedPeakMb, 0).padStart(6)}   target <= 300   ${mark(targets.mixed_peak_rss_le_300mb)}`,
      `  the process's peak, ${fmt(e2e ? e2e.peakRssBytes / MIB : null, 0)} MiB, less the corpus its own source server holds in memory (${SERVED_COPIES} copies of ${run.corpusMiB.toFixed(0)} MiB: the bench's and the server thread's) (npm run bench:run-once measures imagesys run --once in a process of its own)`,
      `  main thread peaks: heap ${mib(m?.peakHeapBytes)} MiB, external ${mib(m?.peakExternalBytes)} MiB, ArrayBuffers ${mib(m?.peakArrayBuffersBytes)} MiB; originals in memory at most ${mib(m?.peakOriginalsBytes)} MiB (budget ${mib(m?.budgetBytes)} MiB); ${m?.spilled ?? '-'} originals spilled to downloaded/`,
    );
  }

  const json = {
    pipeline_img_s: round(pipelineRate),
    raw_sharp_img_s: round(rawRate),
    vipsthumbnail_img_s: round(vips?.imgPerSec ?? null),
    imagemagick_img_s: round(magickRate),
    e2e_img_s: round(e2eRate),
    peak_rss_mb: round(peakRssMb, 1),
    mixed_peak_rss_mb: round(mixedPeakMb, 1),
    mixed_process_peak_rss_mb: run.mixed && e2e ? round(e2e.peakRssBytes / MIB, 1) : null,
    bytes_per_image: bytesPerImage === null ? null : Math.round(bytesPerImage),
    images: run.images,
    threads: run.threads,
    pipeline_vs_raw: round(pipelineVsRaw, 3),
    e2e_vs_pipeline: round(e2eVsPipeline, 3),
    main_ms_per_image: round(mainMs, 3),
    main_ceiling_img_s: round(mainCeiling, 1),
    main_cpu_ms_per_image: round(e2e?.mainCpuMsPerImage ?? null, 3),
    bookkeeping_16_img_s: round(bookkeepingRate, 1),
    bookkeeping_main_ms_per_image: round(bookkeeping?.mainMsPerImage ?? null, 3),
    bookkeeping_main_cpu_ms_per_image: round(bookkeeping?.mainCpuMsPerImage ?? null, 3),
    bookkeeping_failures: bookkeeping ? bookkeeping.failures : null,
    pipeline_vs_imagemagick: round(pipelineVsMagick, 3),
    targets_met: targets,
    raw_sharp_best: raw?.best ?? null,
    raw_sharp_variants: Object.fromEntries((raw?.variants ?? []).filter((v) => v.counted).map((v) => [v.name, round(v.imgPerSec)])),
    e2e_ingest_s: round(e2e?.ingestSeconds ?? null, 3),
    e2e_failures: e2e ? e2e.failures : null,
    e2e_failures_by_code: e2e?.failuresByCode ?? null,
    e2e_retries: e2e ? e2e.retries : null,
    e2e_spilled: e2e ? e2e.memory.spilled : null,
    e2e_peak_external_mb: e2e ? round(e2e.memory.peakExternalBytes / MIB, 1) : null,
    e2e_peak_originals_mb: e2e ? round(e2e.memory.peakOriginalsBytes / MIB, 1) : null,
    pipeline_failures: pipeline ? pipeline.failures : null,
    phases: [...run.phases],
    corpus: run.corpusDir ?? 'generated',
    corpus_mib: round(run.corpusMiB, 1),
    sharp: run.sharp,
    libvips: run.libvips,
    sharp_default_concurrency: run.sharpDefaultConcurrency,
    uv_threadpool_size: run.uvThreadpoolSize,
    vipsthumbnail_version: vips?.version ?? null,
    imagemagick_version: magick?.version ?? null,
    node: run.node,
    e2e_fsync: e2e ? run.fsync : null,
    rounds: run.rounds,
    loadavg_before: round(run.loadBefore),
    loadavg_after: round(run.loadAfter),
  };
  const failures = [pipeline, raw, e2e, bookkeeping, vips, magick].reduce((n, r) => n + (r?.failures ?? 0), 0);
  return { lines, json, failures };
}

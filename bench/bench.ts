/**
 * `npm run bench [-- --corpus DIR] [--images N] [--phases pipeline,raw,vipsthumbnail,imagemagick,e2e]`
 *
 * Measures, in one run and on one corpus:
 *   pipeline       images/s through the worker pipeline alone (ThumbnailPool, default sizes/formats)
 *   raw            the best plain sharp loop making the same outputs with the same thread count
 *   vipsthumbnail  the libvips CLI, one process per image per size, `threads` processes at a time
 *   imagemagick    `convert -thumbnail`, one process per image (-write chain), `threads` at a time
 *   e2e            HTTP source server -> spool batch -> download -> thumbnails -> tree (Engine.drain)
 * plus the peak RSS of the process during the pipeline and e2e phases and the bytes per image.
 *
 * Progress goes to stderr; a table and then, last, one JSON line go to stdout.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import sharp from 'sharp';
import { parseConfig, processingFor, type Config, type Processing } from '../engine/config/config.js';
import type { SizeSpec } from '../workers/thumbnail-task.js';
import { Engine } from '../engine/engine.js';
import { createLogger } from '../engine/log/logger.js';
import { ThumbnailPool } from '../engine/thumbnails/thumbnail-pool.js';
import { makeSampleSet } from '../scripts/sample-images.js';
import { startSourceServer, type Route } from '../scripts/source-server.js';
import { encode } from '../workers/pipeline.js';
import { EXTENSIONS } from '../workers/thumbnail-task.js';

const execFileAsync = promisify(execFile);

/** sharp's concurrency in this process before anything (the pool's workers) changes it. */
const SHARP_DEFAULT_CONCURRENCY = sharp.concurrency();

const PHASES = ['pipeline', 'raw', 'vipsthumbnail', 'imagemagick', 'e2e'] as const;
type Phase = (typeof PHASES)[number];
const PHASE_ALIASES: Record<string, Phase> = { vips: 'vipsthumbnail', im: 'imagemagick', convert: 'imagemagick', sharp: 'raw' };

const VIPSTHUMBNAIL = '/usr/bin/vipsthumbnail';
const CONVERT = '/usr/bin/convert';
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);
const DEFAULT_SAMPLE_COUNT = 120;
const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// small helpers

const progress = (text: string): void => void process.stderr.write(`bench: ${text}\n`);

interface CorpusImage {
  name: string;
  path: string;
  bytes: Buffer;
}

/** Runs fn over items with at most `concurrency` in flight, in order of items. */
async function runLimited<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      await fn(items[index]!, index);
    }
  });
  await Promise.all(lanes);
}

function round(value: number | null, digits = 2): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

function fmt(value: number | null, digits = 1): string {
  return value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function errorText(error: unknown): string {
  const e = error as { stderr?: string | Buffer; message?: string } | null;
  const stderr = e?.stderr ? String(e.stderr).trim() : '';
  return (stderr || e?.message || String(error)).replace(/\s+/g, ' ').slice(0, 300);
}

/** Busy and total jiffies of all CPUs from /proc/stat (null elsewhere). */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * Over a span: cores' worth of CPU this process used (all its threads, not child processes) and that
 * the whole machine used (everything, children and other people's work included).
 */
function cpuMeter(): () => string {
  const own = process.cpuUsage();
  const machine = machineTicks();
  const started = performance.now();
  const cores = availableParallelism();
  return () => {
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(own);
    const ownCores = (used.user + used.system) / 1e6 / seconds;
    const now = machineTicks();
    const machineCores = machine && now && now.total > machine.total ? ((now.busy - machine.busy) / (now.total - machine.total)) * cores : null;
    return `cpu: bench process ${ownCores.toFixed(2)}, whole machine ${fmt(machineCores, 2)} of ${cores} cores`;
  };
}

// ---------------------------------------------------------------------------------------------
// peak RSS: sampled every 50 ms, plus the kernel's high-water mark (reset per phase when allowed)

function readHwmBytes(): number | null {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0). */
function resetHwm(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

class RssSampler {
  peakBytes = 0;
  /** RSS when sampling first started (corpus loaded, pool threads up): what the phases add comes on top. */
  firstBytes: number | undefined;
  hwmResetWorked = true;
  private timer: NodeJS.Timeout | undefined;

  start(): void {
    this.firstBytes ??= process.memoryUsage.rss();
    this.hwmResetWorked = resetHwm() && this.hwmResetWorked;
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    const hwm = readHwmBytes();
    if (hwm !== null) this.peakBytes = Math.max(this.peakBytes, hwm);
  }

  private sample(): void {
    this.peakBytes = Math.max(this.peakBytes, process.memoryUsage.rss());
  }
}

// ---------------------------------------------------------------------------------------------
// corpus

async function loadCorpus(dir: string, limit: number | undefined): Promise<CorpusImage[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase()))
    .map((entry) => entry.name)
    .sort();
  const chosen = limit === undefined ? names : names.slice(0, limit);
  const out: CorpusImage[] = [];
  for (const name of chosen) {
    const path = join(dir, name);
    out.push({ name, path, bytes: await readFile(path) });
  }
  return out;
}

async function makeCorpus(dir: string, count: number): Promise<CorpusImage[]> {
  await mkdir(dir, { recursive: true });
  const out: CorpusImage[] = [];
  for (const { name, bytes } of await makeSampleSet(count)) {
    const path = join(dir, name);
    await writeFile(path, bytes);
    out.push({ name, path, bytes });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// phase results

interface PhaseResult {
  imgPerSec: number | null;
  seconds: number | null;
  images: number;
  failures: number;
  note: string;
}

const skipped = (images: number, note: string): PhaseResult => ({ imgPerSec: null, seconds: null, images, failures: 0, note });

/** Timed rounds of one phase: the best round is reported (least disturbed by other work), all are listed. */
class Rounds {
  private readonly runs: Array<{ imgPerSec: number; seconds: number; cpu: string }> = [];

  constructor(private readonly images: number) {}

  add(seconds: number, cpu: string): number {
    const imgPerSec = this.images / seconds;
    this.runs.push({ imgPerSec, seconds, cpu });
    return imgPerSec;
  }

  get best(): { imgPerSec: number; seconds: number; cpu: string } | undefined {
    return this.runs.reduce<{ imgPerSec: number; seconds: number; cpu: string } | undefined>((a, b) => (a && a.imgPerSec >= b.imgPerSec ? a : b), undefined);
  }

  /** "rounds 41.2/45.0/44.1 img/s; " when there was more than one. */
  get note(): string {
    return this.runs.length > 1 ? `rounds ${this.runs.map((r) => r.imgPerSec.toFixed(1)).join('/')} img/s; ` : '';
  }
}

// ---------------------------------------------------------------------------------------------
// pipeline: ThumbnailPool alone, bytes in memory

interface PipelineResult extends PhaseResult {
  bytesPerImage: number | null;
  peakRssBytes: number;
}

async function pipelinePhase(corpus: CorpusImage[], config: Config, processing: Processing, sampler: RssSampler, warmCount: number, rounds: number): Promise<PipelineResult> {
  const threads = config.pool.threads;
  const inFlight = threads * (config.pool.tasksPerThread + 1);
  const pool = new ThumbnailPool({ threads, tasksPerThread: config.pool.tasksPerThread, nice: 0 });
  const task = (bytes: Uint8Array) => ({ input: bytes, sizes: processing.sizes, formats: processing.formats, process: processing.process, maxPixels: config.thumbnails.maxPixels });
  try {
    // warm-up: starts every worker, loads sharp in it, touches the code paths
    const warm = corpus.slice(0, warmCount).map((image) => new Uint8Array(image.bytes));
    await runLimited(warm, inFlight, async (bytes) => void (await pool.run(task(bytes))));

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
      const seconds = (performance.now() - started) / 1000;
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

// ---------------------------------------------------------------------------------------------
// raw sharp: plain loops in the main thread, same outputs, same thread count

type RawStrategy = (bytes: Buffer, processing: Processing) => Promise<number>;

const fitInside = (size: { width: number; height: number }) => ({ width: size.width, height: size.height, fit: 'inside' as const, withoutEnlargement: true });

/** (a) one pipeline per size and format: each decodes the JPEG again, with shrink-on-load for its size. */
const strategyDecodePerSize: RawStrategy = async (bytes, { sizes, formats, process: p }) => {
  let total = 0;
  for (const size of sizes) {
    for (const format of formats) {
      total += (await encode(sharp(bytes).rotate().resize(fitInside(size)), format, p).toBuffer()).length;
    }
  }
  return total;
};

/** (b1) one sharp input, clone() per output (sharp still runs a pipeline, with its own load, per clone). */
const strategyClone: RawStrategy = async (bytes, { sizes, formats, process: p }) => {
  const base = sharp(bytes).rotate();
  let total = 0;
  for (const size of sizes) {
    for (const format of formats) {
      total += (await encode(base.clone().resize(fitInside(size)), format, p).toBuffer()).length;
    }
  }
  return total;
};

/** (b2) one decode per image to the largest box (shrink-on-load), raw pixels, each size resized from them. */
const strategyRawIntermediate: RawStrategy = async (bytes, { sizes, formats, process: p }) => {
  const box = { width: Math.max(...sizes.map((s) => s.width)), height: Math.max(...sizes.map((s) => s.height)) };
  const { data, info } = await sharp(bytes).rotate().resize(fitInside(box)).raw().toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  let total = 0;
  for (const size of sizes) {
    const fits = raw.width <= size.width && raw.height <= size.height;
    for (const format of formats) {
      let image = sharp(data, { raw });
      if (!fits) image = image.resize(fitInside(size));
      total += (await encode(image, format, p).toBuffer()).length;
    }
  }
  return total;
};

/**
 * The baseline is the best of every plain loop here: three ways to make the sizes, each with as many
 * images in flight as the pool has threads and with twice as many (sharp's calls are asynchronous, so
 * more in flight keeps the cores busy between them, as the pool's tasksPerThread does).
 */
const RAW_STRATEGIES: Array<{ name: string; label: string; run: RawStrategy; inFlightPerThread: number; counted: boolean }> = [
  { name: 'decode_per_size', label: 'a: decode per size', run: strategyDecodePerSize, inFlightPerThread: 1, counted: true },
  { name: 'clone', label: 'b1: clone() per size', run: strategyClone, inFlightPerThread: 1, counted: true },
  { name: 'raw_intermediate', label: 'b2: 1 decode + raw', run: strategyRawIntermediate, inFlightPerThread: 1, counted: true },
  { name: 'decode_per_size_2x', label: 'a, 2x in flight', run: strategyDecodePerSize, inFlightPerThread: 2, counted: true },
  { name: 'clone_2x', label: 'b1, 2x in flight', run: strategyClone, inFlightPerThread: 2, counted: true },
  { name: 'raw_intermediate_2x', label: 'b2, 2x in flight', run: strategyRawIntermediate, inFlightPerThread: 2, counted: true },
];

interface RawResult extends PhaseResult {
  best: string | null;
  variants: Array<{ name: string; label: string; imgPerSec: number; seconds: number; bytesPerImage: number; note: string; counted: boolean }>;
}

async function rawPhase(corpus: CorpusImage[], processing: Processing, threads: number, warmCount: number, rounds: number): Promise<RawResult> {
  // the pool's workers set libvips-global state (concurrency 1, no cache) in this process: restore sharp's
  // default concurrency; the operation cache stays off so that warm-up runs cannot serve timed ones
  sharp.concurrency(SHARP_DEFAULT_CONCURRENCY);
  sharp.cache(false);
  const variants: RawResult['variants'] = [];
  let failures = 0;
  for (const strategy of RAW_STRATEGIES) {
    const inFlight = threads * strategy.inFlightPerThread;
    await runLimited(corpus.slice(0, warmCount), inFlight, async (image) => void (await strategy.run(image.bytes, processing)));
    const timing = new Rounds(corpus.length);
    let bytes = 0;
    let failed = 0;
    for (let round = 0; round < rounds; round++) {
      bytes = 0;
      failed = 0;
      const cpu = cpuMeter();
      const started = performance.now();
      await runLimited(corpus, inFlight, async (image) => {
        try {
          const made = await strategy.run(image.bytes, processing); // (not `bytes += await`: lanes would lose updates)
          bytes += made;
        } catch (error) {
          failed++;
          if (failed === 1) progress(`raw ${strategy.name}: ${image.name} failed: ${errorText(error)}`);
        }
      });
      const seconds = (performance.now() - started) / 1000;
      timing.add(seconds, cpu());
    }
    if (strategy.counted) failures += failed;
    const best = timing.best!;
    const inFlightNote = strategy.counted ? '' : `${inFlight} images in flight, not counted as the baseline; `;
    variants.push({ name: strategy.name, label: strategy.label, imgPerSec: best.imgPerSec, seconds: best.seconds, bytesPerImage: bytes / Math.max(1, corpus.length - failed), note: `${inFlightNote}${timing.note}${best.cpu}`, counted: strategy.counted });
    progress(`raw sharp ${strategy.name} ... ${best.imgPerSec.toFixed(1)} img/s`);
  }
  const counted = variants.filter((v) => v.counted);
  const best = counted.reduce<RawResult['variants'][number] | undefined>((a, b) => (a && a.imgPerSec >= b.imgPerSec ? a : b), undefined);
  return {
    imgPerSec: best?.imgPerSec ?? null,
    seconds: best?.seconds ?? null,
    images: corpus.length,
    failures,
    best: best?.name ?? null,
    variants,
    note: `best of ${counted.length}: ${best?.label ?? '-'}; sharp.concurrency ${SHARP_DEFAULT_CONCURRENCY}`,
  };
}

// ---------------------------------------------------------------------------------------------
// command-line tools

async function isElf(path: string): Promise<boolean> {
  const handle = await open(await realpath(path), 'r');
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    await handle.close();
  }
}

async function probeVips(): Promise<{ version: string } | { missing: string }> {
  try {
    await stat(VIPSTHUMBNAIL);
  } catch {
    return { missing: `${VIPSTHUMBNAIL} not found (apt-get install -y libvips-tools)` };
  }
  try {
    const { stdout } = await execFileAsync(VIPSTHUMBNAIL, ['--vips-version']);
    return { version: stdout.trim() };
  } catch (error) {
    return { missing: `${VIPSTHUMBNAIL} does not run: ${errorText(error)}` };
  }
}

async function probeImageMagick(): Promise<{ version: string } | { missing: string }> {
  try {
    await stat(CONVERT);
  } catch {
    return { missing: `${CONVERT} not found (apt-get install -y imagemagick)` };
  }
  try {
    if (!(await isElf(CONVERT))) return { missing: `${CONVERT} is not a binary (a stand-in script?)` };
    const { stdout } = await execFileAsync(CONVERT, ['-version']);
    const first = stdout.split('\n')[0] ?? '';
    if (!/ImageMagick/.test(first)) return { missing: `${CONVERT} is not ImageMagick: ${first.slice(0, 100)}` };
    return { version: first.replace(/^Version:\s*/, '').replace(/\s+https?:\S+/, '').trim() };
  } catch (error) {
    return { missing: `${CONVERT} does not run: ${errorText(error)}` };
  }
}

/** Sizes from the largest down, so that a -write chain can shrink each from the previous. */
const largestFirst = (sizes: readonly SizeSpec[]): SizeSpec[] => [...sizes].sort((a, b) => b.width * b.height - a.width * a.height);

/** One vipsthumbnail process per image, size and format. */
function vipsCommands(image: CorpusImage, index: number, outDir: string, processing: Processing): string[][] {
  const commands: string[][] = [];
  for (const size of processing.sizes) {
    for (const format of processing.formats) {
      const out = join(outDir, `${index}_${size.name}.${EXTENSIONS[format]}[Q=${processing.process.quality},strip]`);
      commands.push([image.path, '-s', `${size.width}x${size.height}>`, '-o', out]);
    }
  }
  return commands;
}

/** One convert process per image: auto-orient, then -thumbnail from the largest size down with a -write chain. */
function convertArgs(image: CorpusImage, index: number, outDir: string, processing: Processing): string[] {
  const args = [image.path, '-auto-orient', '-quality', String(processing.process.quality)];
  const outputs: string[][] = [];
  for (const size of largestFirst(processing.sizes)) {
    const writes = processing.formats.map((format) => join(outDir, `${index}_${size.name}.${EXTENSIONS[format]}`));
    outputs.push(['-thumbnail', `${size.width}x${size.height}>`, ...writes.flatMap((w) => ['-write', w])]);
  }
  const flat = outputs.flat();
  // the last output is the positional one instead of a -write
  const last = flat.pop()!;
  flat.pop();
  return [...args, ...flat, last];
}

async function cliPhase(
  label: string,
  corpus: CorpusImage[],
  threads: number,
  warmCount: number,
  workDir: string,
  outputsPerImage: number,
  jobsFor: (image: CorpusImage, index: number, outDir: string) => Array<{ file: string; args: string[] }>,
  env: NodeJS.ProcessEnv,
  rounds: number,
): Promise<PhaseResult> {
  const run = async (images: CorpusImage[], outDir: string): Promise<{ seconds: number; failures: string[]; cpu: string }> => {
    await mkdir(outDir, { recursive: true });
    const failures: string[] = [];
    const cpu = cpuMeter();
    const started = performance.now();
    await runLimited(images, threads, async (image, index) => {
      for (const job of jobsFor(image, index, outDir)) {
        try {
          await execFileAsync(job.file, job.args, { env, maxBuffer: 1024 * 1024 });
        } catch (error) {
          failures.push(`${image.name}: ${errorText(error)}`);
        }
      }
    });
    return { seconds: (performance.now() - started) / 1000, failures, cpu: cpu() };
  };
  const warm = await run(corpus.slice(0, warmCount), join(workDir, `${label}-warm`));
  if (warm.failures.length === warmCount && warmCount > 0) {
    return { ...skipped(corpus.length, `warm-up failed: ${warm.failures[0]}`), failures: warm.failures.length };
  }
  await rm(join(workDir, `${label}-warm`), { recursive: true, force: true });
  const timing = new Rounds(corpus.length);
  const expected = corpus.length * outputsPerImage;
  let made = 0;
  let failures = 0;
  let outputBytes = 0;
  for (let round = 0; round < rounds; round++) {
    const outDir = join(workDir, `${label}-${round}`);
    const timed = await run(corpus, outDir);
    const files = await readdir(outDir);
    made = files.length;
    outputBytes = 0;
    for (const file of files) outputBytes += (await stat(join(outDir, file))).size;
    failures = timed.failures.length;
    if (failures > 0) progress(`${label}: ${failures} failed, first: ${timed.failures[0]}`);
    if (made !== expected) progress(`${label}: made ${made} files, expected ${expected}`);
    await rm(outDir, { recursive: true, force: true });
    const rate = timing.add(timed.seconds, timed.cpu.replace('bench process', 'bench process (not its children)'));
    if (rounds > 1) progress(`${label} round ${round + 1}/${rounds} ... ${rate.toFixed(1)} img/s`);
  }
  const best = timing.best!;
  return { imgPerSec: best.imgPerSec, seconds: best.seconds, images: corpus.length, failures, note: `${made}/${expected} files, ${Math.round(outputBytes / corpus.length)} bytes/image; ${timing.note}${best.cpu}` };
}

// ---------------------------------------------------------------------------------------------
// end to end: HTTP server -> spool -> tree

interface E2eResult extends PhaseResult {
  peakRssBytes: number;
  ingestSeconds: number | null;
  failuresByCode: Record<string, number>;
  retries: number;
}

async function writeBatch(spool: string, country: string, name: string, urls: string[]): Promise<void> {
  const dir = join(spool, 'incoming', country);
  await mkdir(dir, { recursive: true });
  // as ETL does: a dotfile, then one rename into place
  await writeFile(join(dir, `.${name}.tmp`), `${urls.join('\n')}\n`);
  await rename(join(dir, `.${name}.tmp`), join(dir, name));
}

async function e2ePhase(corpus: CorpusImage[], workDir: string, sampler: RssSampler, warmCount: number, fsync: boolean, rounds: number): Promise<E2eResult> {
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
    const failuresByCode: Record<string, number> = {};
    for (let round = 0; round < rounds; round++) {
      const before = { ...engine.stats, failuresByCode: { ...engine.stats.failuresByCode } };
      await writeBatch(config.spool, 'uk', `bench-${round}.urls`, (roundPaths[round] ?? []).map((p) => server.url(p)));
      let ingestSeconds: number | null = null;
      sampler.start();
      const cpu = cpuMeter();
      const started = performance.now();
      const watcher = setInterval(() => {
        if (ingestSeconds === null && engine.stats.batches > before.batches) ingestSeconds = (performance.now() - started) / 1000;
      }, 5);
      try {
        await engine.drain();
      } finally {
        clearInterval(watcher);
      }
      const seconds = (performance.now() - started) / 1000;
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
      note: `${thumbed}/${corpus.length} thumbed, ${retries} retries; fsync ${config.fsync}; ${timing.note}${best?.cpu ?? ''}`,
    };
  } finally {
    await engine.stop();
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// main

const USAGE = `usage: npm run bench -- [--corpus DIR] [--images N] [--phases ${PHASES.join(',')}] [--rounds N] [--tmp DIR] [--fsync BOOL] [--keep]
  --corpus DIR   images to use (default: ${DEFAULT_SAMPLE_COUNT} generated sample JPEGs in a temp dir)
  --images N     use at most N images (the first N by name; or generate N samples)
  --phases LIST  run only these phases (aliases: vips, im, sharp)
  --tmp DIR      where temporary files go: e2e spool and tree, tool outputs (default ${tmpdir()})
  --rounds N     time every phase N times and report its best round (default 1; helps on a busy machine)
  --fsync BOOL   e2e with fsync true (default, as deployed) or false (to see what fsync costs)
  --keep         keep the temporary directory`;

class UsageError extends Error {}

function parseCli(): { corpus?: string; images?: number; phases: Set<Phase>; tmp: string; keep: boolean; fsync: boolean; rounds: number } {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        corpus: { type: 'string' },
        images: { type: 'string' },
        phases: { type: 'string' },
        tmp: { type: 'string' },
        fsync: { type: 'string' },
        rounds: { type: 'string' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  let images: number | undefined;
  if (values.images !== undefined) {
    images = Number(values.images);
    if (!Number.isInteger(images) || images < 1) throw new UsageError(`--images expects a positive integer, not ${values.images}`);
  }
  const rounds = values.rounds === undefined ? 1 : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new UsageError(`--rounds expects an integer from 1 to 100, not ${values.rounds}`);
  if (values.fsync !== undefined && values.fsync !== 'true' && values.fsync !== 'false') throw new UsageError(`--fsync expects true or false, not ${values.fsync}`);
  const phases = new Set<Phase>();
  for (const raw of (values.phases ?? PHASES.join(',')).split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    const phase = (PHASES as readonly string[]).includes(name) ? (name as Phase) : PHASE_ALIASES[name];
    if (!phase) throw new UsageError(`unknown phase ${JSON.stringify(name)}; phases are ${PHASES.join(', ')}`);
    phases.add(phase);
  }
  if (phases.size === 0) throw new UsageError('--phases names no phase');
  return { ...(values.corpus ? { corpus: resolve(values.corpus) } : {}), ...(images !== undefined ? { images } : {}), phases, tmp: resolve(values.tmp ?? tmpdir()), keep: values.keep ?? false, fsync: values.fsync !== 'false', rounds };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<number> {
  const args = parseCli();
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
  const warmCount = Math.max(2, threads * 2);
  const sampler = new RssSampler();
  const loadBefore = loadavg()[0] ?? 0;
  let exitCode = 0;

  try {
    let corpus: CorpusImage[];
    let corpusLabel: string;
    if (args.corpus) {
      corpus = await loadCorpus(args.corpus, args.images).catch((error: NodeJS.ErrnoException) => {
        throw error.code === 'ENOENT' || error.code === 'ENOTDIR' ? new UsageError(`--corpus ${args.corpus}: not a directory`) : error;
      });
      corpusLabel = args.corpus;
      if (corpus.length === 0) throw new Error(`no images in ${args.corpus}`);
    } else {
      const count = args.images ?? DEFAULT_SAMPLE_COUNT;
      progress(`generating ${count} sample images`);
      corpus = await makeCorpus(join(workDir, 'corpus'), count);
      corpusLabel = `${count} generated samples (makeSampleSet)`;
    }
    const warm = Math.min(warmCount, corpus.length);
    const corpusMiB = corpus.reduce((n, c) => n + c.bytes.length, 0) / MIB;
    const outputs = `${processing.sizes.map((s) => `${s.width}x${s.height}`).join(', ')} ${processing.formats.join('+')} q${processing.process.quality}`;
    progress(`${corpus.length} images (${corpusMiB.toFixed(1)} MiB) from ${corpusLabel}; ${threads} threads; outputs ${outputs}`);

    // pipeline and e2e first, so that their RSS is not inflated by what the other phases leave behind
    let pipeline: PipelineResult | undefined;
    if (args.phases.has('pipeline')) {
      progress('pipeline ...');
      pipeline = await pipelinePhase(corpus, config, processing, sampler, warm, args.rounds);
      progress(`pipeline ... ${fmt(pipeline.imgPerSec)} img/s`);
    }
    let e2e: E2eResult | undefined;
    if (args.phases.has('e2e')) {
      progress('e2e ...');
      e2e = await e2ePhase(corpus, workDir, sampler, warm, args.fsync, args.rounds);
      progress(`e2e ... ${fmt(e2e.imgPerSec)} img/s`);
    }
    let raw: RawResult | undefined;
    if (args.phases.has('raw')) {
      progress('raw sharp ...');
      raw = await rawPhase(corpus, processing, threads, warm, args.rounds);
      progress(`raw sharp ... ${fmt(raw.imgPerSec)} img/s (${raw.best})`);
    }
    let vips: PhaseResult | undefined;
    let vipsVersion: string | null = null;
    if (args.phases.has('vipsthumbnail')) {
      const probe = await probeVips();
      if ('missing' in probe) {
        progress(`vipsthumbnail: ${probe.missing}; reporting null`);
        vips = skipped(corpus.length, probe.missing);
      } else {
        vipsVersion = probe.version;
        progress(`vipsthumbnail (${probe.version}) ...`);
        // one libvips thread per process, as many processes as threads (measured as fast as the default here)
        const env = { ...process.env, VIPS_CONCURRENCY: process.env.VIPS_CONCURRENCY ?? '1' };
        vips = await cliPhase('vipsthumbnail', corpus, threads, warm, workDir, processing.sizes.length * processing.formats.length,
          (image, index, outDir) => vipsCommands(image, index, outDir, processing).map((a) => ({ file: VIPSTHUMBNAIL, args: a })), env, args.rounds);
        vips.note = `${probe.version}, 1 process per image per size, ${threads} at a time, VIPS_CONCURRENCY=${env.VIPS_CONCURRENCY}; ${vips.note}`;
        progress(`vipsthumbnail ... ${fmt(vips.imgPerSec)} img/s`);
      }
    }
    let magick: PhaseResult | undefined;
    let magickVersion: string | null = null;
    if (args.phases.has('imagemagick')) {
      const probe = await probeImageMagick();
      if ('missing' in probe) {
        progress(`imagemagick: ${probe.missing}; reporting null`);
        magick = skipped(corpus.length, probe.missing);
      } else {
        magickVersion = probe.version;
        progress(`imagemagick (${probe.version}) ...`);
        // ImageMagick's own thread default (OpenMP) measured as fast as or faster than MAGICK_THREAD_LIMIT=1 here
        const env = { ...process.env };
        magick = await cliPhase('imagemagick', corpus, threads, warm, workDir, processing.sizes.length * processing.formats.length,
          (image, index, outDir) => [{ file: CONVERT, args: convertArgs(image, index, outDir, processing) }], env, args.rounds);
        magick.note = `${probe.version.split(' ').slice(0, 2).join(' ')}, convert -thumbnail, 1 process per image (-write chain), ${threads} at a time, MAGICK_THREAD_LIMIT=${env.MAGICK_THREAD_LIMIT ?? 'default'}; ${magick.note}`;
        progress(`imagemagick ... ${fmt(magick.imgPerSec)} img/s`);
      }
    }

    // ----- report
    const pipelineRate = pipeline?.imgPerSec ?? null;
    const rawRate = raw?.imgPerSec ?? null;
    const vipsRate = vips?.imgPerSec ?? null;
    const magickRate = magick?.imgPerSec ?? null;
    const e2eRate = e2e?.imgPerSec ?? null;
    const peakBytes = pipeline || e2e ? Math.max(pipeline?.peakRssBytes ?? 0, e2e?.peakRssBytes ?? 0) : null;
    const peakRssMb = peakBytes === null ? null : peakBytes / MIB;
    const bytesPerImage = pipeline?.bytesPerImage ?? null;
    const pipelineVsRaw = ratio(pipelineRate, rawRate);
    const e2eVsPipeline = ratio(e2eRate, pipelineRate);
    const pipelineVsMagick = ratio(pipelineRate, magickRate);
    const targets = {
      pipeline_ge_0_9_raw: pipelineVsRaw === null ? null : pipelineVsRaw >= 0.9,
      e2e_ge_0_8_pipeline: e2eVsPipeline === null ? null : e2eVsPipeline >= 0.8,
      pipeline_ge_4_imagemagick: pipelineVsMagick === null ? null : pipelineVsMagick >= 4,
      peak_rss_le_300mb: peakRssMb === null ? null : peakRssMb <= 300,
    };
    const mark = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'met' : 'NOT MET');

    const rows: string[][] = [['phase', 'img/s', 'seconds', 'images', 'failed', 'notes']];
    const row = (name: string, r: PhaseResult | undefined): void => {
      if (!r) rows.push([name, '-', '-', '-', '-', 'not run']);
      else rows.push([name, fmt(r.imgPerSec), fmt(r.seconds, 2), String(r.images), String(r.failures), r.note]);
    };
    row('pipeline', pipeline);
    row('raw sharp (best)', raw);
    for (const v of raw?.variants ?? []) rows.push([`  ${v.label}`, fmt(v.imgPerSec), fmt(v.seconds, 2), String(corpus.length), '', `${Math.round(v.bytesPerImage)} bytes/image; ${v.note}`]);
    row('vipsthumbnail', vips);
    row('imagemagick', magick);
    row('e2e', e2e);

    const loadAfter = loadavg()[0] ?? 0;
    const lines = [
      `ImageSys bench: ${corpus.length} images (${corpusMiB.toFixed(1)} MiB) from ${corpusLabel}`,
      `${threads} threads (${cpus()[0]?.model.trim() ?? 'cpu'}, ${availableParallelism()} cores), node ${process.version}, sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}; outputs ${outputs}`,
      `load average (1 min) before ${loadBefore.toFixed(2)}, after ${loadAfter.toFixed(2)}: other work on the machine skews every number`,
      '',
      table(rows),
      '',
      `bytes per image (all sizes, pipeline): ${bytesPerImage === null ? '-' : Math.round(bytesPerImage)}`,
      `peak RSS (pipeline + e2e phases):      ${fmt(peakRssMb)} MiB (RSS when the first timed round started: ${fmt(sampler.firstBytes === undefined ? null : sampler.firstBytes / MIB)} MiB)${sampler.hwmResetWorked ? '' : '; VmHWM could not be reset per phase, so it covers the whole run'}`,
      '',
      `pipeline / raw sharp   ${fmt(pipelineVsRaw, 2).padStart(6)}   target >= 0.9   ${mark(targets.pipeline_ge_0_9_raw)}`,
      `e2e / pipeline         ${fmt(e2eVsPipeline, 2).padStart(6)}   target >= 0.8   ${mark(targets.e2e_ge_0_8_pipeline)}`,
      `pipeline / imagemagick ${fmt(pipelineVsMagick, 2).padStart(6)}   target >= 4     ${mark(targets.pipeline_ge_4_imagemagick)}`,
      `peak RSS MiB           ${fmt(peakRssMb, 0).padStart(6)}   target <= 300   ${mark(targets.peak_rss_le_300mb)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);

    const failures = (pipeline?.failures ?? 0) + (raw?.failures ?? 0) + (e2e?.failures ?? 0) + (vips?.failures ?? 0) + (magick?.failures ?? 0);
    if (failures > 0) exitCode = 1;
    const json = {
      pipeline_img_s: round(pipelineRate),
      raw_sharp_img_s: round(rawRate),
      vipsthumbnail_img_s: round(vipsRate),
      imagemagick_img_s: round(magickRate),
      e2e_img_s: round(e2eRate),
      peak_rss_mb: round(peakRssMb, 1),
      bytes_per_image: bytesPerImage === null ? null : Math.round(bytesPerImage),
      images: corpus.length,
      threads,
      pipeline_vs_raw: round(pipelineVsRaw, 3),
      e2e_vs_pipeline: round(e2eVsPipeline, 3),
      pipeline_vs_imagemagick: round(pipelineVsMagick, 3),
      targets_met: targets,
      raw_sharp_best: raw?.best ?? null,
      raw_sharp_variants: Object.fromEntries((raw?.variants ?? []).filter((v) => v.counted).map((v) => [v.name, round(v.imgPerSec)])),
      e2e_ingest_s: round(e2e?.ingestSeconds ?? null, 3),
      e2e_failures: e2e ? e2e.failures : null,
      e2e_failures_by_code: e2e?.failuresByCode ?? null,
      e2e_retries: e2e ? e2e.retries : null,
      pipeline_failures: pipeline ? pipeline.failures : null,
      phases: [...args.phases],
      corpus: args.corpus ?? 'generated',
      corpus_mib: round(corpusMiB, 1),
      sharp: sharp.versions.sharp,
      libvips: sharp.versions.vips,
      sharp_default_concurrency: SHARP_DEFAULT_CONCURRENCY,
      uv_threadpool_size: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      vipsthumbnail_version: vipsVersion,
      imagemagick_version: magickVersion,
      node: process.version,
      e2e_fsync: e2e ? args.fsync : null,
      rounds: args.rounds,
      loadavg_before: round(loadBefore),
      loadavg_after: round(loadAfter),
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  } finally {
    if (args.keep) progress(`kept ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }
  return exitCode;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 2;
  },
);

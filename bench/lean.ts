/**
 * `npm run bench:lean [-- --corpus DIR] [--images N] [--format-images N] [--out DIR] [--no-formats]`
 *
 * Bytes against look. Every image goes through the pipeline (makeThumbnails, one at a time, default
 * sizes, WebP) in each quality mode, the modes taking turns per image so that the machine's noise
 * falls on all alike:
 *   fixed q75        today's default
 *   auto             quality "auto" (floor 0.95, 2 tries)
 *   auto, 1 try      the prediction checked, corrected only when it misses
 *   auto at q75 min  auto with its floor at the lowest score fixed q75 reached on this corpus (a
 *                    second pass: the floor is known after the first)
 * Each thumbnail is scored from the outside (bench/lean/judge.ts: ssim.js, both the Bezkrovny variant
 * auto quality uses and ssim.js's default). Printed per mode: bytes per image, mean, 10th percentile
 * and minimum score, CPU ms per image; the 10 lowest-scoring thumbnails of each mode go to a contact
 * sheet in --out. Then formats at equal score (bench/lean/formats.ts) on the first --format-images.
 * Progress goes to stderr; a table and, last, one JSON line to stdout.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseConfig } from '../engine/config/config.js';
import { configureSharp, makeThumbnails } from '../workers/pipeline.js';
import { AUTO_DEFAULTS, type QualitySetting } from '../workers/quality.js';
import type { ProcessDetails } from '../workers/thumbnail-task.js';
import { loadCorpus, makeCorpus, type CorpusImage } from './lib/corpus.js';
import { fmt, labelThenNumbers, table } from './lib/format.js';
import { printJsonLine, printLines, progressLines } from './lib/output.js';
import { ratio, round } from './lib/stats.js';
import { measureFormats } from './lean/formats.js';
import { referencesOf, scoreOf } from './lean/judge.js';
import { writeSheet, type SheetEntry } from './lean/sheet.js';

const progress = progressLines('bench:lean');
const FIXTURES = resolve(fileURLToPath(new URL('../../../shared/fixtures/photos', import.meta.url)));
const SHEET_SIZE = 10;

const { values } = parseArgs({
  options: {
    corpus: { type: 'string' },
    images: { type: 'string' },
    'format-images': { type: 'string', default: '40' },
    out: { type: 'string', default: join(tmpdir(), 'imagesys-bench-lean') },
    'no-formats': { type: 'boolean', default: false },
  },
  strict: true,
});
const count = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive integer, not ${raw}`);
  return n;
};

interface Mode {
  name: string;
  quality: QualitySetting;
}

interface Lowest extends SheetEntry {
  score: number;
}

/** What one mode made of the corpus. */
class Tally {
  bytes = 0;
  cpuMs = 0;
  images = 0;
  readonly scores: number[] = [];
  readonly weber: number[] = [];
  readonly lowest: Lowest[] = [];
  belowFloor = 0;
  constructor(readonly mode: Mode) {}

  keepIfLowest(entry: Lowest): void {
    this.lowest.push(entry);
    this.lowest.sort((a, b) => a.score - b.score);
    this.lowest.length = Math.min(this.lowest.length, SHEET_SIZE);
  }

  figures(): { bytesPerImage: number; mean: number; p10: number; min: number; weberMin: number; weberMean: number; cpuMsPerImage: number } {
    const sorted = [...this.scores].sort((a, b) => a - b);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    return {
      bytesPerImage: this.bytes / this.images,
      mean: mean(sorted),
      p10: sorted[Math.floor(0.1 * (sorted.length - 1))] ?? Number.NaN,
      min: sorted[0] ?? Number.NaN,
      weberMin: Math.min(...this.weber),
      weberMean: mean(this.weber),
      cpuMsPerImage: this.cpuMs / this.images,
    };
  }
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function runModes(corpus: readonly CorpusImage[], modes: readonly Mode[], base: ProcessDetails, sizes: ReturnType<typeof parseConfig>['thumbnails']['sizes']): Promise<Tally[]> {
  const tallies = modes.map((mode) => new Tally(mode));
  for (const [index, image] of corpus.entries()) {
    const references = await referencesOf(image.bytes, sizes, base);
    for (const tally of tallies) {
      const before = cpuMs();
      const result = await makeThumbnails({ input: new Uint8Array(image.bytes), sizes, formats: ['webp'], process: { ...base, quality: tally.mode.quality }, maxPixels: 100_000_000 });
      tally.cpuMs += cpuMs() - before;
      if (!result.ok) throw new Error(`${image.name}: ${result.code}: ${result.message}`);
      tally.images++;
      const floor = typeof tally.mode.quality === 'number' ? undefined : tally.mode.quality.floor;
      for (const output of result.outputs) {
        const reference = references.get(output.name)!;
        const scores = await scoreOf(reference, output.data);
        tally.bytes += output.data.byteLength;
        tally.scores.push(scores.bezkrovny);
        tally.weber.push(scores.weber);
        if (floor !== undefined && scores.bezkrovny < floor) tally.belowFloor++;
        tally.keepIfLowest({ score: scores.bezkrovny, label: `${image.name} ${output.name} q${output.quality} ssim ${scores.bezkrovny.toFixed(4)}`, reference, thumbnail: output.data });
      }
    }
    if ((index + 1) % 25 === 0 || index + 1 === corpus.length) progress(`${modes.map((m) => m.name).join(', ')}: ${index + 1} of ${corpus.length} images`);
  }
  return tallies;
}

async function main(): Promise<void> {
  configureSharp();
  const images = count('images', values.images);
  const formatImages = count('format-images', values['format-images'])!;
  const corpusDir = values.corpus ?? (existsSync(FIXTURES) ? FIXTURES : undefined);
  const corpus = corpusDir ? await loadCorpus(corpusDir, images) : await makeCorpus(join(values.out, 'corpus'), images ?? 60);
  const label = corpusDir ?? `${corpus.length} generated samples`;
  progress(`${corpus.length} images from ${label}; contact sheets to ${values.out}`);
  await mkdir(values.out, { recursive: true });
  const config = parseConfig({});
  const base = { ...config.thumbnails.process, quality: 75 };
  const sizes = config.thumbnails.sizes;

  const first = await runModes(corpus, [
    { name: 'fixed q75', quality: 75 },
    { name: 'auto', quality: { ...AUTO_DEFAULTS } },
    { name: 'auto, 1 try', quality: { ...AUTO_DEFAULTS, tries: 1 } },
  ], base, sizes);
  const fixedMin = first[0]!.figures().min;
  // the lowest score fixed q75 reached, rounded up to auto's four places: "an equal minimum score"
  const equalFloor = Math.ceil(fixedMin * 1e4) / 1e4;
  const [equal] = await runModes(corpus, [{ name: `auto at q75 min (${equalFloor})`, quality: { ...AUTO_DEFAULTS, floor: equalFloor } }], base, sizes);
  const tallies = [...first, equal!];

  for (const [i, tally] of tallies.entries()) {
    const file = join(values.out, `lowest-${i}-${tally.mode.name.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '')}.png`);
    await writeSheet(file, `${tally.mode.name}: the ${tally.lowest.length} lowest-scoring thumbnails (reference left, thumbnail right)`, tally.lowest);
  }

  const fixed = tallies[0]!.figures();
  const rows = [['mode', 'bytes/image', 'vs fixed', 'mean', 'p10', 'min', 'weber min', 'ms/image', 'cpu vs fixed', 'below floor']];
  for (const tally of tallies) {
    const f = tally.figures();
    rows.push([tally.mode.name, fmt(f.bytesPerImage, 0), fmt(ratio(f.bytesPerImage, fixed.bytesPerImage), 3), fmt(f.mean, 4), fmt(f.p10, 4), fmt(f.min, 4), fmt(f.weberMin, 4), fmt(f.cpuMsPerImage, 1), fmt(ratio(f.cpuMsPerImage, fixed.cpuMsPerImage), 2), String(tally.belowFloor)]);
  }
  const lines = [`bench:lean: ${corpus.length} images (${label}), sizes ${sizes.map((s) => `${s.width}x${s.height}`).join(', ')}, WebP effort ${base.effort}, scores: ssim.js Bezkrovny ("weber min": ssim.js default)`, '', table(rows, labelThenNumbers), '', `contact sheets: ${values.out}/lowest-*.png`];

  const json: Record<string, unknown> = { bench: 'lean', images: corpus.length };
  const auto = tallies[1]!.figures();
  const eq = equal!.figures();
  Object.assign(json, {
    auto_vs_fixed_bytes: round(ratio(auto.bytesPerImage, fixed.bytesPerImage), 3),
    auto_min_score: round(auto.min, 4),
    fixed_min_score: round(fixed.min, 4),
    auto_cpu_ratio: round(ratio(auto.cpuMsPerImage, fixed.cpuMsPerImage), 2),
    auto_1try_vs_fixed_bytes: round(ratio(tallies[2]!.figures().bytesPerImage, fixed.bytesPerImage), 3),
    auto_1try_cpu_ratio: round(ratio(tallies[2]!.figures().cpuMsPerImage, fixed.cpuMsPerImage), 2),
    auto_equal_floor: equalFloor,
    auto_equal_vs_fixed_bytes: round(ratio(eq.bytesPerImage, fixed.bytesPerImage), 3),
    auto_equal_cpu_ratio: round(ratio(eq.cpuMsPerImage, fixed.cpuMsPerImage), 2),
    below_floor: tallies.reduce((n, t) => n + t.belowFloor, 0),
  });

  if (!values['no-formats']) {
    const subset = corpus.slice(0, formatImages).map((image) => new Uint8Array(image.bytes));
    progress(`formats at equal score (floor ${AUTO_DEFAULTS.floor}) on ${subset.length} images`);
    const formats = await measureFormats(subset, sizes, base, AUTO_DEFAULTS.floor, (name) => progress(`formats: ${name} ...`));
    const webp = formats.get('webp e2')!;
    const formatRows = [['format', 'bytes/image', 'vs webp e2', 'encode ms/image', 'vs webp e2', 'mean quality']];
    const perFormat: Record<string, unknown> = {};
    for (const [name, f] of formats) {
      formatRows.push([name, fmt(f.bytesPerImage, 0), fmt(ratio(f.bytesPerImage, webp.bytesPerImage), 3), fmt(f.encodeMsPerImage, 1), fmt(ratio(f.encodeMsPerImage, webp.encodeMsPerImage), 2), fmt(f.meanQuality, 0)]);
      perFormat[name.replace(/ /g, '_')] = { bytes_vs_webp: round(ratio(f.bytesPerImage, webp.bytesPerImage), 3), encode_vs_webp: round(ratio(f.encodeMsPerImage, webp.encodeMsPerImage), 2) };
    }
    lines.push('', `formats, each at the lowest quality whose score reaches ${AUTO_DEFAULTS.floor} (every size), on ${subset.length} images:`, '', table(formatRows, labelThenNumbers));
    json.formats = perFormat;
  }
  printLines(lines);
  printJsonLine(json);
}

main().catch((error: unknown) => {
  console.error(`bench:lean: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});

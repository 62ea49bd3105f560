/** raw: the best plain sharp loop making the pipeline's outputs in the main thread, with the same thread count. */
import sharp from 'sharp';
import type { Processing } from '../../engine/config/config.js';
import { encode } from '../../workers/pipeline.js';
import { cpuMeter } from '../lib/cpu.js';
import { fixedQuality } from '../lib/fixed-quality.js';
import { runLimited } from '../lib/lanes.js';
import { secondsSince } from '../lib/stats.js';
import { errorText } from '../lib/tool.js';
import { Rounds, type PhaseContext, type PhaseResult } from './phase.js';

/**
 * sharp's concurrency in this process before anything (the pool's workers) changes it: read when this
 * module loads, which is before any phase runs.
 */
export const SHARP_DEFAULT_CONCURRENCY = sharp.concurrency();

/** Makes every output of one image; returns their total bytes. */
type RawStrategy = (bytes: Buffer, processing: Processing) => Promise<number>;

const fitInside = (size: { width: number; height: number }) => ({ width: size.width, height: size.height, fit: 'inside' as const, withoutEnlargement: true });

/** (a) one pipeline per size and format: each decodes the JPEG again, with shrink-on-load for its size. */
const strategyDecodePerSize: RawStrategy = async (bytes, { sizes, formats, process: p }) => {
  let total = 0;
  for (const size of sizes) {
    for (const format of formats) {
      total += (await encode(sharp(bytes).rotate().resize(fitInside(size)), format, fixedQuality(p)).toBuffer()).length;
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
      total += (await encode(base.clone().resize(fitInside(size)), format, fixedQuality(p)).toBuffer()).length;
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
      total += (await encode(image, format, fixedQuality(p)).toBuffer()).length;
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

export interface RawVariant {
  name: string;
  label: string;
  imgPerSec: number;
  seconds: number;
  bytesPerImage: number;
  note: string;
  /** Whether it competes for the baseline. */
  counted: boolean;
}

export interface RawResult extends PhaseResult {
  /** The name of the fastest counted variant. */
  best: string | null;
  variants: RawVariant[];
}

export async function rawPhase({ corpus, processing, threads, warmCount, rounds, progress }: PhaseContext): Promise<RawResult> {
  // the pool's workers set libvips-global state (concurrency 1, no cache) in this process: restore sharp's
  // default concurrency; the operation cache stays off so that warm-up runs cannot serve timed ones
  sharp.concurrency(SHARP_DEFAULT_CONCURRENCY);
  sharp.cache(false);
  const variants: RawVariant[] = [];
  let failures = 0;
  for (const strategy of RAW_STRATEGIES) {
    const inFlight = threads * strategy.inFlightPerThread;
    await runLimited(corpus.slice(0, warmCount), inFlight, async (image) => {
      await strategy.run(image.bytes, processing);
    });
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
      timing.add(secondsSince(started), cpu());
    }
    if (strategy.counted) failures += failed;
    const best = timing.best!;
    const inFlightNote = strategy.counted ? '' : `${inFlight} images in flight, not counted as the baseline; `;
    variants.push({ name: strategy.name, label: strategy.label, imgPerSec: best.imgPerSec, seconds: best.seconds, bytesPerImage: bytes / Math.max(1, corpus.length - failed), note: `${inFlightNote}${timing.note}${best.cpu}`, counted: strategy.counted });
    progress(`raw sharp ${strategy.name} ... ${best.imgPerSec.toFixed(1)} img/s`);
  }
  const counted = variants.filter((v) => v.counted);
  const best = counted.reduce<RawVariant | undefined>((a, b) => (a && a.imgPerSec >= b.imgPerSec ? a : b), undefined);
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

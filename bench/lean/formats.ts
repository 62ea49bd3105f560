/**
 * Formats at equal score: for each encoder setting, every size of every image is bisected for the
 * lowest quality (5-95) whose score reaches the floor (a full search, not auto quality's bounded one:
 * the encoders differ in how score follows quality, and the comparison should not depend on a
 * prediction made for WebP); then the bytes of what it chose, and the CPU of one encode of each at
 * that quality.
 */
import sharp, { type Sharp } from 'sharp';
import { ssimScore } from '../../workers/score.js';
import type { ProcessDetails, SizeSpec } from '../../workers/thumbnail-task.js';
import { referencesOf } from './judge.js';

export interface Encoder {
  name: string;
  encode: (image: Sharp, quality: number) => Sharp;
}

/** The settings measured: WebP as the pipeline makes it, JPEG with and without mozjpeg, AVIF efforts 0-4. */
export const ENCODERS: readonly Encoder[] = [
  { name: 'webp e2', encode: (image, quality) => image.webp({ quality, effort: 2 }) },
  { name: 'webp e4', encode: (image, quality) => image.webp({ quality, effort: 4 }) },
  { name: 'jpeg', encode: (image, quality) => image.jpeg({ quality, optimiseCoding: true }) },
  { name: 'jpeg mozjpeg', encode: (image, quality) => image.jpeg({ quality, mozjpeg: true }) },
  ...[0, 1, 2, 3, 4].map((effort) => ({ name: `avif e${effort}`, encode: (image: Sharp, quality: number) => image.avif({ quality, effort }) })),
];

export interface FormatFigures {
  bytesPerImage: number;
  /** CPU of encoding every size once at the chosen qualities, per image. */
  encodeMsPerImage: number;
  meanQuality: number;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The lowest quality from 5 to 95 whose score reaches `floor` (95 if none does), by bisection: score rises with quality. */
async function lowestReaching<T extends { score: number }>(floor: number, encodeAt: (quality: number) => Promise<T>): Promise<T> {
  let lo = 5;
  let hi = 95;
  let best = await encodeAt(hi);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const attempt = await encodeAt(mid);
    if (attempt.score >= floor) {
      best = attempt;
      hi = mid;
    } else lo = mid + 1;
  }
  return best;
}

/** Measures every encoder on `inputs` at `floor`. */
export async function measureFormats(inputs: readonly Uint8Array[], sizes: readonly SizeSpec[], details: ProcessDetails, floor: number, onEncoder: (name: string) => void): Promise<Map<string, FormatFigures>> {
  const references = await Promise.all(inputs.map(async (input) => [...(await referencesOf(input, sizes, details)).values()]));
  const out = new Map<string, FormatFigures>();
  for (const encoder of ENCODERS) {
    onEncoder(encoder.name);
    let bytes = 0;
    let qualities = 0;
    let encodeMs = 0;
    for (const refs of references) {
      for (const reference of refs) {
        const raw = { width: reference.width, height: reference.height, channels: reference.channels as 1 | 2 | 3 | 4 };
        const chosen = await lowestReaching(floor, async (quality) => {
          const data = await encoder.encode(sharp(reference.data, { raw }), quality).toBuffer();
          const decoded = await sharp(data).raw().toBuffer({ resolveWithObject: true });
          return { quality, score: ssimScore(reference, { data: decoded.data, width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels }), bytes: data.byteLength };
        });
        bytes += chosen.bytes;
        qualities += chosen.quality;
        const before = cpuMs();
        await encoder.encode(sharp(reference.data, { raw }), chosen.quality).toBuffer();
        encodeMs += cpuMs() - before;
      }
    }
    const n = references.length;
    out.set(encoder.name, { bytesPerImage: bytes / n, encodeMsPerImage: encodeMs / n, meanQuality: qualities / (n * sizes.length) });
  }
  return out;
}

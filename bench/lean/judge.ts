/**
 * Scores thumbnails from the outside, with ssim.js itself: the reference is made from the original
 * the way the pipeline makes what it encodes (decode once, orient, fit the largest box, flatten,
 * sRGB, then each size), and each thumbnail is decoded and compared to it. Two scores: ssim.js's
 * Bezkrovny variant (auto quality's own score: a check of it) and ssim.js's default (Weber, sliding
 * windows: the measure of the figures). Used by bench:lean and by the tests of auto quality.
 */
import sharp, { type Sharp } from 'sharp';
import { ssim } from 'ssim.js';
import type { ProcessDetails, SizeSpec } from '../../workers/thumbnail-task.js';
import { decodeBox } from '../../workers/pipeline.js';
import type { RawImage } from '../../workers/score.js';

export interface Scores {
  /** ssim.js `{ ssim: 'bezkrovny' }`: what auto quality's floor is measured in. */
  bezkrovny: number;
  /** ssim.js's default (Weber). */
  weber: number;
}

/** What ssim.js reads: RGBA. */
interface Pixels {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

async function rgba(image: Sharp): Promise<Pixels> {
  const { data, info } = await image.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

async function rawOf(image: Sharp): Promise<RawImage> {
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** A reference as ssim.js reads it. */
export function asRgba(image: RawImage): Promise<Pixels> {
  return rgba(sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels as 1 | 2 | 3 | 4 } }));
}

/**
 * The pixels each size of `input` is encoded from, by size name, smallest size first. Made here
 * again, not taken from the pipeline: what is checked should not share the code it checks.
 */
export async function referencesOf(input: Uint8Array, sizes: readonly SizeSpec[], details: Pick<ProcessDetails, 'background' | 'gamma' | 'sharpen'>): Promise<Map<string, RawImage>> {
  const box = decodeBox(sizes);
  let base = sharp(input, { pages: 1, limitInputPixels: false }).autoOrient();
  if (details.gamma > 0) base = base.gamma(details.gamma);
  const decoded = await base
    .resize({ width: box.width, height: box.height, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: details.background })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels };
  const out = new Map<string, RawImage>();
  for (const size of [...sizes].sort((a, b) => a.width * a.height - b.width * b.height)) {
    let image = sharp(decoded.data, { raw });
    if (raw.width > size.width || raw.height > size.height) {
      if (details.gamma > 0) image = image.gamma(details.gamma);
      image = image.resize({ width: size.width, height: size.height, fit: 'inside', withoutEnlargement: true });
    }
    if (details.sharpen > 0) image = image.sharpen({ sigma: details.sharpen });
    out.set(size.name, await rawOf(image));
  }
  return out;
}

/** A thumbnail's scores against its reference; `weber` only when asked (it costs 7x the other). */
export async function scoreOf(reference: RawImage, thumbnail: Uint8Array, withWeber = true): Promise<Scores> {
  const [ref, decoded] = [await asRgba(reference), await rgba(sharp(thumbnail))];
  return {
    bezkrovny: ssim(ref, decoded, { ssim: 'bezkrovny' }).mssim,
    weber: withWeber ? ssim(ref, decoded).mssim : Number.NaN,
  };
}

import { createHash } from 'node:crypto';
import sharp, { type Sharp } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { dHash } from './perceptual-hash.js';
import { chooseQuality, startAfter, type AutoQuality } from './quality.js';
import { ssimScore, type RawImage } from './score.js';
import type { OutputFormat, Placeholder, ProcessDetails, SizeSpec, ThumbnailOutput, ThumbnailResult, ThumbnailTask } from './thumbnail-task.js';

/** Loaders for the formats listing photos use; every other libvips loader (SVG, PDF, ...) is blocked. */
const ALLOWED_LOADERS = [
  'VipsForeignLoadJpegBuffer',
  'VipsForeignLoadPngBuffer',
  'VipsForeignLoadWebpBuffer',
  'VipsForeignLoadGifBuffer',
  'VipsForeignLoadNsgifBuffer',
  'VipsForeignLoadHeifBuffer',
  'VipsForeignLoadTiffBuffer',
];
const ALLOWED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'heif', 'tiff']);

let configured = false;
let loadersRestricted = false;

/**
 * Blocks every libvips loader but the listing formats'. libvips keeps this for the whole process, and
 * blocking all before unblocking some refuses, for that instant, any image another thread is opening:
 * so it is done once per process, by the thread that starts the pool, before any task runs (workers
 * are told so: `loadersRestrictedByParent`). A worker doing it on its first task failed the images
 * of another worker ("operation is blocked"): the crash torture found it, at engine starts.
 */
export function restrictLoaders(): void {
  if (loadersRestricted) return;
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: ALLOWED_LOADERS });
  loadersRestricted = true;
}

/** In a worker whose pool's thread has restricted the loaders already. */
export function loadersRestrictedByParent(): void {
  loadersRestricted = true;
}

/** One libvips thread per worker (the pool is the parallelism), no cache, loaders locked down. */
export function configureSharp(): void {
  if (configured) return;
  sharp.concurrency(1);
  sharp.cache(false);
  restrictLoaders();
  configured = true;
}

/** The largest box any size needs: decoding to it once serves every size. */
export function decodeBox(sizes: readonly SizeSpec[]): { width: number; height: number } {
  return { width: Math.max(...sizes.map((s) => s.width)), height: Math.max(...sizes.map((s) => s.height)) };
}

/** The encoder settings for one output format (shared with the bench's plain-sharp baseline). */
export function encode(image: Sharp, format: OutputFormat, details: { quality: number; effort: number }): Sharp {
  const { quality, effort } = details;
  switch (format) {
    case 'webp':
      return image.webp({ quality, effort: Math.min(effort, 6) });
    case 'jpeg':
      return image.jpeg({ quality, optimiseCoding: true });
    case 'avif':
      return image.avif({ quality, effort });
    case 'png':
      return image.png({ compressionLevel: 9, palette: true, quality });
  }
}

function classify(error: unknown): ThumbnailResult {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return { ok: false, code: 'pixel_limit', message };
  if (/unsupported image format|not built in|blocked|is not a known/i.test(message)) return { ok: false, code: 'unsupported_format', message };
  return { ok: false, code: 'decode_failed', message };
}

/**
 * Makes every size and format of one image. The original is decoded once, auto-oriented, flattened
 * onto the background, converted to sRGB and shrunk to the largest box needed; each size is resized
 * from that. Never upscaled; no metadata is written out.
 */
export async function makeThumbnails(task: ThumbnailTask): Promise<ThumbnailResult> {
  configureSharp();
  const { process: details, sizes, formats } = task;
  if (task.input.byteLength === 0) return { ok: false, code: 'unsupported_format', message: 'empty input: nothing to decode' };
  // a camera photo of 10 MB takes about 20 ms to hash: here, in the pool, not on the engine's thread
  const sha256 = createHash('sha256').update(task.input).digest('hex');
  try {
    const input = sharp(task.input, { limitInputPixels: task.maxPixels, failOn: 'error', pages: 1, sequentialRead: true });
    const meta = await input.metadata();
    if (!meta.format || !ALLOWED_FORMATS.has(meta.format) || (meta.format === 'heif' && meta.compression !== 'av1')) {
      return { ok: false, code: 'unsupported_format', message: `image format ${meta.compression ?? meta.format ?? 'unknown'} is not accepted` };
    }
    const box = decodeBox(sizes);
    let base = input.autoOrient();
    if (details.gamma > 0) base = base.gamma(details.gamma);
    const decoded = await base
      .resize({ width: box.width, height: box.height, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: details.background })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels };
    // smallest size first: in auto mode each size's search starts from what the smaller one needed
    const bySide = sizes.map((_, i) => i).sort((a, b) => sizes[a]!.width * sizes[a]!.height - sizes[b]!.width * sizes[b]!.height);
    const outputs: ThumbnailOutput[] = new Array<ThumbnailOutput>(sizes.length * formats.length);
    for (const [f, format] of formats.entries()) {
      let previous: number | undefined;
      for (const i of bySide) {
        const output = await renderSize(decoded.data, raw, sizes[i]!, format, details, startAfter(previous));
        previous = output.quality;
        outputs[i * formats.length + f] = output; // in the configured order: sizes, then formats
      }
    }
    // one small copy serves the placeholder and the perceptual hash: one pass over the decoded pixels
    const small = shrinkToRgba(decoded.data, raw, PLACEHOLDER_BOX);
    const placeholder = placeholderOf(small);
    const swapped = (meta.orientation ?? 1) >= 5;
    return {
      ok: true,
      source: {
        width: swapped ? meta.height : meta.width,
        height: swapped ? meta.width : meta.height,
        format: meta.format === 'heif' ? 'avif' : meta.format,
        orientation: meta.orientation ?? 1,
      },
      outputs,
      sha256,
      phash: dHash(small.rgba, { width: small.width, height: small.height, channels: 4 }),
      ...(placeholder ? { placeholder } : {}),
    };
  } catch (error) {
    return classify(error);
  }
}

/** ThumbHash takes at most 100 x 100 pixels. */
const PLACEHOLDER_BOX = 100;

/**
 * The placeholder, from the decoded pixels (already oriented, flattened, sRGB) shrunk to fit 100 x 100:
 * their ThumbHash, and their dominant colour. Shrunk in a loop (shrinkToRgba), not by another sharp
 * pipeline: that one cost 15% of the pool's throughput (its set-up, for a picture of a few thousand
 * pixels); this is a pass over the decoded bytes.
 */
function placeholderOf(small: { width: number; height: number; rgba: Uint8Array }): Placeholder | undefined {
  try {
    const hash = rgbaToThumbHash(small.width, small.height, small.rgba);
    return { thumbhash: Buffer.from(hash).toString('base64'), dominant: dominantColour(small.rgba) };
  } catch {
    return undefined; // a placeholder is a nicety: an image it cannot be made for is still thumbnailed
  }
}

/**
 * Raw pixels (1-4 channels: grey, grey+alpha, RGB, RGBA) shrunk to fit `box` x `box` by averaging
 * the source pixels under each target pixel, as opaque RGBA. Pure.
 */
export function shrinkToRgba(pixels: Uint8Array, raw: { width: number; height: number; channels: number }, box: number): { width: number; height: number; rgba: Uint8Array } {
  const scale = Math.min(1, box / Math.max(raw.width, raw.height));
  const width = Math.max(1, Math.round(raw.width * scale));
  const height = Math.max(1, Math.round(raw.height * scale));
  const sums = new Float64Array(width * height * 3);
  const counts = new Uint32Array(width * height);
  const { channels } = raw;
  const colour = channels >= 3;
  for (let y = 0; y < raw.height; y++) {
    const row = Math.min(height - 1, Math.floor((y * height) / raw.height)) * width;
    for (let x = 0; x < raw.width; x++) {
      const target = row + Math.min(width - 1, Math.floor((x * width) / raw.width));
      const at = (y * raw.width + x) * channels;
      const r = pixels[at]!;
      sums[target * 3] = sums[target * 3]! + r;
      sums[target * 3 + 1] = sums[target * 3 + 1]! + (colour ? pixels[at + 1]! : r);
      sums[target * 3 + 2] = sums[target * 3 + 2]! + (colour ? pixels[at + 2]! : r);
      counts[target] = counts[target]! + 1;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const n = Math.max(1, counts[i]!);
    rgba[i * 4] = Math.round(sums[i * 3]! / n);
    rgba[i * 4 + 1] = Math.round(sums[i * 3 + 1]! / n);
    rgba[i * 4 + 2] = Math.round(sums[i * 3 + 2]! / n);
    rgba[i * 4 + 3] = 255; // flattened onto the background already
  }
  return { width, height, rgba };
}

/**
 * The most common colour of RGBA pixels, as `#rrggbb`: pixels counted in bins of 16 levels per
 * channel (4,096 bins), and the mean of the fullest bin (so a red roof on grey sky gives the grey,
 * where an average would give a brown that is in neither). Pure.
 */
export function dominantColour(rgba: Uint8Array): string {
  const counts = new Uint32Array(4096);
  const sums = new Float64Array(4096 * 3);
  for (let i = 0; i + 3 < rgba.length; i += 4) {
    const r = rgba[i]!;
    const g = rgba[i + 1]!;
    const b = rgba[i + 2]!;
    const bin = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
    counts[bin] = counts[bin]! + 1;
    sums[bin * 3] = sums[bin * 3]! + r;
    sums[bin * 3 + 1] = sums[bin * 3 + 1]! + g;
    sums[bin * 3 + 2] = sums[bin * 3 + 2]! + b;
  }
  let best = 0;
  for (let bin = 1; bin < counts.length; bin++) if (counts[bin]! > counts[best]!) best = bin;
  const n = Math.max(1, counts[best]!);
  const hex = (v: number): string => Math.round(v / n).toString(16).padStart(2, '0');
  return `#${hex(sums[best * 3]!)}${hex(sums[best * 3 + 1]!)}${hex(sums[best * 3 + 2]!)}`;
}

interface RawInfo {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** One size of one format; in auto mode, `start` is where its quality search begins. */
async function renderSize(pixels: Buffer, raw: RawInfo, size: SizeSpec, format: OutputFormat, details: ProcessDetails, start: number): Promise<ThumbnailOutput> {
  let image = sharp(pixels, { raw });
  const fits = raw.width <= size.width && raw.height <= size.height;
  if (!fits) {
    if (details.gamma > 0) image = image.gamma(details.gamma);
    image = image.resize({ width: size.width, height: size.height, fit: 'inside', withoutEnlargement: true });
  }
  if (details.sharpen > 0) image = image.sharpen({ sigma: details.sharpen });
  const { quality, effort } = details;
  if (typeof quality === 'number') {
    const { data, info } = await encode(image, format, { quality, effort }).toBuffer({ resolveWithObject: true });
    return { name: size.name, format, width: info.width, height: info.height, quality, data };
  }
  // the reference is what would be encoded: the decoded pixels themselves when nothing changes them
  const reference: RawImage = fits && details.sharpen <= 0 ? { data: pixels, ...raw } : await toRaw(image);
  return renderAuto(reference, size, format, quality, effort, start);
}

async function toRaw(image: Sharp): Promise<RawImage> {
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** Auto quality: the lowest quality in range whose decoded result scores at or above the floor. */
async function renderAuto(reference: RawImage, size: SizeSpec, format: OutputFormat, auto: AutoQuality, effort: number, start: number): Promise<ThumbnailOutput> {
  const raw = { width: reference.width, height: reference.height, channels: reference.channels as RawInfo['channels'] };
  const { chosen } = await chooseQuality(auto, start, async (quality) => {
    const data = await encode(sharp(reference.data, { raw }), format, { quality, effort }).toBuffer();
    return { quality, score: ssimScore(reference, await toRaw(sharp(data))), data };
  });
  return {
    name: size.name,
    format,
    width: reference.width,
    height: reference.height,
    quality: chosen.quality,
    score: Math.floor(chosen.score * 1e4) / 1e4, // four places, rounded down: never shown above what it is
    data: chosen.data,
  };
}

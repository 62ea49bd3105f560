/**
 * Sample images made with sharp from generated pixels (no files shipped): used by the demo, the
 * tests and the default bench corpus. Content is photo-like (gradients, shapes, noise) so that
 * encoded sizes are realistic, and carries an orientation marker: a red block in the top-left quarter.
 */
import sharp, { type Sharp } from 'sharp';

export interface SampleOptions {
  width: number;
  height: number;
  seed?: number;
  format?: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif';
  /** Store the pixels so that this EXIF orientation (1-8) shows them upright. */
  orientation?: number;
  cmyk?: boolean;
  alpha?: boolean;
  quality?: number;
}

function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

/** Upright RGB(A) pixels: a sky-to-ground gradient, a few blocks, noise, and the red marker. */
export function samplePixels(width: number, height: number, seed = 1, alpha = false): Buffer {
  const channels = alpha ? 4 : 3;
  const next = random(seed);
  const pixels = Buffer.alloc(width * height * channels);
  const blocks = Array.from({ length: 6 }, () => ({ x: next() * width, y: next() * height, w: next() * width * 0.3, h: next() * height * 0.3, c: [next() * 255, next() * 255, next() * 255] }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      let r = 40 + (150 * x) / width;
      let g = 90 + (100 * y) / height;
      let b = 220 - (120 * y) / height;
      for (const k of blocks) if (x >= k.x && x < k.x + k.w && y >= k.y && y < k.y + k.h) [r, g, b] = k.c as [number, number, number];
      if (x < width / 2 && y < height / 2 && x > width / 16 && y > height / 16 && x < width * 0.4 && y < height * 0.4) [r, g, b] = [230, 20, 20];
      const n = (next() - 0.5) * 24;
      pixels[i] = clamp(r + n);
      pixels[i + 1] = clamp(g + n);
      pixels[i + 2] = clamp(b + n);
      if (alpha) pixels[i + 3] = x > width * 0.75 ? 0 : 255;
    }
  }
  return pixels;
}

const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));

/** Stored pixels for an orientation: the inverse of what a viewer applies to show them upright. */
async function storeFor(orientation: number, image: Sharp): Promise<Sharp> {
  const pass = async (apply: (s: Sharp) => Sharp, input: Sharp): Promise<Sharp> => {
    const { data, info } = await apply(input).raw().toBuffer({ resolveWithObject: true });
    return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  };
  switch (orientation) {
    case 2: return pass((s) => s.flop(), image);
    case 3: return pass((s) => s.rotate(180), image);
    case 4: return pass((s) => s.flip(), image);
    case 5: return pass((s) => s.flop(), await pass((s) => s.rotate(90), image)); // transpose
    case 6: return pass((s) => s.rotate(270), image);
    case 7: return pass((s) => s.flip(), await pass((s) => s.rotate(90), image)); // transverse
    case 8: return pass((s) => s.rotate(90), image);
    default: return image;
  }
}

export async function makeSample(options: SampleOptions): Promise<Buffer> {
  const { width, height, seed = 1, format = 'jpeg', orientation = 1, quality = 90 } = options;
  const channels = options.alpha ? 4 : 3;
  let image = sharp(samplePixels(width, height, seed, options.alpha), { raw: { width, height, channels } });
  image = await storeFor(orientation, image);
  if (orientation !== 1) image = image.withMetadata({ orientation });
  if (options.cmyk) image = image.toColourspace('cmyk');
  switch (format) {
    case 'jpeg': return image.jpeg({ quality }).toBuffer();
    case 'png': return image.png().toBuffer();
    case 'webp': return image.webp({ quality }).toBuffer();
    case 'gif': return image.gif().toBuffer();
    case 'tiff': return image.tiff().toBuffer();
    case 'avif': return image.avif({ quality: 50, effort: 0 }).toBuffer();
  }
}

/** A set of `count` listing-like JPEGs of assorted sizes, deterministic for a seed. */
export async function makeSampleSet(count: number, seed = 7): Promise<Array<{ name: string; bytes: Buffer }>> {
  const sizes: Array<[number, number]> = [[720, 480], [1024, 683], [623, 414], [900, 600], [480, 640], [1280, 960], [345, 240]];
  const out: Array<{ name: string; bytes: Buffer }> = [];
  for (let i = 0; i < count; i++) {
    const [width, height] = sizes[i % sizes.length]!;
    out.push({ name: `sample-${String(i).padStart(4, '0')}.jpg`, bytes: await makeSample({ width, height, seed: seed + i, quality: 85 }) });
  }
  return out;
}

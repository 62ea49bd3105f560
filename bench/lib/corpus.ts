import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { makeSampleSet } from '../../scripts/sample-images.js';

/** One image of a bench's corpus: its file and its bytes, read once before anything is timed. */
export interface CorpusImage {
  name: string;
  path: string;
  bytes: Buffer;
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);

/** The images in `dir` (by extension, sorted by name), at most `limit` of them. */
export async function loadCorpus(dir: string, limit: number | undefined): Promise<CorpusImage[]> {
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

/** `count` generated sample JPEGs written to `dir` (the command-line tools read files). */
export async function makeCorpus(dir: string, count: number): Promise<CorpusImage[]> {
  await mkdir(dir, { recursive: true });
  const out: CorpusImage[] = [];
  for (const { name, bytes } of await makeSampleSet(count)) {
    const path = join(dir, name);
    await writeFile(path, bytes);
    out.push({ name, path, bytes });
  }
  return out;
}

/** The large images of the mixed corpus: camera-sized JPEGs (some rotated by EXIF) and large PNGs. */
const MIXED_LARGE: ReadonlyArray<{ width: number; height: number; format: 'jpeg' | 'png'; count: number; orientation?: number }> = [
  { width: 6000, height: 4000, format: 'jpeg', count: 6 },
  { width: 6000, height: 4000, format: 'jpeg', count: 2, orientation: 6 },
  { width: 7300, height: 5500, format: 'jpeg', count: 4 },
  { width: 4000, height: 3000, format: 'png', count: 3 },
];
/** Small photos beside them (from the corpus given, else generated samples). */
export const MIXED_SMALL = 80;
/** Bump when the recipe changes: the cache directory is named after it. */
const MIXED_VERSION = 1;

/** Grain, as a camera's sensor leaves it: without it an enlarged photo compresses to a tenth of a real one. */
async function grainy(source: Buffer, width: number, height: number, sigma: number): Promise<Sharp> {
  const base = await sharp(source).resize(width, height, { fit: 'fill' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const raw = { width: base.info.width, height: base.info.height, channels: base.info.channels };
  if (sigma === 0) return sharp(base.data, { raw });
  const noise = await sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma } } }).raw().toBuffer();
  return sharp(base.data, { raw }).composite([{ input: noise, raw: { width, height, channels: 3 }, blend: 'overlay' }]);
}

/**
 * A mixed corpus: `small` (listing photos) and large camera-like photos made from some of them,
 * 24 Mpx and 40 Mpx JPEGs with grain (5-15 MB each, two with EXIF orientation 6) and 4000x3000 PNGs,
 * interleaved so that large ones arrive throughout. The large ones are made once and cached in
 * `cacheDir` (named after the recipe and the sources), never in the repository.
 */
export async function makeMixedCorpus(cacheDir: string, small: readonly CorpusImage[], progress: (line: string) => void): Promise<CorpusImage[]> {
  const smalls = small.slice(0, MIXED_SMALL);
  const key = createHash('sha256').update(`${MIXED_VERSION}\n${smalls.map((s) => `${s.name}:${s.bytes.length}`).join('\n')}`).digest('hex').slice(0, 12);
  const dir = join(cacheDir, `imagesys-bench-mixed-${key}`);
  await mkdir(dir, { recursive: true });
  const large: CorpusImage[] = [];
  let n = 0;
  for (const spec of MIXED_LARGE) {
    for (let i = 0; i < spec.count; i++, n++) {
      const source = smalls[(n * 7) % smalls.length]!;
      const name = `large-${String(n).padStart(2, '0')}-${spec.width}x${spec.height}${spec.orientation ? `-o${spec.orientation}` : ''}.${spec.format === 'jpeg' ? 'jpg' : 'png'}`;
      const path = join(dir, name);
      let bytes = await readFile(path).catch(() => undefined);
      if (!bytes) {
        progress(`mixed corpus: making ${name} (cached in ${dir})`);
        const image = await grainy(source.bytes, spec.width, spec.height, spec.format === 'jpeg' ? 12 : 0);
        const tagged = spec.orientation ? image.withMetadata({ orientation: spec.orientation }) : image;
        bytes = spec.format === 'jpeg' ? await tagged.jpeg({ quality: 90 }).toBuffer() : await tagged.png({ compressionLevel: 6 }).toBuffer();
        await writeFile(`${path}.tmp`, bytes);
        await rename(`${path}.tmp`, path);
      }
      large.push({ name, path, bytes });
    }
  }
  // one large image every few small ones, from the start
  const out: CorpusImage[] = [];
  const every = Math.max(1, Math.floor(smalls.length / large.length));
  let next = 0;
  smalls.forEach((image, i) => {
    if (i % every === 0 && next < large.length) out.push(large[next++]!);
    out.push(image);
  });
  out.push(...large.slice(next));
  return out;
}

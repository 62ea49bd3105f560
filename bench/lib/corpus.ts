import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
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

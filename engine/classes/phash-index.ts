/**
 * The index of perceptual hashes, on disk beside the tree (`<tree>/.index/phash/`), for finding the
 * images that look like a new one among tens of millions, from several engines, across restarts, in
 * bounded memory.
 *
 * Stored: the 64-bit hash is cut into 4 bands of 16 bits; an image is listed in one bucket per band,
 * `<band>/<first byte>/<band value>~<writer>.log`, a line `phash country hash datasource` appended by
 * the engine that made it (one file per writing host, so engines on several hosts sharing the tree
 * over NFS never append to one file; on one host appends of a line are atomic). Two hashes within 3
 * bits agree exactly in at least one band (4 bands, 3 differing bits), so a lookup reads the 4
 * buckets of the new hash and compares each entry in full.
 *
 * Cost: with N images a bucket holds about N / 65,536 entries: at 32 million, about 490 (some 27 KB),
 * so a lookup reads 4 small directories and about 110 KB and compares about 2,000 hashes: 1.7 ms
 * (99th percentile 4.1), of which reading takes 1.5 (`npm run bench:classes`); the index takes about
 * 4 x 58 bytes per image (some 7 GB at 32 million, about 1% of the tree). Nothing is held in memory
 * between lookups. Lines are appended without fsync: a crash may lose the last ones (a duplicate then
 * classed photo, a placeholder found one URL later). A placeholder is appended only while its
 * datasource has fewer than the threshold of its picture (engine/core/image-class.ts), so a stock
 * picture under a million URLs keeps its buckets small.
 */
import { appendFile, mkdir, readdir, readFile } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { distanceOfHalves, halvesOf } from '../../workers/perceptual-hash.js';
import type { IndexEntry } from '../core/image-class.js';

/** Hex digits per band: 4 bands of 16 bits. */
const BAND_DIGITS = 4;
const BANDS = 4;
/** The largest distance a lookup is sure to find: one less than the number of bands. */
export const MAX_DISTANCE = BANDS - 1;

const PHASH = /^[0-9a-f]{16}$/;

/** The bucket of each band of `phash`: [band, value]. Pure. */
export function bucketsOf(phash: string): Array<[number, string]> {
  if (!PHASH.test(phash)) throw new Error(`not a 64-bit perceptual hash in hex: ${phash}`);
  return Array.from({ length: BANDS }, (_, band) => [band, phash.slice(band * BAND_DIGITS, (band + 1) * BAND_DIGITS)]);
}

/**
 * The buckets an image is listed and looked up in: all but a band of 16 equal bits (0000, ffff), which
 * flat parts of a picture give (a letterbox's bars, a sky, a plain wall): listing every such picture
 * there would make that one bucket hold a share of the whole tree. Two pictures alike in that band
 * alone are not found; a flat picture (every band so) is not indexed at all, and stays a photo. Pure.
 */
export function usefulBuckets(phash: string): Array<[number, string]> {
  return bucketsOf(phash).filter(([, value]) => value !== '0000' && value !== 'ffff');
}

// the callback API: a lookup and a listing are some 20 calls per image on the engine's event loop,
// and fs/promises costs about three times the main-thread time per call (spool/fs-calls.ts)
const readdirNames = promisify(readdir);
const readText = (path: string): Promise<string> => promisify(readFile)(path, 'utf8');
const append = promisify(appendFile);
const makeDir = promisify(mkdir);

/** A reader's fallback for a bucket or file not there (never written), rethrowing any other error. */
function emptyIfMissing<T>(empty: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return empty;
    throw error;
  };
}

/** One line of a bucket file. Pure (the datasource is escaped: it is any text a feed gave). */
export function entryLine(entry: IndexEntry): string {
  return `${entry.phash} ${entry.country} ${entry.hash} ${encodeURIComponent(entry.datasource)}\n`;
}

/** The entries of a bucket file's text; a torn or foreign line is skipped. Pure. */
export function parseEntries(text: string): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const line of text.split('\n')) {
    const [phash, country, hash, datasource, extra] = line.split(' ');
    if (extra !== undefined || !phash || !PHASH.test(phash) || !country || !hash || datasource === undefined) continue;
    try {
      out.push({ phash, country, hash, datasource: decodeURIComponent(datasource) });
    } catch {
      // a torn escape: skip the line
    }
  }
  return out;
}

/**
 * The entries of a bucket's text within `maxDistance` of `phash`. Each line's hash is compared as two
 * 32-bit numbers before the line is parsed: at 32 million images a lookup compares some 2,000 lines
 * and parses the few that are near (a full parse of each made the lookup 4.4 ms, bench:classes). Pure.
 */
export function within(text: string, phash: string, maxDistance: number): Array<{ entry: IndexEntry; distance: number }> {
  const [high, low] = halvesOf(phash);
  const out: Array<{ entry: IndexEntry; distance: number }> = [];
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end - start > 16) {
      const distance = distanceOfHalves(high, low, ...halvesOf(text.slice(start, start + 16)));
      // a torn line may pass this test by chance: parseEntries refuses it
      if (distance <= maxDistance) {
        const [entry] = parseEntries(text.slice(start, end));
        if (entry) out.push({ entry, distance });
      }
    }
    start = end + 1;
  }
  return out;
}

export class PhashIndex {
  /** Bucket directories made (or found) by this process: not made again for every image. */
  private readonly madeDirs = new Set<string>();

  /** `root` is `<tree>/.index/phash`; `writer` names this host's bucket files. */
  constructor(
    private readonly root: string,
    private readonly writer: string,
  ) {}

  private bucketDir(band: number, value: string): string {
    return join(this.root, String(band), value.slice(0, 2));
  }

  /** The images within `maxDistance` bits of `phash` (at most MAX_DISTANCE), nearest first, each once. */
  async near(phash: string, maxDistance: number): Promise<Array<IndexEntry & { distance: number }>> {
    if (maxDistance > MAX_DISTANCE) throw new RangeError(`the index finds hashes within ${MAX_DISTANCE} bits, not ${maxDistance}`);
    // the buckets at once: a lookup waits for one round of reads, not four
    const texts = await Promise.all(usefulBuckets(phash).map(async ([band, value]) => {
      const dir = this.bucketDir(band, value);
      const files = (await readdirNames(dir).catch(emptyIfMissing([] as string[]))).filter((name) => name.startsWith(`${value}~`));
      return Promise.all(files.map((file) => readText(join(dir, file)).catch(emptyIfMissing(''))));
    }));
    const found = new Map<string, IndexEntry & { distance: number }>();
    for (const text of texts.flat()) {
      for (const { entry, distance } of within(text, phash, maxDistance)) {
        const key = `${entry.country}/${entry.hash}`;
        if (!found.has(key)) found.set(key, { ...entry, distance });
      }
    }
    return [...found.values()].sort((a, b) => a.distance - b.distance);
  }

  /** Lists an image in its 4 buckets (at once). */
  async add(entry: IndexEntry): Promise<void> {
    // a line torn by a crash ends without a newline: the next one starts on its own line all the same
    const line = `\n${entryLine(entry)}`;
    await Promise.all(usefulBuckets(entry.phash).map(async ([band, value]) => {
      const dir = this.bucketDir(band, value);
      const file = join(dir, `${value}~${this.writer}.log`);
      if (!this.madeDirs.has(dir)) {
        await makeDir(dir, { recursive: true });
        this.madeDirs.add(dir);
      }
      await append(file, line).catch(async (error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        // its directory went (an operator cleared the index): made again
        await makeDir(dir, { recursive: true });
        await append(file, line);
      });
    }));
  }
}

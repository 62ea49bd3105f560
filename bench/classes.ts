/**
 * `npm run bench:classes [-- --images 32000000 --queries 200 --tmp DIR]`
 *
 * The perceptual-hash index's lookup at a given size of the tree, without making that many images:
 * a bucket of an index of N images holds about N / 65,536 entries (engine/classes/phash-index.ts), so
 * the bench writes, for each of --queries random hashes, its 4 buckets filled to that size with
 * random entries (one writer's file each, plus one of a second writer), then times `near()` for each
 * query, and, as the baseline measured in the same run, a plain read of the same 4 files. Prints
 * the figures and one JSON line: `lookup_ms_p50`, `lookup_ms_p99`, `read_ms_p50`, `ratio`,
 * `bucket_entries`, `bytes_per_lookup`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bucketsOf, entryLine, PhashIndex } from '../engine/classes/phash-index.js';
import { fmt, labelThenNumbers, table } from './lib/format.js';
import { printJsonLine, printLines, progressLines } from './lib/output.js';
import { median, round } from './lib/stats.js';

const progress = progressLines('bench:classes');
const { values } = parseArgs({ options: { images: { type: 'string', default: '32000000' }, queries: { type: 'string', default: '200' }, tmp: { type: 'string', default: tmpdir() } }, strict: true });
const images = Number(values.images);
const queries = Number(values.queries);
if (!Number.isInteger(images) || images < 65_536 || !Number.isInteger(queries) || queries < 1) throw new Error('--images takes an integer of at least 65536, --queries a positive integer');

const perBucket = Math.round(images / 65_536);
const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

const root = await mkdtemp(join(values.tmp, 'imagesys-bench-classes-'));
try {
  const dir = join(root, 'phash');
  const index = new PhashIndex(dir, 'host-a');
  const asked: string[] = [];
  let bytes = 0;
  progress(`writing ${queries} x 4 buckets of ${perBucket} entries (an index of ${images.toLocaleString('en')} images)`);
  for (let q = 0; q < queries; q++) {
    const phash = hex(8);
    asked.push(phash);
    for (const [band, value] of bucketsOf(phash)) {
      const lines: string[] = [];
      for (let i = 0; i < perBucket; i++) {
        // shares the band's 16 bits with the query, random elsewhere: what that bucket holds
        const other = hex(8);
        const sharing = other.slice(0, band * 4) + value + other.slice(band * 4 + 4);
        lines.push(entryLine({ phash: sharing, country: 'uk', hash: hex(16), datasource: String(i % 500) }));
      }
      const at = join(dir, String(band), value.slice(0, 2));
      await mkdir(at, { recursive: true });
      const text = lines.join('');
      bytes += text.length;
      await writeFile(join(at, `${value}~host-a.log`), text.slice(0, Math.floor(text.length * 0.9)).replace(/[^\n]*$/, ''));
      await writeFile(join(at, `${value}~host-b.log`), text.slice(text.slice(0, Math.floor(text.length * 0.9)).replace(/[^\n]*$/, '').length));
    }
  }
  progress('looking up');
  const lookups: number[] = [];
  const reads: number[] = [];
  for (let round = 0; round < 2; round++) {
    for (const phash of asked) {
      let started = performance.now();
      await index.near(phash, 3);
      if (round === 1) lookups.push(performance.now() - started);
      started = performance.now();
      for (const [band, value] of bucketsOf(phash)) {
        const at = join(dir, String(band), value.slice(0, 2));
        for (const name of (await readdir(at)).filter((n) => n.startsWith(`${value}~`))) await readFile(join(at, name), 'utf8');
      }
      if (round === 1) reads.push(performance.now() - started);
    }
  }
  const sorted = [...lookups].sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
  const lookup = median(lookups, 'upper');
  const read = median(reads, 'upper');
  const perLookup = bytes / queries;
  printLines([
    `bench:classes: an index of ${images.toLocaleString('en')} images (${perBucket} entries a bucket), ${queries} lookups (the second of two rounds)`,
    '',
    table([
      ['figure', 'value'],
      ['lookup (near, 3 bits), median ms', fmt(lookup, 2)],
      ['lookup, 99th percentile ms', fmt(p99, 2)],
      ['plain read of the same 4 buckets, median ms', fmt(read, 2)],
      ['bytes read per lookup', fmt(perLookup / 1024, 0) + ' KiB'],
    ], labelThenNumbers),
  ]);
  printJsonLine({ bench: 'classes', images, bucket_entries: perBucket, lookup_ms_p50: round(lookup, 3), lookup_ms_p99: round(p99, 3), read_ms_p50: round(read, 3), ratio: round(lookup / read, 2), bytes_per_lookup: Math.round(perLookup) });
} finally {
  await rm(root, { recursive: true, force: true });
}

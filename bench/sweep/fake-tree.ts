/**
 * Trees of fake images written straight to disk (no sharp): a small `<hash>.thumb.webp` and a valid
 * manifest each, listed in the expiry index as the engine lists what it makes. The daemons' copies are
 * hard links of the tree's files (same inode, so the same mtime: rsync's quick check sees them equal).
 */
import { appendFileSync, linkSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../../engine/config/config.js';
import { hashForUrl } from '../../engine/core/hash.js';
import type { Manifest } from '../../engine/tree/tree.js';
import * as expiry from '../../spool/expiry.js';
import { dayOf, expiryDir } from '../../spool/expiry.js';
import { encodeJob, newJob } from '../../spool/job.js';
import { secondsSince } from '../lib/stats.js';
import { COUNTRY, dirOf, manifestRel, progress, thumbRel, urlOf, type Bench } from './sweep-bench.js';

const PROGRESS_EVERY = 10_000;

/**
 * The expiry index's format, read off the engine's own module: one empty marker per image,
 * `.expiry/<day>/<cc>/<hash>` (markersOf), or appended lines `<cc> <hash>` in `.expiry/<day>/<writer>.log`.
 */
export const MARKERS = typeof (expiry as unknown as Record<string, unknown>).markersOf === 'function';
export const EXPIRED_DAY = '2000-01-01';

/** Index entries for images made or refreshed on `day`, in the engine's format. */
function indexImages(bench: Bench, day: string, hashes: readonly string[]): void {
  const dir = join(expiryDir(bench.spool), day);
  // (not cached in bench.made: purge removes a day's directories once it is done)
  mkdirSync(MARKERS ? join(dir, COUNTRY) : dir, { recursive: true });
  if (MARKERS) {
    for (const hash of hashes) writeFileSync(join(dir, COUNTRY, hash), '');
  } else {
    appendFileSync(join(dir, 'bench.log'), hashes.map((hash) => `${COUNTRY} ${hash}\n`).join(''));
  }
}

/** Moves images' index entries to an expired day (markers leave their current day; lines just add). */
export function expireInIndex(bench: Bench, hashes: readonly string[]): void {
  if (MARKERS) {
    for (const day of readdirSync(expiryDir(bench.spool))) {
      if (day === EXPIRED_DAY) continue;
      for (const hash of hashes) rmSync(join(expiryDir(bench.spool), day, COUNTRY, hash), { force: true });
    }
  }
  indexImages(bench, EXPIRED_DAY, hashes);
}

function ensureDir(bench: Bench, dir: string): void {
  if (bench.made.has(dir)) return;
  mkdirSync(dir, { recursive: true });
  bench.made.add(dir);
}

/** A few hundred bytes that look a little like a WebP; any content would do. */
function fakeWebp(hash: string): Buffer {
  const body = Buffer.alloc(200 + parseInt(hash.slice(0, 2), 16), hash);
  const header = Buffer.from('RIFF\0\0\0\0WEBPVP8 ', 'latin1');
  header.writeUInt32LE(body.length + 8, 4);
  return Buffer.concat([header, body]);
}

function manifestOf(i: number, hash: string, thumbBytes: number, at: Date): Manifest {
  return {
    version: 1,
    url: urlOf(i),
    hash,
    country: COUNTRY,
    sizes: [{ name: 'thumb', format: 'webp', width: 120, height: 90, bytes: thumbBytes, path: thumbRel(hash), quality: 75 }],
    source: { width: 640, height: 480, format: 'jpeg', bytes: 50_000 },
    digest: createHash('sha256').update(urlOf(i)).digest('hex'),
    processing: { ...DEFAULT_CONFIG.thumbnails.process },
    createdAt: at.toISOString(),
  };
}

/**
 * Writes `count` new images into the tree; with `mirror`, hard-links their files into every daemon's
 * copy too (already delivered), else leaves a thumbed job for each (new: the sweeper's to deliver).
 * Returns the new images' indices.
 */
export function addImages(bench: Bench, count: number, mirror: boolean, label: string): number[] {
  const added: number[] = [];
  const hashes: string[] = [];
  const at = new Date(bench.clock());
  const thumbed = join(bench.spool, 'thumbed', COUNTRY);
  if (!mirror) ensureDir(bench, thumbed);
  const started = performance.now();
  for (let n = 0; n < count; n++) {
    const i = bench.next++;
    const hash = hashForUrl(urlOf(i));
    const webp = fakeWebp(hash);
    ensureDir(bench, join(bench.tree, dirOf(hash)));
    writeFileSync(join(bench.tree, thumbRel(hash)), webp);
    writeFileSync(join(bench.tree, manifestRel(hash)), `${JSON.stringify(manifestOf(i, hash, webp.length, at))}\n`);
    if (mirror) {
      for (const daemon of bench.daemons) {
        ensureDir(bench, join(daemon.data, dirOf(hash)));
        linkSync(join(bench.tree, thumbRel(hash)), join(daemon.data, thumbRel(hash)));
        linkSync(join(bench.tree, manifestRel(hash)), join(daemon.data, manifestRel(hash)));
      }
    } else {
      writeFileSync(join(thumbed, `${hash}.job`), encodeJob(newJob({ url: urlOf(i), country: COUNTRY }, at)));
    }
    added.push(i);
    hashes.push(hash);
    bench.present.push(i);
    if ((n + 1) % PROGRESS_EVERY === 0 || n + 1 === count) {
      progress(`${label}: ${n + 1}/${count} images (${bench.present.length} in the tree), ${secondsSince(started).toFixed(1)} s`);
    }
  }
  // the engine records every image it makes in the expiry index
  indexImages(bench, dayOf(at), hashes);
  return added;
}

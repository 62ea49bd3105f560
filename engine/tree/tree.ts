import { readOwnText } from '../../spool/safe-open.js';
import { FsTime } from '../../spool/fs-time.js';
import { removeStrayTemporaries } from '../../spool/recovery.js';
import { stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { pathForHash } from '../core/hash.js';
import type { ManifestClass } from '../core/image-class.js';
import { EXTENSIONS, type OutputFormat, type Placeholder, type ProcessDetails } from '../../workers/thumbnail-task.js';

/** One file of an image, as the manifest lists it. `path` is relative to the tree root. */
export interface ManifestSize {
  name: string;
  format: OutputFormat;
  width: number;
  height: number;
  bytes: number;
  path: string;
  /** The encoder quality it was written at (absent in manifests made before it was recorded). */
  quality?: number;
  /** Its SSIM against the resized source (workers/score.ts), when quality was chosen per image (auto). */
  score?: number;
}

/** `<hash>.json`, written after every file it lists: a reader who sees it may rely on them. */
export interface Manifest {
  version: 1;
  url: string;
  hash: string;
  country: string;
  datasource?: string;
  sizes: ManifestSize[];
  source: { width: number; height: number; format: string; bytes: number; etag?: string; lastModified?: string };
  /** SHA-256 of the original's bytes. */
  digest: string;
  /** What a page shows before the thumbnail arrives (manifests written before it was made have none). */
  placeholder?: Placeholder;
  /** The picture's perceptual hash (64-bit dHash, hex), by which classes are found. */
  phash?: string;
  /** What the picture is (engine/classes/image-class.ts); absent in manifests made before classes were. */
  class?: ManifestClass;
  /** Whether an operator set the class (`imagesys classify`). */
  humanClassified?: boolean;
  /** For a duplicate: the image it is a near-copy of. */
  duplicateOf?: { country: string; hash: string };
  processing: ProcessDetails;
  createdAt: string;
}

/** `<country>/<h0h1>/<h2h3>/<hash>`, relative to the tree root. */
export function imageStem(country: string, hash: string): string {
  return `${country}/${pathForHash(hash)}`;
}

export function manifestRelPath(country: string, hash: string): string {
  return `${imageStem(country, hash)}.json`;
}

export function sizeRelPath(country: string, hash: string, size: string, format: OutputFormat): string {
  return `${imageStem(country, hash)}.${size}.${EXTENSIONS[format]}`;
}

export function manifestPath(tree: string, country: string, hash: string): string {
  return join(tree, manifestRelPath(country, hash));
}

/** Temporary files for the tree: renamed into place, and excluded from what the sweeper sends. */
export function treeTmpDir(tree: string): string {
  return join(tree, '.tmp');
}

/**
 * Removes the tree's temporaries of dead writers (spool/recovery.ts), aged by the tree's file
 * system's own time (it may not be the spool's): no host's clock decides that a write is abandoned.
 */
export async function removeTreeTemporaries(tree: string, time: FsTime = new FsTime(treeTmpDir(tree))): Promise<number> {
  // a tree that takes no write (the disk watch pauses downloads for it): dead writers' only
  return removeStrayTemporaries(treeTmpDir(tree), (await time.tryNow()) ?? null);
}

export async function readManifest(tree: string, country: string, hash: string): Promise<Manifest | undefined> {
  // not through a link, nor from a FIFO someone put in its place: such a manifest counts as absent
  const text = await readOwnText(manifestPath(tree, country, hash));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Manifest;
  } catch {
    return undefined; // a corrupt manifest counts as absent: the image is made again
  }
}

/**
 * Marks an image as still listed: refreshes the mtime of its files and manifest, which is what
 * purge looks at. Returns the manifest's mtime before the refresh; undefined when the image is not
 * (completely) in the tree.
 */
export async function touchImage(tree: string, country: string, hash: string, now: Date): Promise<Date | undefined> {
  const manifest = await readManifest(tree, country, hash);
  if (!manifest) return undefined;
  try {
    const previous = (await stat(manifestPath(tree, country, hash))).mtime;
    for (const size of manifest.sizes) await utimes(join(tree, size.path), now, now);
    await utimes(manifestPath(tree, country, hash), now, now);
    return previous;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The tree as intake sees it: an image to touch (ImageToucher in spool/intake.ts). */
export function treeToucher(tree: string): { touch(country: string, hash: string, now: Date): Promise<Date | undefined> } {
  return { touch: (country, hash, now) => touchImage(tree, country, hash, now) };
}

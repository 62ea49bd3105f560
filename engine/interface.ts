/**
 * The Interface for the website: where an image's thumbnails are and their public URLs.
 * It reads only the tree's manifests, so a frontend in another language can do the same.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readManifest, type Manifest } from './tree/tree.js';
import { thumbHashToDataURL } from 'thumbhash';
import { hashForUrl, pathForHash } from './core/hash.js';
import type { ImageClass, ManifestClass } from './core/image-class.js';

export { hashForUrl, pathForHash };
export { FORMAT_PREFERENCE, pictureData, pictureHtml, type PictureData, type PictureOptions, type PictureSource } from './picture.js';
export type { Manifest, ManifestSize } from './tree/tree.js';
export { IMAGE_CLASSES, type ImageClass, type ManifestClass } from './core/image-class.js';

/** The manifest's version this Interface reads and writes; its JSON Schema is `manifestSchemaPath()`. */
export const MANIFEST_VERSION = 1;

/**
 * Where the JSON Schema of the manifest is (JSON Schema 2020-12, `$id` urn:imagesys:manifest:v1): in
 * the package, beside this module, for a website in another language to read or validate against.
 */
export function manifestSchemaPath(): string {
  return fileURLToPath(new URL('./tree/manifest.v1.schema.json', import.meta.url));
}

/** The JSON Schema of the manifest, parsed. */
export function manifestSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(manifestSchemaPath(), 'utf8')) as Record<string, unknown>;
}

export interface TreeLocation {
  /** The tree root on this machine. */
  tree: string;
  /** Public URL of the tree root, e.g. https://img.example.com/thumbs */
  baseUrl: string;
}

export interface Thumbnail {
  name: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  /** Path relative to the tree root. */
  path: string;
  /** Public URL: baseUrl + '/' + path. */
  url: string;
  /** The encoder quality it was written at (absent in manifests made before it was recorded). */
  quality?: number;
  /** Its SSIM against the resized source, where quality was chosen per image. */
  score?: number;
}

/** What a page shows while the thumbnail loads. */
export interface PagePlaceholder {
  /** ThumbHash, base64 (decode it in the browser with the `thumbhash` package, or use `dataUrl`). */
  thumbhash: string;
  /** The dominant colour, `#rrggbb`: a background for the image's box. */
  dominant: string;
  /** The ThumbHash decoded to a small PNG, ready for `src` or a CSS `background-image`. */
  dataUrl: string;
}

export interface Thumbnails {
  hash: string;
  url: string;
  country: string;
  sizes: Thumbnail[];
  /** The same list keyed by size name, then format, for templates: `bySize.thumb.webp.url`. */
  bySize: Record<string, Record<string, Thumbnail>>;
  source: Manifest['source'];
  /** Absent for images made before placeholders were. */
  placeholder?: PagePlaceholder;
  /**
   * What the picture is: a photo, a placeholder (a stock picture served for many listings) or a
   * duplicate; `photo` for images made before classes were. `canary` only from toThumbnails on a
   * canary's manifest: thumbnailsForHash / ForUrl / ForUrls never return a canary.
   */
  class: ManifestClass;
  /** Whether an operator set the class by hand. */
  humanClassified: boolean;
  /** For a duplicate: the image it is a near-copy of. */
  duplicateOf?: { country: string; hash: string };
  createdAt: string;
}

/** A ThumbHash is at least its header: five bytes. */
const THUMBHASH_MIN_BYTES = 5;

/** The manifest's placeholder with its data URL made (undefined when it has none, or it is not readable). Pure. */
export function pagePlaceholder(placeholder: Manifest['placeholder']): PagePlaceholder | undefined {
  if (!placeholder) return undefined;
  const hash = Buffer.from(placeholder.thumbhash, 'base64');
  if (hash.length < THUMBHASH_MIN_BYTES || !/^#[0-9a-f]{6}$/i.test(placeholder.dominant)) return undefined;
  try {
    return { ...placeholder, dataUrl: thumbHashToDataURL(hash) };
  } catch {
    return undefined; // a hand-edited or damaged manifest: the page shows no placeholder, not an error
  }
}

export function toThumbnails(manifest: Manifest, baseUrl: string): Thumbnails {
  const base = baseUrl.replace(/\/+$/, '');
  const sizes = manifest.sizes.map((size) => ({ ...size, url: `${base}/${size.path}` }));
  const bySize: Thumbnails['bySize'] = {};
  for (const size of sizes) (bySize[size.name] ??= {})[size.format] = size;
  const placeholder = pagePlaceholder(manifest.placeholder);
  return {
    hash: manifest.hash,
    url: manifest.url,
    country: manifest.country,
    sizes,
    bySize,
    source: manifest.source,
    ...(placeholder ? { placeholder } : {}),
    class: manifest.class ?? 'photo',
    humanClassified: manifest.humanClassified ?? false,
    ...(manifest.duplicateOf ? { duplicateOf: manifest.duplicateOf } : {}),
    createdAt: manifest.createdAt,
  };
}

/** The thumbnails of one image, or undefined when it is not (yet) in the tree. */
export async function thumbnailsForHash(location: TreeLocation, country: string, hash: string): Promise<Thumbnails | undefined> {
  const manifest = await readManifest(location.tree, country, hash);
  // a canary (ImageSys's own test picture, in a country of its own) is never the website's
  return manifest && manifest.class !== 'canary' ? toThumbnails(manifest, location.baseUrl) : undefined;
}

export async function thumbnailsForUrl(location: TreeLocation, country: string, url: string): Promise<Thumbnails | undefined> {
  return thumbnailsForHash(location, country, hashForUrl(url));
}

export interface BatchOptions {
  /** Reads at once (default 16). */
  concurrency?: number;
  /** Classes to leave out (their entries come back undefined): `['placeholder', 'duplicate']` for a listing page. */
  omit?: readonly ImageClass[];
}

/**
 * The batch form for building a listing page: one entry per URL, in order, undefined where an image
 * is not in the tree, the URL is invalid, or its class is one `omit` leaves out. Reads run with
 * bounded concurrency.
 */
export async function thumbnailsForUrls(location: TreeLocation, country: string, urls: readonly string[], options: BatchOptions | number = {}): Promise<Array<Thumbnails | undefined>> {
  // a number: the concurrency, as the batch form's fourth argument was before it took options
  const { concurrency = 16, omit = [] } = typeof options === 'number' ? { concurrency: options } : options;
  const results = new Array<Thumbnails | undefined>(urls.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < urls.length) {
      const index = next++;
      let hash: string;
      try {
        hash = hashForUrl(urls[index]!);
      } catch {
        results[index] = undefined;
        continue;
      }
      const found = await thumbnailsForHash(location, country, hash);
      results[index] = found && (omit as readonly ManifestClass[]).includes(found.class) ? undefined : found;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));
  return results;
}

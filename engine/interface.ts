/**
 * The Interface for the website: where an image's thumbnails are and their public URLs.
 * It reads only the tree's manifests, so a frontend in another language can do the same.
 */
import { readManifest, type Manifest } from './tree/tree.js';
import { hashForUrl, pathForHash } from './core/hash.js';

export { hashForUrl, pathForHash };

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
}

export interface Thumbnails {
  hash: string;
  url: string;
  country: string;
  sizes: Thumbnail[];
  /** The same list keyed by size name, then format, for templates: `bySize.thumb.webp.url`. */
  bySize: Record<string, Record<string, Thumbnail>>;
  source: Manifest['source'];
  createdAt: string;
}

export function toThumbnails(manifest: Manifest, baseUrl: string): Thumbnails {
  const base = baseUrl.replace(/\/+$/, '');
  const sizes = manifest.sizes.map((size) => ({ ...size, url: `${base}/${size.path}` }));
  const bySize: Thumbnails['bySize'] = {};
  for (const size of sizes) (bySize[size.name] ??= {})[size.format] = size;
  return { hash: manifest.hash, url: manifest.url, country: manifest.country, sizes, bySize, source: manifest.source, createdAt: manifest.createdAt };
}

/** The thumbnails of one image, or undefined when it is not (yet) in the tree. */
export async function thumbnailsForHash(location: TreeLocation, country: string, hash: string): Promise<Thumbnails | undefined> {
  const manifest = await readManifest(location.tree, country, hash);
  return manifest ? toThumbnails(manifest, location.baseUrl) : undefined;
}

export async function thumbnailsForUrl(location: TreeLocation, country: string, url: string): Promise<Thumbnails | undefined> {
  return thumbnailsForHash(location, country, hashForUrl(url));
}

/**
 * The batch form for building a listing page: one entry per URL, in order, undefined where an image
 * is not in the tree or the URL is invalid. Reads run with bounded concurrency.
 */
export async function thumbnailsForUrls(location: TreeLocation, country: string, urls: readonly string[], concurrency = 16): Promise<Array<Thumbnails | undefined>> {
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
      results[index] = await thumbnailsForHash(location, country, hash);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));
  return results;
}

/**
 * The manifest of an image, built from what the thumbnail task returned: pure, so what the frontends
 * read is tested without a thread, a disk or a clock.
 */
import type { Job } from '../../spool/job.js';
import type { Classification } from '../core/image-class.js';
import { withoutCredentials } from '../core/hash.js';
import { sizeRelPath, type Manifest } from '../tree/tree.js';
import type { LatestThumbnail } from '../observe/status.js';
import type { Placeholder, ProcessDetails, SourceImage, ThumbnailOutput } from '../../workers/thumbnail-task.js';

/** What the manifest says of the original besides its look: how big it was, how it hashed. */
export interface OriginalFacts {
  bytes: number;
  /** SHA-256 of its bytes, hex. */
  sha256: string;
  /** Its placeholder (ThumbHash and dominant colour), made with the thumbnails. */
  placeholder?: Placeholder;
  /** Its perceptual hash, made with the thumbnails. */
  phash?: string;
}

/** Each output as the manifest lists it, its path relative to the tree root. Pure. */
export function manifestSizes(job: Pick<Job, 'country' | 'hash'>, outputs: ReadonlyArray<Omit<ThumbnailOutput, 'data'>>, bytesOf: (index: number) => number): Manifest['sizes'] {
  return outputs.map((output, i) => ({
    name: output.name,
    format: output.format,
    width: output.width,
    height: output.height,
    bytes: bytesOf(i),
    path: sizeRelPath(job.country, job.hash, output.name, output.format),
    quality: output.quality,
    ...(output.score !== undefined ? { score: output.score } : {}),
  }));
}

/**
 * The manifest of a job's image. The URL goes to the frontends, so it keeps no credentials; the
 * source's validators (etag, last-modified) are kept for a conditional GET at the next refresh. Pure.
 */
export function buildManifest(
  job: Job,
  sizes: Manifest['sizes'],
  source: Pick<SourceImage, 'width' | 'height' | 'format'>,
  original: OriginalFacts,
  processing: ProcessDetails,
  createdAt: Date,
  classification?: Classification,
): Manifest {
  return {
    version: 1,
    url: withoutCredentials(job.url),
    hash: job.hash,
    country: job.country,
    ...(job.datasource ? { datasource: job.datasource } : {}),
    sizes,
    source: {
      width: source.width,
      height: source.height,
      format: source.format,
      bytes: original.bytes,
      ...(job.source?.etag ? { etag: job.source.etag } : {}),
      ...(job.source?.lastModified ? { lastModified: job.source.lastModified } : {}),
    },
    digest: `sha256:${original.sha256}`,
    ...(original.placeholder ? { placeholder: original.placeholder } : {}),
    ...(original.phash ? { phash: original.phash } : {}),
    ...(classification ? { class: classification.class, humanClassified: classification.humanClassified, ...(classification.duplicateOf ? { duplicateOf: classification.duplicateOf } : {}) } : {}),
    processing,
    createdAt: createdAt.toISOString(),
  };
}

/** The image as the status page shows the latest ones. Pure. */
export function latestOf(manifest: Manifest): LatestThumbnail {
  return {
    country: manifest.country,
    hash: manifest.hash,
    url: manifest.url,
    at: manifest.createdAt,
    sizes: manifest.sizes.map(({ name, path, width, height }) => ({ name, path, width, height })),
  };
}

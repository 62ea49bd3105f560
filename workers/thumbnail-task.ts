/** The contract between the engine and the sharp worker: plain data, nothing about the spool. */
import type { ErrorCode } from '../engine/core/errors.js';
import type { QualitySetting } from './quality.js';

/** One output size: fit inside width x height, never upscaled. */
export interface SizeSpec {
  name: string;
  width: number;
  height: number;
}

export type OutputFormat = 'webp' | 'jpeg' | 'avif' | 'png';

/** How an image is processed: the old `lis_datasource_process_details`. */
export interface ProcessDetails {
  /** Encoder quality 1-100, or auto: chosen per image and size against a score floor (workers/quality.ts). */
  quality: QualitySetting;
  /** Gaussian sharpen sigma after resizing; 0 turns it off. */
  sharpen: number;
  /** Gamma used while resizing (e.g. 2.2); 0 turns it off. */
  gamma: number;
  /** Colour that transparent pixels are flattened onto. */
  background: string;
  /** Encoder effort (WebP 0-6, AVIF 0-9): higher makes smaller files, slower. */
  effort: number;
}


export interface ThumbnailTask {
  /** The original's bytes (transferred, not copied). */
  input: Uint8Array;
  sizes: SizeSpec[];
  formats: OutputFormat[];
  process: ProcessDetails;
  maxPixels: number;
}

export interface ThumbnailOutput {
  name: string;
  format: OutputFormat;
  width: number;
  height: number;
  /** The encoder quality it was written at. */
  quality: number;
  /** Its SSIM against the pixels it was encoded from (workers/score.ts): in auto mode only, where it was measured. */
  score?: number;
  data: Uint8Array;
}

export interface SourceImage {
  width: number;
  height: number;
  format: string;
  /** EXIF orientation found in the original (1 when none). */
  orientation: number;
}

/** What a page shows before a thumbnail arrives. */
export interface Placeholder {
  /** ThumbHash (https://evanw.github.io/thumbhash/) of the image, base64 (21 bytes for an opaque photo), decoded by the page. */
  thumbhash: string;
  /** The image's dominant colour, `#rrggbb` (sharp's stats: the most common colour, not the average). */
  dominant: string;
}

/** Errors cross the thread boundary as data: a code (of the one table) and a message. */
export type ThumbnailResult =
  | {
      ok: true;
      source: SourceImage;
      outputs: ThumbnailOutput[];
      /** SHA-256 of the original's bytes, hex (the manifest's content digest): hashed here, off the event loop. */
      sha256: string;
      /** The picture's perceptual hash (workers/perceptual-hash.ts): 16 hex digits. */
      phash: string;
      /** Absent only if it could not be made (the thumbnails were). */
      placeholder?: Placeholder;
    }
  | { ok: false; code: Extract<ErrorCode, 'pixel_limit' | 'unsupported_format' | 'decode_failed'>; message: string };

export const EXTENSIONS: Record<OutputFormat, string> = { webp: 'webp', jpeg: 'jpg', avif: 'avif', png: 'png' };

/** The contract between the engine and the sharp worker: plain data, nothing about the spool. */
import type { OutputFormat, ProcessDetails, SizeSpec } from '../engine/config.js';

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
  data: Uint8Array;
}

export interface SourceImage {
  width: number;
  height: number;
  format: string;
  /** EXIF orientation found in the original (1 when none). */
  orientation: number;
}

/** Errors cross the thread boundary as data: a code and a message. */
export type ThumbnailResult =
  | { ok: true; source: SourceImage; outputs: ThumbnailOutput[] }
  | { ok: false; code: 'pixel_limit' | 'unsupported_format' | 'decode_failed'; message: string };

export const EXTENSIONS: Record<OutputFormat, string> = { webp: 'webp', jpeg: 'jpg', avif: 'avif', png: 'png' };

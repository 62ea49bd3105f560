/** A thumbnail stage without sharp, for benches that measure the engine's bookkeeping alone. */
import { randomBytes } from 'node:crypto';
import type { ThumbnailRunner } from '../../engine/thumbnails/thumbnail-pool.js';

/**
 * Stands in for sharp: answers at once with one tiny output per size, as a real result would look
 * (each output its own bytes, as they come from a worker thread: the engine hands them on to its
 * write thread).
 */
/** What the stub's manifests give as the original's digest (a real one is made in the pool's threads). */
const STUB_DIGEST = '0'.repeat(64);
/** And its placeholder (a real one is made there too): a grey 4:3 ThumbHash. */
const STUB_PLACEHOLDER = { thumbhash: 'IAgCBYBoZVuJh4iEiJiIcAAAAAAA', dominant: '#808080' };

/**
 * And its perceptual hash: a new one for every task. The bench serves the corpus over and over under
 * new URLs; real listings are mostly distinct pictures, and classing each copy a duplicate (or, past 20,
 * a placeholder) would measure that instead of the engine's usual work.
 */
const stubPhash = (): string => randomBytes(8).toString('hex');

export function stubPool(): ThumbnailRunner {
  const template = new Uint8Array(600);
  return {
    run: (task) =>
      Promise.resolve({
        ok: true,
        source: { width: 640, height: 480, format: 'jpeg', orientation: 1 },
        sha256: STUB_DIGEST, // the real pool hashes in its worker threads, not on the engine's
        placeholder: STUB_PLACEHOLDER,
        phash: stubPhash(),
        outputs: task.sizes.flatMap((size) => task.formats.map((format) => ({ name: size.name, format, width: size.width, height: size.height, quality: 75, data: template.slice() }))),
      }),
    close: async () => {},
  };
}

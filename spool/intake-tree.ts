/**
 * What intake needs of the tree, passed in by the caller so that spool/ does not depend on the tree:
 * an image already there is refreshed (purge keeps it) instead of being made again.
 *
 * TRANSITIONAL: engine/engine.ts still passes the tree's root (a string) to ingestBatch; `toucherOf`
 * turns it into the tree's toucher. Once the engine passes `treeToucher(config.tree)`
 * (engine/tree/tree.ts), drop the string case here and in intake.ts, and with it this module's one
 * import from engine/.
 */
import { treeToucher } from '../engine/tree/tree.js';

export interface ImageToucher {
  /** Refreshes the image's files; their mtime before, or undefined when the image is not (whole) in the tree. */
  touch(country: string, hash: string, now: Date): Promise<Date | undefined>;
}

export function toucherOf(tree: ImageToucher | string): ImageToucher {
  return typeof tree === 'string' ? treeToucher(tree) : tree;
}

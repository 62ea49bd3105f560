/** Classes set by hand (`imagesys classify`): kept apart from the manifest, so they outlive a reprocessing or a purge. */
import { readOwnText } from '../../spool/safe-open.js';
import type { AtomicWriter } from '../../spool/atomic.js';
import { HAND_CLASSES, type HandClass } from '../core/image-class.js';
import { handSetPath } from './layout.js';

/** The class an operator set for the image `hash`, if any. */
export async function handSetClass(tree: string, hash: string): Promise<HandClass | undefined> {
  const text = await readOwnText(handSetPath(tree, hash));
  if (text === undefined) return undefined;
  try {
    const value = (JSON.parse(text) as { class?: unknown }).class;
    return HAND_CLASSES.find((c) => c === value);
  } catch {
    return undefined; // damaged: as if never set (the operator sets it again)
  }
}

/** Records an operator's class for the image `hash`. */
export async function setHandClass(tree: string, writer: AtomicWriter, hash: string, value: HandClass, at: Date): Promise<void> {
  await writer.write(handSetPath(tree, hash), `${JSON.stringify({ class: value, at: at.toISOString() })}\n`);
}

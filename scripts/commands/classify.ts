import type { Config } from '../../engine/config/config.js';
import { setHandClass } from '../../engine/classes/hand-set.js';
import { HAND_CLASSES, type HandClass } from '../../engine/classes/image-class.js';
import { hashForUrl, isHash } from '../../engine/core/hash.js';
import { manifestPath, readManifest, treeTmpDir, type Manifest } from '../../engine/tree/tree.js';
import { AtomicWriter } from '../../spool/atomic.js';
import { UsageError } from '../cli-config.js';

/**
 * `imagesys classify <url|hash> <placeholder|photo>`: an operator's class for an image. It is kept
 * apart from the manifest (engine/classes/hand-set.ts), so it wins whenever the image is made again,
 * and written into the manifest at once wherever the image is in the tree (every country given).
 */
export async function classifyCommand(config: Config, countries: string[], target: string, value: string, now: Date = new Date()): Promise<number> {
  if (!HAND_CLASSES.includes(value as HandClass)) throw new UsageError(`classify: the class is one of ${HAND_CLASSES.join(', ')}, not ${JSON.stringify(value)}`);
  const hash = isHash(target) ? target : hashForUrl(target);
  const writer = new AtomicWriter(treeTmpDir(config.tree), config.fsync);
  await setHandClass(config.tree, writer, hash, value as HandClass, now);
  const updated: string[] = [];
  for (const country of countries) {
    const manifest = await readManifest(config.tree, country, hash);
    if (!manifest) continue;
    const { duplicateOf: _none, ...rest } = manifest;
    const next: Manifest = { ...rest, class: value as HandClass, humanClassified: true };
    await writer.write(manifestPath(config.tree, country, hash), `${JSON.stringify(next, null, 2)}\n`, { mustExist: true });
    updated.push(country);
  }
  const where = updated.length > 0 ? `its manifest updated in ${updated.join(', ')}` : `not in the tree of ${countries.join(', ')} yet: it takes the class when it is made`;
  console.error(`classify: ${hash} is ${value}, set by hand; ${where}`);
  return 0;
}

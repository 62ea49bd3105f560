import { ClassCounter } from '../../engine/classes/class-counts.js';
import { setHandClass } from '../../engine/classes/hand-set.js';
import { classifyCountsPath } from '../../engine/classes/layout.js';
import { reclassImage } from '../../engine/classes/reclass.js';
import type { Config } from '../../engine/config/config.js';
import { systemClock, type Clock } from '../../engine/core/clock.js';
import { hashForUrl, isHash } from '../../engine/core/hash.js';
import { HAND_CLASSES, type HandClass } from '../../engine/core/image-class.js';
import { treeTmpDir } from '../../engine/tree/tree.js';
import { AtomicWriter } from '../../spool/atomic.js';
import { SELF } from '../../spool/owner.js';
import { Spool } from '../../spool/spool.js';
import { UsageError } from '../cli-config.js';

/**
 * `imagesys classify <url|hash> <placeholder|photo>`: an operator's class for an image. It is kept
 * apart from the manifest (engine/classes/hand-set.ts), by hash, so it wins whenever the image is
 * made again, in any country; and it is written at once into the manifest wherever the image is in
 * the tree (of the countries given), under the image's claim, and sent to the frontends by the next sweep.
 */
export async function classifyCommand(config: Config, countries: string[], target: string, value: string, clock: Clock = systemClock): Promise<number> {
  if (!HAND_CLASSES.includes(value as HandClass)) throw new UsageError(`classify: the class is one of ${HAND_CLASSES.join(', ')}, not ${JSON.stringify(value)}`);
  const hand = value as HandClass;
  const hash = isHash(target) ? target : hashForUrl(target);
  const writer = new AtomicWriter(treeTmpDir(config.tree), config.fsync);
  const spool = new Spool({ root: config.spool, fsync: config.fsync, staleMs: config.claims.staleMs, clock });
  const now = new Date(clock());
  await setHandClass(config.tree, writer, hash, hand, now);
  const counter = new ClassCounter(classifyCountsPath(config.tree, SELF.host), writer, (error) => {
    throw error;
  });
  await counter.load();
  const updated: string[] = [];
  const busy: string[] = [];
  try {
    for (const country of countries) {
      const done = await reclassImage({ tree: config.tree, spool, writer }, country, hash, () => ({ class: hand, humanClassified: true }), now);
      if (done === 'busy') busy.push(country);
      if (typeof done === 'object') {
        updated.push(country);
        counter.moved(done.to, done.from);
      }
    }
    await counter.flush();
  } finally {
    await spool.close();
  }
  const where = [
    updated.length > 0 ? `its manifest updated in ${updated.join(', ')}` : '',
    busy.length > 0 ? `being made in ${busy.join(', ')}: it takes the class then` : '',
    updated.length + busy.length === 0 ? `not in the tree of ${countries.join(', ')}: it takes the class when it is made` : '',
  ].filter(Boolean);
  console.error(`classify: ${hash} is ${hand}, set by hand; ${where.join('; ')}`);
  return 0;
}

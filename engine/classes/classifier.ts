/**
 * Classes the images the engine makes (image-class.ts decides; this does the reading and writing):
 * before the manifest is written, `decide` looks up the pictures that look the same and the class an
 * operator set; after, `record` lists the image in the index, reclasses the others of its datasource
 * when it made their picture a placeholder (their manifests rewritten), and counts.
 */
import type { AtomicWriter } from '../../spool/atomic.js';
import { ownerTag, SELF } from '../../spool/owner.js';
import { manifestPath, readManifest, type Manifest } from '../tree/tree.js';
import { ClassCounter } from './class-counts.js';
import { handSetClass } from './hand-set.js';
import { decideClass, type Decision, type ImageClass, type IndexEntry } from './image-class.js';
import { countsDir, phashDir } from './layout.js';
import { PhashIndex } from './phash-index.js';
import { join } from 'node:path';

export interface ClassifierSettings {
  placeholderUrls: number;
  distance: number;
}

/** The image being made: what the index and the decision need of it. */
export interface ImageToClass {
  country: string;
  hash: string;
  datasource?: string;
}

export interface PendingClass extends Decision {
  entry: IndexEntry;
  /** Already in the index (the same URL made again). */
  listed: boolean;
  /** Its class before, when it is made again. */
  before?: ImageClass;
}

export class Classifier {
  private readonly index: PhashIndex;
  private readonly counter: ClassCounter;

  constructor(
    private readonly tree: string,
    private readonly settings: ClassifierSettings,
    private readonly writer: AtomicWriter,
  ) {
    const host = SELF.host;
    this.index = new PhashIndex(phashDir(tree), host);
    this.counter = new ClassCounter(join(countsDir(tree), `${ownerTag(SELF)}.json`), writer);
  }

  /** The class of an image about to be written. */
  async decide(image: ImageToClass, phash: string): Promise<PendingClass> {
    const entry: IndexEntry = { phash, country: image.country, hash: image.hash, datasource: image.datasource ?? '' };
    const [alike, handSet, previous] = [await this.index.near(phash, this.settings.distance), await handSetClass(this.tree, image.hash), await readManifest(this.tree, image.country, image.hash)];
    const listed = alike.some((e) => e.country === entry.country && e.hash === entry.hash);
    return { ...decideClass(entry, alike, this.settings, handSet), entry, listed, ...(previous?.class ? { before: previous.class } : {}) };
  }

  /** After the image's manifest is written: the index, the others reclassed, the counts. */
  async record(pending: PendingClass): Promise<void> {
    const { classification, entry } = pending;
    // a placeholder's picture is known already by the entries that made it one: its buckets stay small
    if (!pending.listed && classification.class !== 'placeholder') await this.index.add(entry);
    this.counter.moved(classification.class, pending.before);
    for (const other of pending.reclass) await this.reclass(other.country, other.hash, 'placeholder');
  }

  /** Rewrites an image's manifest with a new class (not one an operator set), if it is in the tree. */
  private async reclass(country: string, hash: string, to: ImageClass): Promise<void> {
    const manifest = await readManifest(this.tree, country, hash);
    if (!manifest || manifest.humanClassified || manifest.class === to) return;
    const { duplicateOf: _dropped, ...rest } = manifest;
    const updated: Manifest = { ...rest, class: to };
    try {
      await this.writer.write(manifestPath(this.tree, country, hash), `${JSON.stringify(updated, null, 2)}\n`, { mustExist: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // purged meanwhile
      throw error;
    }
    this.counter.moved(to, manifest.class);
  }

  /** Writes the counts (at the engine's stop). */
  close(): Promise<void> {
    return this.counter.flush();
  }
}

/**
 * Classes the images the engine makes (engine/core/image-class.ts decides; this reads and writes):
 * before the manifest is written, `decide` looks up the pictures that look the same, the class an
 * operator set and what the image was before; after, `record` lists the image in the index, reclasses
 * the others of its datasource when it made their picture a placeholder, and counts.
 */
import { randomBytes } from 'node:crypto';
import type { Spool } from '../../spool/spool.js';
import type { AtomicWriter } from '../../spool/atomic.js';
import { ownerTag, SELF } from '../../spool/owner.js';
import { hammingDistance } from '../../workers/perceptual-hash.js';
import { decideClass, isCanaryImage, type Decision, type ManifestClass, type IndexEntry } from '../core/image-class.js';
import { readManifest } from '../tree/tree.js';
import { ClassCounter } from './class-counts.js';
import { handSetClass } from './hand-set.js';
import { phashDir, runCountsPath } from './layout.js';
import { PhashIndex } from './phash-index.js';
import { classificationOf, reclassImage } from './reclass.js';

export interface ClassifierSettings {
  placeholderUrls: number;
  distance: number;
  /** `canary.country`: its canaries are classed `canary`, never looked up nor listed. */
  canaryCountry: string;
}

/** The image being made: what the index and the decision need of it. */
export interface ImageToClass {
  country: string;
  hash: string;
  datasource?: string;
  /** Made again on purpose: only then can it have a manifest already (the processor touches, not makes, an image in the tree). */
  refresh?: boolean;
}

export interface PendingClass extends Decision {
  entry: IndexEntry;
  /** Its class before, when it is made again. */
  before?: ManifestClass;
}

export interface ClassifierDeps {
  tree: string;
  spool: Spool;
  writer: AtomicWriter;
  settings: ClassifierSettings;
  clock: () => number;
  /** A count that could not be written, a neighbour that could not be reclassed: logged, the image goes on. */
  warn: (error: unknown, what: string) => void;
}

export class Classifier {
  private readonly index: PhashIndex;
  private readonly counter: ClassCounter;

  constructor(private readonly deps: ClassifierDeps) {
    this.index = new PhashIndex(phashDir(deps.tree), SELF.host);
    this.counter = new ClassCounter(runCountsPath(deps.tree, ownerTag(SELF), randomBytes(4).toString('hex')), deps.writer, (error) => deps.warn(error, 'class counts'));
  }

  /** The class of an image about to be written. */
  async decide(image: ImageToClass, phash: string): Promise<PendingClass> {
    const { tree, settings } = this.deps;
    const entry: IndexEntry = { phash, country: image.country, hash: image.hash, datasource: image.datasource ?? '' };
    if (isCanaryImage(image, settings.canaryCountry)) return { classification: { class: 'canary', humanClassified: false }, reclass: [], list: false, entry };
    const [alike, handSet, before] = await Promise.all([
      this.index.near(phash, settings.distance),
      handSetClass(tree, image.hash),
      image.refresh ? readManifest(tree, image.country, image.hash) : undefined,
    ]);
    const classification = before && classificationOf(before);
    const previous = classification && { classification, samePicture: before.phash !== undefined && hammingDistance(before.phash, phash) <= settings.distance };
    return { ...decideClass(entry, alike, settings, handSet, previous), entry, ...(classification ? { before: classification.class } : {}) };
  }

  /** After the image's manifest is written: the index, the others reclassed, the counts. */
  async record(pending: PendingClass): Promise<void> {
    const { classification, entry } = pending;
    if (classification.class === 'canary') return; // not an image of the website's: never listed
    if (pending.list) await this.index.add(entry);
    this.counter.moved(classification.class, pending.before);
    for (const other of pending.reclass) {
      try {
        await this.reclassOther(other);
      } catch (error) {
        this.deps.warn(error, `reclassing ${other.country}/${other.hash}`);
      }
    }
  }

  /** Another image of the picture becomes a placeholder, unless an operator said otherwise or its picture changed since it was listed. */
  private async reclassOther(other: IndexEntry): Promise<void> {
    const { tree, spool, writer, settings } = this.deps;
    const done = await reclassImage({ tree, spool, writer }, other.country, other.hash, (manifest) => {
      if (manifest.humanClassified || manifest.class === 'placeholder') return undefined;
      if (manifest.phash === undefined || hammingDistance(manifest.phash, other.phash) > settings.distance) return undefined;
      return { class: 'placeholder', humanClassified: false };
    }, new Date(this.deps.clock()));
    if (typeof done === 'object') this.counter.moved(done.to, done.from);
  }

  /** Writes the counts (at the engine's stop). */
  close(): Promise<void> {
    return this.counter.flush();
  }
}

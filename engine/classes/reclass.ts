/**
 * Changing the class of an image already in the tree (the classifier reclassing the earlier copies
 * of a stock picture; an operator's `imagesys classify`): its manifest rewritten under the image's
 * claim, so no engine making it at the same time is overwritten with stale sizes, and a job put in
 * thumbed/ so the sweeper sends the new manifest to the frontends.
 */
import type { AtomicWriter } from '../../spool/atomic.js';
import { isMissing } from '../../spool/atomic.js';
import { newJob } from '../../spool/job.js';
import type { Spool } from '../../spool/spool.js';
import { toResend } from '../../spool/transitions.js';
import { hashForUrl } from '../core/hash.js';
import type { Classification, ManifestClass } from '../core/image-class.js';
import { manifestPath, readManifest, type Manifest } from '../tree/tree.js';

/** `manifest` with another class (a duplicate's link goes unless it stays a duplicate). Pure. */
export function withClass(manifest: Manifest, classification: Classification): Manifest {
  const { duplicateOf: _old, class: _class, humanClassified: _human, ...rest } = manifest;
  const { class: value, humanClassified, duplicateOf } = classification;
  return { ...rest, class: value, humanClassified, ...(duplicateOf ? { duplicateOf } : {}) };
}

/** What a manifest says of its image's class; undefined for one made before classes were. Pure. */
export function classificationOf(manifest: Manifest): Classification | undefined {
  if (!manifest.class) return undefined;
  return { class: manifest.class, humanClassified: manifest.humanClassified ?? false, ...(manifest.duplicateOf ? { duplicateOf: manifest.duplicateOf } : {}) };
}

export interface TreeAndSpool {
  tree: string;
  spool: Spool;
  writer: AtomicWriter;
}

export type Reclassed = { from: ManifestClass | undefined; to: ManifestClass } | 'busy' | 'absent' | 'unchanged';

/**
 * Rewrites the manifest of `country`/`hash` with what `change` makes of it (undefined: leave it).
 * 'busy' when another process holds the image (it is being made: it is classed then), 'absent' when
 * it is not in the tree.
 */
export async function reclassImage(where: TreeAndSpool, country: string, hash: string, change: (manifest: Manifest) => Classification | undefined, now: Date): Promise<Reclassed> {
  const claim = await where.spool.claimJob(country, hash);
  if (!claim) return 'busy';
  try {
    const manifest = await readManifest(where.tree, country, hash);
    if (!manifest) return 'absent';
    const next = change(manifest);
    if (!next) return 'unchanged';
    try {
      await where.writer.write(manifestPath(where.tree, country, hash), `${JSON.stringify(withClass(manifest, next), null, 2)}\n`, { mustExist: true });
    } catch (error) {
      if (isMissing(error)) return 'absent'; // purged meanwhile
      throw error;
    }
    // the job the sweeper sends it by; a URL whose credentials the manifest dropped hashes otherwise: its image goes with its next making
    if (hashForUrl(manifest.url) === hash) {
      await toResend(where.spool, newJob({ url: manifest.url, country, ...(manifest.datasource ? { datasource: manifest.datasource } : {}) }, now), claim);
    }
    return { from: manifest.class, to: next.class };
  } finally {
    await claim.release();
  }
}

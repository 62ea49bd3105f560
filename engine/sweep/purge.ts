import { readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isMissing } from '../../spool/atomic.js';
import { dayOf, daysBefore, markersOf, pruneDay, removeMarker } from '../../spool/expiry.js';
import type { Spool } from '../../spool/spool.js';
import { manifestPath, manifestRelPath } from '../tree/tree.js';
import { queueDeletion } from './outbox.js';

export interface PurgeReport {
  /** Markers looked at: the images last refreshed on the expired days. */
  checked: number;
  purged: number;
  days: number;
}

export interface PurgeContext {
  spool: Spool;
  tree: string;
  countries: readonly string[];
  targets: readonly string[];
}

/**
 * Purges images not refreshed since `cutoff`. Candidates are the expiry index's markers on the days
 * before the cutoff's day. Each is looked at under its job's claim (the engine touches and remakes
 * images under the same claim) and purged only if its manifest is really older than the cutoff;
 * otherwise its marker moves to the day of its manifest's mtime. Every target gets the deletion in its
 * backlog first, then the local files go (manifest first: a reader never sees a manifest without its
 * files).
 */
export async function purge(context: PurgeContext, cutoff: Date, onProgress: (report: PurgeReport) => void = () => {}): Promise<PurgeReport> {
  const report: PurgeReport = { checked: 0, purged: 0, days: 0 };
  let busy = false;
  for (const day of await daysBefore(context.spool.root, dayOf(cutoff))) {
    for (const country of context.countries) {
      for await (const hash of markersOf(context.spool.root, day, country)) {
        report.checked++;
        const outcome = await purgeImage(context, country, hash, cutoff);
        if (outcome === 'busy') {
          busy = true; // being worked on: look again next time
          continue;
        }
        if (outcome === 'purged') report.purged++;
        else if (outcome instanceof Date && dayOf(outcome) !== day) await context.spool.expiry.record(country, hash, outcome);
        await removeMarker(context.spool.root, day, country, hash);
      }
    }
    if (!busy) await pruneDay(context.spool.root, day, context.countries);
    report.days++;
    onProgress(report);
  }
  return report;
}

/**
 * Removes an image's files from the local tree and hands their deletion to every target's backlog
 * (first, so that a crash between the two leaves the targets to be cleaned, not a copy forgotten
 * there). The caller holds the image's claim.
 */
export async function removeImage(context: Omit<PurgeContext, 'countries'>, country: string, hash: string): Promise<'purged' | 'gone'> {
  const dir = dirname(manifestPath(context.tree, country, hash));
  // every file of the image: what its directory holds under its hash (the manifest may be damaged,
  // or gone already after a crash in the middle of an earlier purge)
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.startsWith(`${hash}.`));
  } catch (error) {
    if (isMissing(error)) return 'gone';
    throw error;
  }
  if (names.length === 0) return 'gone';
  const manifest = manifestRelPath(country, hash);
  const relDir = dirname(manifest);
  const paths = [manifest, ...names.map((name) => `${relDir}/${name}`).filter((p) => p !== manifest)];
  await queueDeletion(context.spool.writer, context.spool.root, context.targets, country, hash, paths);
  for (const path of paths) {
    await unlink(join(context.tree, path)).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }
  return 'purged';
}

/** 'purged', 'busy', 'gone', or the manifest's mtime when the image is still fresh. */
async function purgeImage(context: PurgeContext, country: string, hash: string, cutoff: Date): Promise<'purged' | 'busy' | 'gone' | Date> {
  const claim = await context.spool.claimJob(country, hash);
  if (!claim) return 'busy';
  try {
    let mtime: Date | undefined;
    try {
      mtime = (await stat(manifestPath(context.tree, country, hash))).mtime;
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    if (mtime && mtime.getTime() >= cutoff.getTime()) return mtime;
    return await removeImage(context, country, hash);
  } finally {
    await claim.release();
  }
}

import { readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AtomicWriter } from '../../spool/atomic.js';
import { isMissing } from '../../spool/atomic.js';
import { dayOf, daysBefore, markersOf, pruneDay, removeMarker } from '../../spool/expiry.js';
import { manifestPath, manifestRelPath } from '../tree.js';
import { queueDeletion } from './outbox.js';

export interface PurgeReport {
  /** Index entries looked at: proportional to what was made or refreshed on the expired days. */
  checked: number;
  purged: number;
  days: number;
}

/**
 * Purges images not refreshed since `cutoff`. Candidates are the expiry index's markers on the days
 * before the cutoff's day; each is purged only if its manifest's mtime is really older than the
 * cutoff. Every target gets the deletion in its backlog first, then the local files go (manifest
 * first, so a reader never sees a manifest without its files).
 */
export async function purge(
  spool: string,
  tree: string,
  countries: readonly string[],
  targets: readonly string[],
  writer: AtomicWriter,
  cutoff: Date,
  onProgress: (report: PurgeReport) => void = () => {},
): Promise<PurgeReport> {
  const report: PurgeReport = { checked: 0, purged: 0, days: 0 };
  for (const day of await daysBefore(spool, dayOf(cutoff))) {
    for (const country of countries) {
      for await (const hash of markersOf(spool, day, country)) {
        report.checked++;
        if (await purgeImage(spool, tree, targets, writer, country, hash, cutoff)) report.purged++;
        // purged, or refreshed since (its marker lives on a later day), or gone: done with this one
        await removeMarker(spool, day, country, hash);
      }
    }
    await pruneDay(spool, day, countries);
    report.days++;
    onProgress(report);
  }
  return report;
}

async function purgeImage(spool: string, tree: string, targets: readonly string[], writer: AtomicWriter, country: string, hash: string, cutoff: Date): Promise<boolean> {
  let mtime: number;
  try {
    mtime = (await stat(manifestPath(tree, country, hash))).mtimeMs;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
  if (mtime >= cutoff.getTime()) return false;
  // every file of the image: what its directory holds under its hash (the manifest may be damaged)
  const dir = dirname(manifestPath(tree, country, hash));
  const names = (await readdir(dir)).filter((name) => name.startsWith(`${hash}.`));
  const manifest = manifestRelPath(country, hash);
  const relDir = dirname(manifest);
  const paths = [manifest, ...names.map((name) => `${relDir}/${name}`).filter((p) => p !== manifest)];
  await queueDeletion(writer, spool, targets, country, hash, paths);
  for (const path of paths) {
    await unlink(join(tree, path)).catch((error) => {
      if (!isMissing(error)) throw error;
    });
  }
  return true;
}

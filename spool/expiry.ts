/**
 * The expiry index: for every image, one empty marker named after it in the directory of the day it
 * was last made or refreshed, `spool/.expiry/<yyyy-mm-dd>/<cc>/<hash>`. A refresh moves the marker to
 * today. Purge then reads only the days before its cutoff, and finds there exactly the images not
 * refreshed since: work proportional to what expires, not to the size of the tree. (Markers cost an
 * inode per image in the spool's file system.)
 */
import { entriesOf } from './dirs.js';
import { mkdir, rmdir, unlink } from 'node:fs/promises';
import { isMissing } from './atomic.js';
import { touchEmpty } from './fs-calls.js';
import { expiryDayDir, expiryDir, markerPath } from './layout.js';

export { expiryDir, markerPath } from './layout.js';

/** The UTC day of a moment: the index's directory name. Pure. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const HASH_PATTERN = /^[0-9a-f]{32}$/;


export class ExpiryIndex {
  private readonly madeDirs = new Set<string>();

  constructor(private readonly spool: string) {}

  /**
   * Marks an image as made or refreshed at `at`; `previous` (its files' mtime before a refresh) names
   * the day whose marker it leaves. A marker left behind elsewhere only costs purge one look.
   */
  async record(country: string, hash: string, at: Date, previous?: Date): Promise<void> {
    const day = dayOf(at);
    const dir = expiryDayDir(this.spool, day, country);
    if (!this.madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    await touchEmpty(markerPath(this.spool, day, country, hash)); // open and close: no write of nothing
    if (previous && dayOf(previous) !== day) {
      await unlink(markerPath(this.spool, dayOf(previous), country, hash)).catch((error: unknown) => {
        if (!isMissing(error)) throw error;
      });
    }
  }
}

/** Days in the index strictly before `day`, oldest first. */
export async function daysBefore(spool: string, day: string): Promise<string[]> {
  const days: string[] = [];
  for await (const entry of entriesOf(expiryDir(spool))) if (DAY_PATTERN.test(entry.name) && entry.name < day) days.push(entry.name);
  return days.sort();
}

/** The markers of one day and country, streamed. */
export async function* markersOf(spool: string, day: string, country: string): AsyncGenerator<string> {
  for await (const entry of entriesOf(expiryDayDir(spool, day, country))) if (HASH_PATTERN.test(entry.name)) yield entry.name;
}

export async function removeMarker(spool: string, day: string, country: string, hash: string): Promise<void> {
  await unlink(markerPath(spool, day, country, hash)).catch((error: unknown) => {
    if (!isMissing(error)) throw error;
  });
}

/** Removes a day's directories once they are empty. */
export async function pruneDay(spool: string, day: string, countries: readonly string[]): Promise<void> {
  for (const country of countries) await rmdir(expiryDayDir(spool, day, country)).catch(() => {});
  await rmdir(expiryDayDir(spool, day)).catch(() => {});
}

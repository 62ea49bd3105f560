import { entriesOf } from './dirs.js';
import { rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isMissing } from './atomic.js';
import { GONE_SUFFIX, LOCK_SUFFIX, removeLock, tokenOf } from './claims.js';
import { ORIGINAL_SUFFIX, JOB_SUFFIX, stateDir, stripSuffix } from './layout.js';
import { isOwnerDead, parseOwnerTag } from './owner.js';

/** A temporary file lives for milliseconds; one this old belongs to a writer that is gone. */
export const ABANDONED_TMP_MS = 60 * 60 * 1000;

/**
 * Removes temporaries left by writers that died: at once for dead processes of this host, after an
 * hour for others (another host's engine may still be writing). Returns how many were removed.
 * `now` is the file system's time (Spool.fsTime), as the temporaries' mtimes are: a host whose clock
 * runs an hour ahead must not take a live writer's temporary for an abandoned one. null (the file
 * system's time could not be read: it takes no write) removes only those of dead writers of this host.
 */
export async function removeStrayTemporaries(tmpDir: string, now: number | null): Promise<number> {
  let removed = 0;
  for await (const entry of entriesOf(tmpDir)) {
    const path = join(tmpDir, entry.name);
    const owner = parseOwnerTag(entry.name);
    let abandoned = owner !== undefined && isOwnerDead(owner);
    if (!abandoned && now !== null) {
      try {
        abandoned = now - (await stat(path)).mtimeMs > ABANDONED_TMP_MS;
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
    }
    if (abandoned) {
      await unlink(path).catch(() => {});
      removed++;
    }
  }
  return removed;
}

/**
 * Originals in downloaded/ whose job is no longer there (it was moved away by an operator, or the
 * engine died between two steps) are removed. Returns how many.
 */
export async function removeOrphanOriginals(spool: string, country: string): Promise<number> {
  const dirPath = stateDir(spool, 'downloaded', country);
  let removed = 0;
  for await (const entry of entriesOf(dirPath)) {
    if (!entry.name.endsWith(ORIGINAL_SUFFIX)) continue;
    const hash = stripSuffix(entry.name, ORIGINAL_SUFFIX);
    try {
      await stat(join(dirPath, `${hash}${JOB_SUFFIX}`));
    } catch (error) {
      if (!isMissing(error)) throw error;
      await unlink(join(dirPath, entry.name)).catch(() => {});
      removed++;
    }
  }
  return removed;
}

/**
 * Claims left by engines that died after their last move (the job is done, nobody will claim it
 * again) are removed once stale: a live claim is refreshed every staleMs/4. `now` is the file system's
 * time (Spool.fsTime), the one the refreshes stamp. Each goes as a takeover does (claims.ts), so a
 * claim made meanwhile is never removed. Leftovers of a takeover or release cut short go too.
 * Returns how many claims were removed.
 */
export async function removeStaleLocks(locks: string, staleMs: number, now: number): Promise<number> {
  let removed = 0;
  for await (const entry of entriesOf(locks)) {
    const path = join(locks, entry.name);
    const lock = entry.name.endsWith(LOCK_SUFFIX);
    if (!lock && !entry.name.endsWith(GONE_SUFFIX)) continue;
    try {
      const info = await stat(path);
      if (now - info.mtimeMs <= staleMs) continue;
      if (!lock) {
        await rm(path, { recursive: true, force: true });
      } else if (await removeLock(path, { ino: info.ino, token: await tokenOf(path) })) {
        removed++;
      }
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
  return removed;
}

/**
 * What each target still has to receive, kept in the spool as files (laid out in spool/sweep-layout.ts):
 * a hard link to a thumbed job per target to send its image, a note of paths to delete there, and a
 * mark per thumbed job handed to every target. A thumbed job leaves the spool when its only links are itself and the fanned mark, that is when
 * every target has it. Work is proportional to what changed, never to the size of the tree.
 */
import { readOwnText } from '../../spool/safe-open.js';
import { entriesOf } from '../../spool/dirs.js';
import { link, lstat, mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import type { AtomicWriter } from '../../spool/atomic.js';
import type { Spool } from '../../spool/spool.js';
import { isMissing } from '../../spool/atomic.js';
import { JOB_SUFFIX, entryPath, isVisible, stateDir, stripSuffix } from '../../spool/layout.js';
import { fannedDir, fannedMarkOf, fannedMarkPath, outboxDir, outboxEntryPath, PURGE_SUFFIX, purgeNotePath, seededMarkPath } from '../../spool/sweep-layout.js';
import { release } from '../../spool/transitions.js';
import { LIMITS } from '../../spool/limits.js';
import { kindOf, readRegular } from '../../spool/safe-open.js';
import { setAside } from '../../spool/set-aside.js';
import { isHash } from '../core/hash.js';

export { outboxDir, PURGE_SUFFIX, sweepDir } from '../../spool/sweep-layout.js';

async function isUnchanged(job: string): Promise<boolean> {
  try {
    const read = await readRegular(job, LIMITS.jobFileBytes);
    return 'text' in read && (JSON.parse(read.text) as { unchanged?: unknown }).unchanged === true;
  } catch {
    return false;
  }
}

/** Why an entry of thumbed/ cannot be a job of the tree (a poison pill), or undefined. Pure. */
function notAJob(hash: string, node: Node): string | undefined {
  if (!isHash(hash)) return 'not a job of the tree: its name is not <32 hex digits>.job';
  return node.regular ? undefined : `not a job of the tree: ${node.kind}`;
}

/** Whether a target of this name was ever seeded with the whole tree of this country. */
export async function isSeeded(spool: string, target: string, country: string): Promise<boolean> {
  return stat(seededMarkPath(spool, target, country)).then(() => true, () => false);
}

export async function markSeeded(spool: string, target: string, country: string, at: Date): Promise<void> {
  await mkdir(outboxDir(spool, target, country), { recursive: true });
  await writeFile(seededMarkPath(spool, target, country), `${at.toISOString()}\n`);
}

/** False when the source is gone (the job left thumbed/ meanwhile). */
async function linkIfAbsent(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
  } catch (error) {
    if (isMissing(error)) return false;
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return true;
}

interface Node {
  ino: number;
  nlink: number;
  regular: boolean;
  kind: string;
}

/** What is at `path` itself (a link is not followed), or undefined when nothing is. */
async function inode(path: string): Promise<Node | undefined> {
  try {
    const s = await lstat(path);
    return { ino: s.ino, nlink: s.nlink, regular: s.isFile(), kind: kindOf(s) };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** True while a configured target's backlog still holds this job. */
async function waitingFor(spool: string, targets: readonly string[], country: string, name: string): Promise<boolean> {
  for (const target of targets) if (await inode(outboxEntryPath(spool, target, country, name))) return true;
  return false;
}

export interface FanOutResult {
  handed: number;
  /** Entries of thumbed/ that are not jobs, set aside in failed/ (`thumbed/<cc>/<name>: reason`). */
  setAside: string[];
}

/**
 * Hands every thumbed job not yet handed out to every target. An entry that is not a job (a name that
 * is not a hash, a link, a FIFO) is set aside in failed/ with its reason and the rest goes on.
 */
export async function fanOut(owner: Spool, country: string, targets: readonly string[]): Promise<FanOutResult> {
  const spool = owner.root;
  let handed = 0;
  const setAsideHere: string[] = [];
  const thumbed = stateDir(spool, 'thumbed', country);
  for (const target of targets) await mkdir(outboxDir(spool, target, country), { recursive: true });
  await mkdir(fannedDir(spool, country), { recursive: true });
  for await (const entry of entriesOf(thumbed)) {
    if (!isVisible(entry.name, JOB_SUFFIX)) continue;
    const hash = stripSuffix(entry.name, JOB_SUFFIX);
    const job = entryPath(spool, 'thumbed', country, entry.name);
    const mark = fannedMarkOf(spool, country, hash);
    const [jobNode, markNode] = await Promise.all([inode(job), inode(mark)]);
    if (!jobNode) continue;
    const poison = notAJob(hash, jobNode);
    if (poison) {
      if (await setAside(owner, 'thumbed', country, entry.name, poison)) setAsideHere.push(`thumbed/${country}/${entry.name}: ${poison}`);
      continue;
    }
    if (markNode?.ino === jobNode.ino) continue; // handed out already
    if (await isUnchanged(job)) {
      // only refreshed (its files' mtimes): every target has this image already
      await release(owner, country, hash, jobNode.ino);
      continue;
    }
    if (markNode) await unlink(mark).catch(() => {}); // a new version of the image: hand it out again
    let present = true;
    for (const target of targets) present &&= await linkIfAbsent(job, outboxEntryPath(spool, target, country, entry.name));
    if (present && (await linkIfAbsent(job, mark))) handed++;
  }
  return { handed, setAside: setAsideHere };
}

/**
 * Thumbed jobs every configured target has received leave the spool (under their claim: the engine may
 * be moving one back to incoming/); marks of jobs that left thumbed/ otherwise are dropped. A backlog
 * left by a target no longer configured holds nothing back. Returns how many left.
 */
export async function releaseDelivered(owner: Spool, country: string, targets: readonly string[]): Promise<number> {
  const spool = owner.root;
  let released = 0;
  for await (const entry of entriesOf(fannedDir(spool, country))) {
    const mark = fannedMarkPath(spool, country, entry.name);
    const job = entryPath(spool, 'thumbed', country, entry.name);
    const [markNode, jobNode] = await Promise.all([inode(mark), inode(job)]);
    if (!markNode) continue;
    if (jobNode?.ino !== markNode.ino) {
      await unlink(mark).catch(() => {});
      continue;
    }
    if (markNode.nlink > 2 && (await waitingFor(spool, targets, country, entry.name))) continue;
    const outcome = await release(owner, country, stripSuffix(entry.name, JOB_SUFFIX), markNode.ino);
    if (outcome === 'busy') continue;
    if (outcome === 'released') released++;
    await unlink(mark).catch(() => {});
  }
  return released;
}

/**
 * Records, for every target, that an image's paths must be deleted there (added to any deletion of
 * the same image that is still waiting). `writer` must write into the spool's file system.
 */
export async function queueDeletion(writer: AtomicWriter, spool: string, targets: readonly string[], country: string, hash: string, paths: string[]): Promise<void> {
  for (const target of targets) {
    const path = purgeNotePath(spool, target, country, hash);
    const waiting = await readOwnText(path).then((text) => JSON.parse(text ?? '[]') as string[]).catch(() => [] as string[]);
    await writer.write(path, `${JSON.stringify([...new Set([...paths, ...waiting])])}\n`);
  }
}

export interface OutboxEntry {
  country: string;
  hash: string;
  kind: 'send' | 'delete';
  path: string;
}

/** Up to `limit` entries of a target's backlog, for the countries given. */
export async function backlog(spool: string, target: string, countries: readonly string[], limit: number): Promise<OutboxEntry[]> {
  const out: OutboxEntry[] = [];
  for (const country of countries) {
    for await (const entry of entriesOf(outboxDir(spool, target, country))) {
      const path = outboxEntryPath(spool, target, country, entry.name);
      const kind = isVisible(entry.name, JOB_SUFFIX) ? 'send' : isVisible(entry.name, PURGE_SUFFIX) ? 'delete' : undefined;
      if (!kind) continue;
      const hash = stripSuffix(entry.name, kind === 'send' ? JOB_SUFFIX : PURGE_SUFFIX);
      if (!isHash(hash)) {
        // handed out before fanOut knew to refuse it: only a link or a note of the backlog, dropped
        await unlink(path).catch(() => {});
        continue;
      }
      out.push({ country, hash, kind, path });
      if (out.length >= limit) return out;
    }
  }
  return out;
}

export async function countBacklog(spool: string, target: string, countries: readonly string[]): Promise<number> {
  let count = 0;
  for (const country of countries) {
    for await (const entry of entriesOf(outboxDir(spool, target, country))) if (isVisible(entry.name, JOB_SUFFIX) || isVisible(entry.name, PURGE_SUFFIX)) count++;
  }
  return count;
}

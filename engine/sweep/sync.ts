import { readOwnText } from '../../spool/safe-open.js';
import { access, mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SweepTarget } from '../config/targets.js';
import { manifestRelPath, type Manifest } from '../tree/tree.js';
import { sweepListsDir } from '../../spool/sweep-layout.js';
import { backlog, isSeeded, markSeeded, type OutboxEntry } from './outbox.js';
import { readTargetRecord } from './target-status.js';
import { rsyncReason, rsyncSucceeded, runRsync, seedArgs, sendListArgs, type RsyncOptions } from './rsync.js';

export interface SyncReport {
  target: string;
  /** Images sent and deleted in this run. */
  sent: number;
  deleted: number;
  /** True when the target was seeded and its backlog is empty at the end. */
  level: boolean;
  error?: string;
  /** Not yet sent the whole tree once (new to the sweeper, or its seeding failed). */
  seeding: boolean;
}

/** The countries of `countries` a target has not yet been seeded with. */
export async function unseededCountries(spool: string, target: string, countries: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const country of countries) if (!(await isSeeded(spool, target, country))) out.push(country);
  return out;
}

/**
 * A target new to the sweeper (no seeded mark for a country: added, or renamed) first receives the
 * whole tree of those countries, in one rsync walk per pass; what was handed out before it existed
 * is then there too. The marks are written once both passes succeeded. A target the sweeper has a
 * record of (it synced before seeding existed) has had everything through its backlog: it is only
 * marked. Returns why seeding failed, if it did.
 */
export async function seedTarget(spool: string, tree: string, target: SweepTarget, countries: readonly string[], options: RsyncOptions, say: (line: string) => void, began: Date): Promise<string | undefined> {
  const unseeded = await unseededCountries(spool, target.name, countries);
  if (unseeded.length === 0) return undefined;
  const record = await readTargetRecord(spool, target.name);
  if (record && record.seeding !== true) {
    // a record from before seeding existed: everything was handed to it through its backlog
    for (const country of unseeded) await markSeeded(spool, target.name, country, began);
    return undefined;
  }
  say(`sync: ${target.name}: new to the sweeper: seeding it with the whole tree of ${unseeded.join(', ')}`);
  const watchdogMs = 24 * 3_600_000; // a walk of millions of files; rsync's own --timeout catches a stall
  for (const pass of ['files', 'manifests'] as const) {
    const result = await runRsync(options.rsync, seedArgs(tree, target, unseeded, pass, options), watchdogMs);
    if (!rsyncSucceeded(result)) return `seeding ${target.name} failed (${pass}): ${rsyncReason(result)}`;
  }
  for (const country of unseeded) await markSeeded(spool, target.name, country, began);
  return undefined;
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/**
 * Splits the paths of a chunk into two rsync runs so that a manifest never arrives before its files
 * and never outlives them: first the files to send and the manifests to delete, then the manifests
 * to send and the files to delete. Presence in the local tree decides send or delete. Pure.
 */
export function phases(paths: ReadonlyArray<{ path: string; present: boolean }>): { first: string[]; second: string[] } {
  const first: string[] = [];
  const second: string[] = [];
  for (const { path, present } of paths) {
    const manifest = path.endsWith('.json');
    (manifest === present ? second : first).push(path);
  }
  return { first, second };
}

interface Planned {
  entry: OutboxEntry;
  paths: Array<{ path: string; present: boolean }>;
  /** For a send: the manifest as read when the lists were made. */
  manifestText?: string;
}

function parseManifest(text: string): Manifest | undefined {
  try {
    const manifest = JSON.parse(text) as Manifest;
    return Array.isArray(manifest.sizes) ? manifest : undefined;
  } catch {
    return undefined;
  }
}

async function plan(tree: string, entry: OutboxEntry): Promise<Planned> {
  if (entry.kind === 'send') {
    const rel = manifestRelPath(entry.country, entry.hash);
    const text = await readOwnText(join(tree, rel)).catch(() => undefined);
    const manifest = text === undefined ? undefined : parseManifest(text);
    if (!manifest || text === undefined) return { entry, paths: [] }; // purged, damaged or being remade: nothing to send
    return { entry, paths: [...manifest.sizes.map((s) => ({ path: s.path, present: true })), { path: rel, present: true }], manifestText: text };
  }
  return { entry, paths: await deletionPaths(tree, entry) };
}

async function deletionPaths(tree: string, entry: OutboxEntry): Promise<Array<{ path: string; present: boolean }>> {
  let listed: string[];
  try {
    listed = JSON.parse((await readOwnText(entry.path)) ?? '') as string[];
  } catch {
    listed = [manifestRelPath(entry.country, entry.hash)];
  }
  return Promise.all(listed.map(async (path) => ({ path, present: await exists(join(tree, path)) })));
}

/**
 * Brings one target level with its backlog, a chunk at a time. A chunk's entries are removed only
 * after both of its rsync runs succeeded; a failure stops this target (its backlog waits for the next
 * run) without touching the others.
 */
export async function syncTarget(spool: string, tree: string, target: SweepTarget, countries: readonly string[], options: RsyncOptions & { batchSize: number }): Promise<SyncReport> {
  const report: SyncReport = { target: target.name, sent: 0, deleted: 0, level: false, seeding: false };
  const lists = sweepListsDir(spool);
  await mkdir(lists, { recursive: true });
  const watchdogMs = (options.timeoutSeconds * 4 + options.connectTimeoutSeconds) * 1000 + 60_000;
  for (;;) {
    const chunk = await backlog(spool, target.name, countries, options.batchSize);
    if (chunk.length === 0) {
      report.level = true;
      return report;
    }
    const planned = await Promise.all(chunk.map((entry) => plan(tree, entry)));
    const { first, second } = phases(planned.flatMap((p) => p.paths));
    const keep = new Set<OutboxEntry>();
    for (const [label, list] of [['files', first], ['manifests', second]] as const) {
      if (label === 'manifests') {
        // an image remade while its files were sent: its new manifest may list files not sent yet, so it
        // stays out of this run and its entry stays for the next
        for (const p of planned) {
          if (p.manifestText === undefined) continue;
          const rel = manifestRelPath(p.entry.country, p.entry.hash);
          if ((await readOwnText(join(tree, rel)).catch(() => undefined)) === p.manifestText) continue;
          keep.add(p.entry);
          const at = list.indexOf(rel);
          if (at >= 0) list.splice(at, 1);
        }
      }
      if (list.length === 0) continue;
      const listFile = join(lists, `${target.name}.${process.pid}.${label}`);
      await writeFile(listFile, list.join('\0'));
      const result = await runRsync(options.rsync, sendListArgs(tree, target, listFile, options), watchdogMs);
      await unlink(listFile).catch(() => {});
      if (!rsyncSucceeded(result)) {
        report.error = `rsync to ${target.name} failed (${label}): ${rsyncReason(result)}`;
        return report;
      }
    }
    for (const entry of chunk) {
      if (keep.has(entry)) continue;
      await unlink(entry.path).catch(() => {});
      if (entry.kind === 'send') report.sent++;
      else report.deleted++;
    }
  }
}

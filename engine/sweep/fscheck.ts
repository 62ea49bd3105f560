/**
 * fs-check: manifests against files in the local tree, then the local tree against every target;
 * with repair, makes them agree. This is the one sweeper task that walks the whole tree.
 */
import fg from 'fast-glob';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { AtomicWriter } from '../../spool/atomic.js';
import type { Spool } from '../../spool/spool.js';
import type { SweepTarget } from '../config/targets.js';
import { isHash } from '../core/hash.js';
import type { Manifest } from '../tree/tree.js';
import { queueDeletion } from './outbox.js';
import { commonArgs, destRoot, rsyncReason, rsyncSucceeded, runRsync, type RsyncOptions } from './rsync.js';

export interface Difference {
  kind: 'missing' | 'extra' | 'differs' | 'corrupt';
  path: string;
}

export interface CheckReport {
  /** 'local' or a target's name. */
  where: string;
  country: string;
  differences: Difference[];
  repaired: boolean;
  error?: string;
}

interface ImageFiles {
  manifest?: string;
  others: string[];
}

/** The tree's files of one country, grouped by image hash. */
async function imagesOf(tree: string, country: string): Promise<Map<string, ImageFiles>> {
  const images = new Map<string, ImageFiles>();
  const stream = fg.stream(`${country}/*/*/*`, { cwd: tree, onlyFiles: true, dot: false });
  for await (const entry of stream) {
    const path = String(entry);
    const hash = basename(path).split('.')[0]!;
    if (!isHash(hash)) continue;
    const image = images.get(hash) ?? { others: [] };
    if (path.endsWith(`${hash}.json`)) image.manifest = path;
    else image.others.push(path);
    images.set(hash, image);
  }
  return images;
}

/** A manifest that parses and whose listed files exist with their sizes; else what is wrong. */
async function validate(tree: string, manifestPath: string): Promise<{ ok: true; manifest: Manifest } | { ok: false; differences: Difference[] }> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(tree, manifestPath), 'utf8')) as Manifest;
    if (!Array.isArray(manifest.sizes)) throw new Error('no sizes');
  } catch {
    return { ok: false, differences: [{ kind: 'corrupt', path: manifestPath }] };
  }
  const differences: Difference[] = [];
  for (const size of manifest.sizes) {
    try {
      if ((await stat(join(tree, size.path))).size !== size.bytes) differences.push({ kind: 'differs', path: size.path });
    } catch {
      differences.push({ kind: 'missing', path: size.path });
    }
  }
  return differences.length === 0 ? { ok: true, manifest } : { ok: false, differences };
}

export interface CheckContext {
  spool: Spool;
  tree: string;
  targets: readonly SweepTarget[];
  /** Writes into the tree. */
  writer: AtomicWriter;
  rsync: RsyncOptions;
  repair: boolean;
}

/** Local check of one country; with repair, damaged images are fetched back from a target or removed. */
export async function checkLocal(context: CheckContext, country: string): Promise<CheckReport> {
  const report: CheckReport = { where: 'local', country, differences: [], repaired: false };
  const suspects: string[] = [];
  for (const [hash, files] of await imagesOf(context.tree, country)) {
    const differences = await problemsOf(context.tree, files);
    if (differences.length === 0) continue;
    report.differences.push(...differences);
    suspects.push(hash);
  }
  if (!context.repair || suspects.length === 0) return report;
  let unrepaired = 0;
  for (const hash of suspects) if (!(await repairImage(context, country, hash))) unrepaired++;
  report.repaired = unrepaired === 0;
  if (unrepaired > 0) report.error = `${unrepaired} image(s) left as they are: busy, or no target could be asked`;
  return report;
}

/** What is wrong with one image's files: an extra file, a manifest missing or corrupt, a file missing or of the wrong size. */
async function problemsOf(tree: string, files: ImageFiles): Promise<Difference[]> {
  if (!files.manifest) return files.others.map((path) => ({ kind: 'extra' as const, path }));
  const result = await validate(tree, files.manifest);
  if (!result.ok) return result.differences;
  const listed = new Set(result.manifest.sizes.map((s) => s.path));
  return files.others.filter((path) => !listed.has(path)).map((path) => ({ kind: 'extra' as const, path }));
}

/** One image's files, read again (under its claim). */
async function filesOf(tree: string, country: string, hash: string): Promise<ImageFiles> {
  const rel = `${country}/${hash.slice(0, 2)}/${hash.slice(2, 4)}`;
  const files: ImageFiles = { others: [] };
  for (const name of await readdir(join(tree, rel)).catch(() => [] as string[])) {
    if (!name.startsWith(`${hash}.`)) continue;
    if (name === `${hash}.json`) files.manifest = `${rel}/${name}`;
    else files.others.push(`${rel}/${name}`);
  }
  return files;
}

/**
 * Repairs one image under its job's claim (the engine writes images under the same claim), after
 * looking at it again. A valid manifest with extra files: the extras go. Otherwise the image is fetched
 * back from the first target whose copy is complete; only if every target answered and none had it is
 * it removed everywhere (it is made again when it is listed again). False when left as it is.
 */
async function repairImage(context: CheckContext, country: string, hash: string): Promise<boolean> {
  const claim = await context.spool.claimJob(country, hash);
  if (!claim) return false;
  try {
    const files = await filesOf(context.tree, country, hash);
    const problems = await problemsOf(context.tree, files);
    if (problems.length === 0) return true;
    if (files.manifest && problems.every((p) => p.kind === 'extra')) {
      for (const p of problems) await rm(join(context.tree, p.path), { force: true });
      return true;
    }
    const rel = `${country}/${hash.slice(0, 2)}/${hash.slice(2, 4)}`;
    let answered = 0;
    for (const target of context.targets) {
      const scratch = await mkdtemp(join(tmpdir(), 'imagesys-repair-'));
      try {
        await mkdir(join(scratch, rel), { recursive: true });
        const pull = await runRsync(context.rsync.rsync, ['--recursive', '--times', ...commonArgs(target, context.rsync), '--include', `${hash}.*`, '--exclude', '*', `${destRoot(target)}${rel}/`, `${scratch}/${rel}/`], 120_000);
        if (!rsyncSucceeded(pull)) continue;
        answered++;
        const result = await validate(scratch, `${rel}/${hash}.json`);
        if (!result.ok) continue;
        const sizes = result.manifest.sizes.map((s) => s.path);
        await context.writer.writeAll(await Promise.all(sizes.map(async (path) => ({ path: join(context.tree, path), data: await readFile(join(scratch, path)) }))));
        await context.writer.write(join(context.tree, `${rel}/${hash}.json`), await readFile(join(scratch, `${rel}/${hash}.json`)));
        for (const path of files.others) if (!sizes.includes(path)) await rm(join(context.tree, path), { force: true });
        await context.spool.expiry.record(country, hash, context.spool.now());
        return true;
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    }
    if (answered < context.targets.length) return false;
    const all = [`${rel}/${hash}.json`, ...files.others];
    await queueDeletion(context.spool.writer, context.spool.root, context.targets.map((t) => t.name), country, hash, all);
    for (const path of all) await rm(join(context.tree, path), { force: true });
    return true;
  } finally {
    await claim.release();
  }
}

/** rsync's itemized dry run of local vs target, read as differences. Pure. */
export function parseItemized(output: string): Difference[] {
  const differences: Difference[] = [];
  for (const line of output.split('\n')) {
    const deleting = /^\*deleting\s+(.+)$/.exec(line);
    if (deleting) {
      if (!deleting[1]!.endsWith('/')) differences.push({ kind: 'extra', path: deleting[1]! });
      continue;
    }
    const item = /^([<>ch.])f(\S{9})\s+(.+)$/.exec(line);
    if (!item) continue;
    const flags = item[2]!;
    if (flags.startsWith('+')) differences.push({ kind: 'missing', path: item[3]! });
    else if (flags.startsWith('c') || flags[1] === 's') differences.push({ kind: 'differs', path: item[3]! });
  }
  return differences;
}

/** One target against the local tree for one country (checksums compared); with repair, made equal. */
export async function checkTarget(context: CheckContext, target: SweepTarget, country: string): Promise<CheckReport> {
  const report: CheckReport = { where: target.name, country, differences: [], repaired: false };
  const base = ['--recursive', '--links', '--times', '--omit-dir-times', '--checksum', '--delete', '--exclude', '.~tmp~/', ...commonArgs(target, context.rsync)];
  const from = `${context.tree.replace(/\/+$/, '')}/${country}/`;
  const to = `${destRoot(target)}${country}/`;
  const watchdogMs = (context.rsync.timeoutSeconds * 4 + context.rsync.connectTimeoutSeconds) * 1000 + 300_000;
  const dry = await runRsync(context.rsync.rsync, ['--dry-run', '--itemize-changes', ...base, from, to], watchdogMs);
  if (!rsyncSucceeded(dry)) {
    report.error = `cannot compare with ${target.name}: ${rsyncReason(dry)}`;
    return report;
  }
  report.differences = parseItemized(dry.stdout);
  if (!context.repair || report.differences.length === 0) return report;
  const fix = await runRsync(context.rsync.rsync, ['--delay-updates', ...base, from, to], watchdogMs);
  if (!rsyncSucceeded(fix)) {
    report.error = `repair of ${target.name} failed: ${rsyncReason(fix)}`;
    return report;
  }
  report.repaired = true;
  return report;
}

/**
 * `npm run bench:sweep [-- --small] [--keep] [--trace]`
 *
 * Does the sweeper's cost follow what is new, not the size of the tree? Three real rsync daemons on
 * loopback (n1, n2, n3) stand for the frontends. For a tree (and every daemon's copy) of 10,000 and
 * then 100,000 images it times:
 *   sync   sweep({sync}) delivering 1,000 new images (thumbed jobs) to the three daemons
 *   purge  sweep({purge}) expiring 1,000 images: local removal plus deletions delivered to the daemons
 * Target (the issue): the 100k figure at most 1.5 x the 10k figure.
 *
 * Trees are made of fake images written straight to disk (no sharp): a small `<hash>.thumb.webp` and a
 * valid manifest each; the daemons' copies are hard links of the tree's files (same inode, so the same
 * mtime: rsync's quick check sees them equal). The 100k tree extends the 10k one. Only the sweep calls
 * are timed. Each sweep's progress lines are time-stamped to split it into its parts (fan-out, the
 * targets' deliveries, release; purge's local part). `--trace` also wraps rsync to time every run.
 *
 * `--small`: 1,000 / 10,000 image trees. `--keep`: leave the temporary directory. `--repeat N`: N passes
 * (sync then purge, which brings the tree back to its size) per tree, the median reported.
 * `--fsync false`: the sweeps without fsync (diagnosis; production's default is true).
 * Progress goes to stderr; a table and then, last, one JSON line go to stdout.
 * The expiry index is written in whichever format the engine's spool/expiry.js has (see MARKERS).
 */
import { execFile } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';
import { DEFAULT_CONFIG, parseConfig, type Config } from '../engine/config/config.js';
import { hashForUrl } from '../engine/core/hash.js';
import { sweep, type SweepResult } from '../engine/sweep/sweep.js';
import type { Manifest } from '../engine/tree/tree.js';
import * as expiry from '../spool/expiry.js';
import { dayOf, expiryDir } from '../spool/expiry.js';
import { encodeJob, newJob } from '../spool/job.js';
import { rsyncDaemon, type RsyncDaemon } from '../test/support/rsyncd.js';

const execFileAsync = promisify(execFile);

const COUNTRY = 'uk';
const NEW_IMAGES = 1_000;
const PURGED_IMAGES = 1_000;
const TARGET_RATIO = 1.5;
const PROGRESS_EVERY = 10_000;
const DAY_MS = 86_400_000;

const progress = (text: string): void => void process.stderr.write(`bench:sweep: ${text}\n`);
const seconds = (fromMs: number, toMs: number): number => (toMs - fromMs) / 1000;

function round(value: number | null, digits = 3): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function fmt(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

// ---------------------------------------------------------------------------------------------
// fake images, straight to disk

interface Bench {
  dir: string;
  spool: string;
  tree: string;
  daemons: RsyncDaemon[];
  /** Indices of the images in the tree (image i is http://bench.example/<i>.jpg). */
  present: number[];
  next: number;
  /** Directories known to exist, per root (tree and every daemon's data). */
  made: Set<string>;
}

/**
 * The expiry index's format, read off the engine's own module: one empty marker per image,
 * `.expiry/<day>/<cc>/<hash>` (markersOf), or appended lines `<cc> <hash>` in `.expiry/<day>/<writer>.log`.
 */
const MARKERS = typeof (expiry as unknown as Record<string, unknown>).markersOf === 'function';
const EXPIRED_DAY = '2000-01-01';

/** Index entries for images made or refreshed on `day`, in the engine's format. */
function indexImages(bench: Bench, day: string, hashes: readonly string[]): void {
  const dir = join(expiryDir(bench.spool), day);
  // (not cached in bench.made: purge removes a day's directories once it is done)
  mkdirSync(MARKERS ? join(dir, COUNTRY) : dir, { recursive: true });
  if (MARKERS) {
    for (const hash of hashes) writeFileSync(join(dir, COUNTRY, hash), '');
  } else {
    appendFileSync(join(dir, 'bench.log'), hashes.map((hash) => `${COUNTRY} ${hash}\n`).join(''));
  }
}

/** Moves images' index entries to an expired day (markers leave their current day; lines just add). */
function expireInIndex(bench: Bench, hashes: readonly string[]): void {
  if (MARKERS) {
    for (const day of readdirSync(expiryDir(bench.spool))) {
      if (day === EXPIRED_DAY) continue;
      for (const hash of hashes) rmSync(join(expiryDir(bench.spool), day, COUNTRY, hash), { force: true });
    }
  }
  indexImages(bench, EXPIRED_DAY, hashes);
}

const urlOf = (i: number): string => `http://bench.example/${i}.jpg`;
const dirOf = (hash: string): string => `${COUNTRY}/${hash.slice(0, 2)}/${hash.slice(2, 4)}`;
const manifestRel = (hash: string): string => `${dirOf(hash)}/${hash}.json`;
const thumbRel = (hash: string): string => `${dirOf(hash)}/${hash}.thumb.webp`;

function ensureDir(bench: Bench, dir: string): void {
  if (bench.made.has(dir)) return;
  mkdirSync(dir, { recursive: true });
  bench.made.add(dir);
}

/** A few hundred bytes that look a little like a WebP; any content would do. */
function fakeWebp(hash: string): Buffer {
  const body = Buffer.alloc(200 + parseInt(hash.slice(0, 2), 16), hash);
  const header = Buffer.from('RIFF\0\0\0\0WEBPVP8 ', 'latin1');
  header.writeUInt32LE(body.length + 8, 4);
  return Buffer.concat([header, body]);
}

function manifestOf(i: number, hash: string, thumbBytes: number, at: Date): Manifest {
  return {
    version: 1,
    url: urlOf(i),
    hash,
    country: COUNTRY,
    sizes: [{ name: 'thumb', format: 'webp', width: 120, height: 90, bytes: thumbBytes, path: thumbRel(hash) }],
    source: { width: 640, height: 480, format: 'jpeg', bytes: 50_000 },
    digest: createHash('sha256').update(urlOf(i)).digest('hex'),
    processing: { ...DEFAULT_CONFIG.thumbnails.process },
    createdAt: at.toISOString(),
  };
}

/**
 * Writes `count` new images into the tree; with `mirror`, hard-links their files into every daemon's
 * copy too (already delivered), else leaves a thumbed job for each (new: the sweeper's to deliver).
 * Returns the new images' indices.
 */
function addImages(bench: Bench, count: number, mirror: boolean, label: string): number[] {
  const added: number[] = [];
  const hashes: string[] = [];
  const at = new Date();
  const thumbed = join(bench.spool, 'thumbed', COUNTRY);
  if (!mirror) ensureDir(bench, thumbed);
  const started = performance.now();
  for (let n = 0; n < count; n++) {
    const i = bench.next++;
    const hash = hashForUrl(urlOf(i));
    const webp = fakeWebp(hash);
    ensureDir(bench, join(bench.tree, dirOf(hash)));
    writeFileSync(join(bench.tree, thumbRel(hash)), webp);
    writeFileSync(join(bench.tree, manifestRel(hash)), `${JSON.stringify(manifestOf(i, hash, webp.length, at))}\n`);
    if (mirror) {
      for (const daemon of bench.daemons) {
        ensureDir(bench, join(daemon.data, dirOf(hash)));
        linkSync(join(bench.tree, thumbRel(hash)), join(daemon.data, thumbRel(hash)));
        linkSync(join(bench.tree, manifestRel(hash)), join(daemon.data, manifestRel(hash)));
      }
    } else {
      writeFileSync(join(thumbed, `${hash}.job`), encodeJob(newJob({ url: urlOf(i), country: COUNTRY }, at)));
    }
    added.push(i);
    hashes.push(hash);
    bench.present.push(i);
    if ((n + 1) % PROGRESS_EVERY === 0 || n + 1 === count) {
      progress(`${label}: ${n + 1}/${count} images (${bench.present.length} in the tree), ${seconds(started, performance.now()).toFixed(1)} s`);
    }
  }
  // the engine records every image it makes in the expiry index
  indexImages(bench, dayOf(at), hashes);
  return added;
}

// ---------------------------------------------------------------------------------------------
// the timed sweeps

interface Stamp {
  ms: number;
  line: string;
}

interface Timed {
  seconds: number;
  /** 1-minute load average when the sweep started (the machine is shared: a hint at noise). */
  load: number;
  result: SweepResult;
  stamps: Stamp[];
}

async function timedSweep(config: Config, what: 'sync' | 'purge'): Promise<Timed> {
  // the preparation's dirty data goes to disk first (not timed): else the sweep's first fsyncs pay
  // for writing back the whole freshly built tree (ext4 commits the journal as a whole)
  const flushed = performance.now();
  await execFileAsync('sync');
  progress(`  (sync(1) before the sweep: ${seconds(flushed, performance.now()).toFixed(1)} s, not timed)`);
  const stamps: Stamp[] = [];
  const load = loadavg()[0] ?? 0;
  const started = performance.now();
  const say = (line: string): void => {
    const ms = performance.now() - started;
    stamps.push({ ms, line });
    progress(`  +${(ms / 1000).toFixed(3)} s ${line}`);
  };
  const result = await sweep(config, { sync: what === 'sync', purge: what === 'purge', fsCheck: false, repair: false, countries: [COUNTRY], say });
  const ms = performance.now() - started;
  stamps.push({ ms, line: 'done' });
  return { seconds: ms / 1000, load, result, stamps };
}

interface Breakdown {
  /** purge: reading the index, checking and removing locally, queueing deletions. */
  local_s: number | null;
  /** sync: handing the new jobs to every target. */
  fanout_s: number | null;
  /** The three deliveries run in parallel: the slowest, and each one's. */
  deliver_s: number | null;
  per_target_s: Record<string, number>;
  /** sync/purge: releasing delivered jobs (and the sweep's tail). */
  release_s: number | null;
}

/** Splits a sweep by its time-stamped progress lines. */
function breakdown(timed: Timed, names: readonly string[]): Breakdown {
  const at = (pattern: RegExp): number | undefined => timed.stamps.filter((s) => pattern.test(s.line)).map((s) => s.ms).pop();
  const end = timed.stamps[timed.stamps.length - 1]!.ms;
  const fanned = at(/^sync: \d+ new image/);
  const purged = at(/^purge: \d+ day\(s\) read/) ?? (timed.result.purge ? at(/^purge: images not refreshed/) : undefined);
  const per: Record<string, number> = {};
  let firstStart = Infinity;
  let lastEnd = 0;
  for (const name of names) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const from = at(new RegExp(`^sync: ${escaped}: \\d+ to deliver`));
    const to = at(new RegExp(`^sync: ${escaped}: \\d+ sent`));
    if (from === undefined || to === undefined) continue;
    per[name] = round(seconds(from, to))!;
    firstStart = Math.min(firstStart, from);
    lastEnd = Math.max(lastEnd, to);
  }
  const deliverStart = fanned ?? purged ?? 0;
  return {
    local_s: purged === undefined ? null : round(purged / 1000),
    fanout_s: fanned === undefined ? null : round(fanned / 1000),
    deliver_s: lastEnd > 0 ? round(seconds(Math.min(deliverStart, firstStart), lastEnd)) : null,
    per_target_s: per,
    release_s: lastEnd > 0 ? round(seconds(lastEnd, end)) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// checks

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function checkSync(bench: Bench, timed: Timed, added: number[]): void {
  const r = timed.result;
  check(r.handedOut === added.length, `handed out ${r.handedOut}, expected ${added.length}`);
  for (const t of r.targets) check(t.level && t.sent === added.length && !t.error, `${t.target}: level ${t.level}, sent ${t.sent}${t.error ? `, ${t.error}` : ''}`);
  check(r.released === added.length, `released ${r.released}, expected ${added.length}`);
  for (const daemon of bench.daemons) {
    let missing = 0;
    for (const i of added) {
      const hash = hashForUrl(urlOf(i));
      if (!existsSync(join(daemon.data, manifestRel(hash))) || !existsSync(join(daemon.data, thumbRel(hash)))) missing++;
    }
    check(missing === 0, `${daemon.name}: ${missing} of the ${added.length} new images missing`);
  }
}

function checkPurge(bench: Bench, timed: Timed, purged: number[]): void {
  const r = timed.result;
  check(r.purge?.purged === purged.length, `purged ${r.purge?.purged}, expected ${purged.length}`);
  for (const t of r.targets) check(t.level && t.deleted === purged.length && !t.error, `${t.target}: level ${t.level}, deleted ${t.deleted}${t.error ? `, ${t.error}` : ''}`);
  for (const root of [bench.tree, ...bench.daemons.map((d) => d.data)]) {
    let left = 0;
    for (const i of purged) {
      const hash = hashForUrl(urlOf(i));
      if (existsSync(join(root, manifestRel(hash))) || existsSync(join(root, thumbRel(hash)))) left++;
    }
    check(left === 0, `${root}: ${left} of the ${purged.length} purged images still there`);
  }
  const keep = bench.present[Math.floor(bench.present.length / 2)];
  check(keep !== undefined, 'images remain in the tree');
  const keepHash = hashForUrl(urlOf(keep!));
  for (const root of [bench.tree, bench.daemons[0]!.data]) check(existsSync(join(root, manifestRel(keepHash))), `${root}: image ${keep} should remain`);
}

// ---------------------------------------------------------------------------------------------
// one tree size

interface CaseResult {
  images: number;
  build_s: number;
  /** Every repetition's sweep; `sync` and `purge` are the median ones. */
  syncs: Timed[];
  purges: Timed[];
  sync: Timed;
  syncParts: Breakdown;
  purge: Timed;
  purgeParts: Breakdown;
  rsyncRuns: RsyncRun[];
}

interface RsyncRun {
  sweep: 'sync' | 'purge';
  target: string;
  label: string;
  seconds: number;
  code: number;
}

/** The median run (the lower one of an even count). */
function median(runs: readonly Timed[]): Timed {
  return [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor((runs.length - 1) / 2)]!;
}

async function runCase(bench: Bench, config: Config, size: number, repeat: number, trace: string | undefined): Promise<CaseResult> {
  const names = config.sweep.targets.map((t) => t.name);
  const portToName = new Map(config.sweep.targets.map((t) => [new URL(t.dest).port, t.name]));
  const readTrace = (sweepName: 'sync' | 'purge'): RsyncRun[] => {
    if (!trace || !existsSync(trace)) return [];
    const runs = readFileSync(trace, 'utf8').split('\n').filter(Boolean).map((line): RsyncRun => {
      const [start, end, code, ...args] = line.split(' ');
      const dest = args.find((a) => a.startsWith('rsync://')) ?? '';
      const list = args[args.indexOf('--files-from') + 1] ?? '';
      return { sweep: sweepName, target: portToName.get(new URL(dest || 'rsync://x/').port) ?? '?', label: list.split('.').pop() ?? '?', seconds: round(Number(end) - Number(start))!, code: Number(code) };
    });
    writeFileSync(trace, '');
    return runs;
  };

  progress(`--- ${size} image tree ---`);
  const buildStart = performance.now();
  const want = size - bench.present.length;
  if (want > 0) addImages(bench, want, true, `tree to ${size}`);
  const build_s = seconds(buildStart, performance.now());
  progress(`tree of ${bench.present.length} images (and its three copies) built in ${build_s.toFixed(1)} s`);

  const syncs: Timed[] = [];
  const purges: Timed[] = [];
  const rsyncRuns: RsyncRun[] = [];
  for (let pass = 1; pass <= repeat; pass++) {
    if (repeat > 1) progress(`pass ${pass}/${repeat}`);
    // sync: 1,000 new images, thumbed
    const added = addImages(bench, NEW_IMAGES, false, 'new images');
    progress(`sweep --sync: ${added.length} new images into a ${size} image tree`);
    const sync = await timedSweep(config, 'sync');
    syncs.push(sync);
    checkSync(bench, sync, added);
    progress(`sweep --sync: ${sync.seconds.toFixed(3)} s, checked: every daemon has the ${added.length} new images`);
    rsyncRuns.push(...readTrace('sync'));

    // purge: 1,000 images last refreshed 60 days ago, listed on an expired day of the index
    const stride = Math.max(1, Math.floor(bench.present.length / PURGED_IMAGES));
    const purged: number[] = [];
    for (let k = 0; k < bench.present.length && purged.length < PURGED_IMAGES; k += stride) purged.push(bench.present[k]!);
    const longAgo = new Date(Date.now() - 60 * DAY_MS);
    const purgedHashes: string[] = [];
    for (const i of purged) {
      const hash = hashForUrl(urlOf(i));
      for (const rel of [thumbRel(hash), manifestRel(hash)]) {
        utimesSync(join(bench.tree, rel), longAgo, longAgo);
        for (const daemon of bench.daemons) check(existsSync(join(daemon.data, rel)), `${daemon.name} has ${rel} before the purge`);
      }
      purgedHashes.push(hash);
    }
    expireInIndex(bench, purgedHashes);
    const purgedSet = new Set(purged);
    bench.present = bench.present.filter((i) => !purgedSet.has(i));
    progress(`sweep --purge: ${purged.length} expired images in a ${size + NEW_IMAGES} image tree`);
    const purge = await timedSweep(config, 'purge');
    purges.push(purge);
    checkPurge(bench, purge, purged);
    check(!existsSync(join(expiryDir(bench.spool), EXPIRED_DAY)), `the expired day ${EXPIRED_DAY} is done (its index entries gone)`);
    progress(`sweep --purge: ${purge.seconds.toFixed(3)} s, checked: gone here and on every daemon, others remain`);
    rsyncRuns.push(...readTrace('purge'));
  }
  const sync = median(syncs);
  const purge = median(purges);
  return { images: size, build_s, syncs, purges, sync, syncParts: breakdown(sync, names), purge, purgeParts: breakdown(purge, names), rsyncRuns };
}

// ---------------------------------------------------------------------------------------------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      small: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
      fsync: { type: 'string', default: 'true' },
    },
    strict: true,
  });
  const sizes = values.small ? [1_000, 10_000] : [10_000, 100_000];
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new Error(`--repeat wants a whole number 1-20, not ${values.repeat}`);
  if (values.fsync !== 'true' && values.fsync !== 'false') throw new Error(`--fsync wants true or false, not ${values.fsync}`);
  const fsync = values.fsync === 'true';
  const dir = await mkdtemp(join(tmpdir(), 'imagesys-bench-sweep-'));
  progress(`temporary directory ${dir}${values.keep ? ' (kept)' : ''}`);
  progress(`expiry index format: ${MARKERS ? 'one marker file per image (.expiry/<day>/<cc>/<hash>)' : 'log lines (.expiry/<day>/<writer>.log)'}`);
  const bench: Bench = { dir, spool: join(dir, 'spool'), tree: join(dir, 'tree'), daemons: [], present: [], next: 0, made: new Set() };
  const stopAll = async (): Promise<void> => {
    for (const daemon of bench.daemons) await daemon.stop().catch(() => {});
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping the rsync daemons`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const cases: CaseResult[] = [];
  let failure: unknown;
  try {
    mkdirSync(bench.spool, { recursive: true });
    mkdirSync(bench.tree, { recursive: true });
    for (const name of ['n1', 'n2', 'n3']) bench.daemons.push(await rsyncDaemon(name, join(dir, 'daemons')));
    progress(`rsync daemons: ${bench.daemons.map((d) => `${d.name} ${d.url}`).join(', ')}`);

    let rsync = DEFAULT_CONFIG.sweep.rsync;
    let trace: string | undefined;
    if (values.trace) {
      // a wrapper that logs each run's start, end, exit code and arguments
      trace = join(dir, 'rsync-trace.log');
      rsync = join(dir, 'rsync-traced');
      writeFileSync(rsync, `#!/bin/sh\ns=$(date +%s.%N)\nrsync "$@"\nrc=$?\necho "$s $(date +%s.%N) $rc $*" >> '${trace}'\nexit $rc\n`);
      chmodSync(rsync, 0o755);
    }
    // fsync as in production (the default) unless --fsync false: building the trees does not go through the config
    const config = parseConfig({
      fsync,
      spool: bench.spool,
      tree: bench.tree,
      countries: [COUNTRY],
      sweep: { targets: bench.daemons.map((d) => ({ name: d.name, dest: d.url })), timeoutSeconds: 60, purgeAfterDays: 30, rsync },
    });

    for (const size of sizes) cases.push(await runCase(bench, config, size, repeat, trace));
  } catch (error) {
    failure = error;
  } finally {
    await stopAll();
    progress('rsync daemons stopped');
    if (!values.keep) {
      const started = performance.now();
      await execFileAsync('rm', ['-rf', dir]).catch((error: Error) => progress(`could not remove ${dir}: ${error.message}`));
      progress(`removed ${dir} in ${seconds(started, performance.now()).toFixed(1)} s`);
    }
  }
  if (failure) throw failure;

  const [small, large] = cases as [CaseResult, CaseResult];
  const syncRatio = large.sync.seconds / small.sync.seconds;
  const purgeRatio = large.purge.seconds / small.purge.seconds;
  const label = (n: number): string => (n >= 1000 ? `${n / 1000}k` : `${n}`);

  const rows: string[][] = [['tree', 'images', 'build s', 'sync s', 'fan-out s', 'deliver s', 'n1/n2/n3 s', 'release s', 'purge s', 'local s', 'deliver s', 'n1/n2/n3 s']];
  for (const c of cases) {
    const per = (b: Breakdown): string => ['n1', 'n2', 'n3'].map((n) => fmt(b.per_target_s[n])).join('/');
    rows.push([
      label(c.images), String(c.images), fmt(c.build_s, 1),
      fmt(c.sync.seconds, 3), fmt(c.syncParts.fanout_s, 3), fmt(c.syncParts.deliver_s, 3), per(c.syncParts), fmt(c.syncParts.release_s, 3),
      fmt(c.purge.seconds, 3), fmt(c.purgeParts.local_s, 3), fmt(c.purgeParts.deliver_s, 3), per(c.purgeParts),
    ]);
  }
  rows.push(['ratio', '', '', fmt(syncRatio), '', '', '', '', fmt(purgeRatio), '', '', '']);
  const runsOf = (runs: readonly Timed[]): string => runs.map((t) => `${t.seconds.toFixed(2)} s (load ${t.load.toFixed(1)})`).join(', ');
  process.stdout.write(`sweep: ${NEW_IMAGES} new images synced / ${PURGED_IMAGES} images purged, three rsync daemons on loopback\n`);
  process.stdout.write(`${table(rows)}\n`);
  process.stdout.write(`figures: ${repeat > 1 ? `median of ${repeat} passes` : 'one pass'}; parts from each sweep's progress lines (deliveries run in parallel)\n`);
  for (const c of cases) process.stdout.write(`  ${label(c.images)}: sync ${runsOf(c.syncs)}; purge ${runsOf(c.purges)}\n`);
  process.stdout.write(`target: 100k figure <= ${TARGET_RATIO} x 10k figure: sync ${syncRatio <= TARGET_RATIO ? 'met' : 'NOT met'} (${fmt(syncRatio)}), purge ${purgeRatio <= TARGET_RATIO ? 'met' : 'NOT met'} (${fmt(purgeRatio)})\n`);
  if (values.trace) {
    const traceRows: string[][] = [['tree', 'sweep', 'target', 'rsync run', 'seconds', 'exit']];
    for (const c of cases) for (const run of c.rsyncRuns) traceRows.push([label(c.images), run.sweep, run.target, run.label, fmt(run.seconds, 3), String(run.code)]);
    process.stdout.write(`\nrsync runs (--trace)\n${table(traceRows)}\n`);
  }

  const json = {
    sync_new_10k_tree_s: round(small.sync.seconds),
    sync_new_100k_tree_s: round(large.sync.seconds),
    purge_10k_tree_s: round(small.purge.seconds),
    purge_100k_tree_s: round(large.purge.seconds),
    sync_ratio: round(syncRatio),
    purge_ratio: round(purgeRatio),
    targets_met: { sync_ratio: syncRatio <= TARGET_RATIO, purge_ratio: purgeRatio <= TARGET_RATIO },
    small: values.small,
    fsync,
    expiry_index: MARKERS ? 'markers' : 'log',
    tree_images: sizes,
    new_images: NEW_IMAGES,
    purged_images: PURGED_IMAGES,
    repeat,
    sync_runs_s: cases.map((c) => c.syncs.map((t) => round(t.seconds))),
    purge_runs_s: cases.map((c) => c.purges.map((t) => round(t.seconds))),
    load_1min: cases.map((c) => [...c.syncs, ...c.purges].map((t) => round(t.load, 2))),
    build_s: cases.map((c) => round(c.build_s, 1)),
    breakdown: cases.map((c) => ({ images: c.images, sync: c.syncParts, purge: c.purgeParts })),
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
}

main().catch((error: unknown) => {
  progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});

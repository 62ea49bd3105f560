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
 * This file runs the cases and reports; the parts are in sweep/ (the fake tree, the timed sweeps,
 * their checks, one tree size's case).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, parseConfig } from '../engine/config/config.js';
import { systemClock } from '../engine/core/clock.js';
import { rsyncDaemon } from '../test/support/rsyncd.js';
import { fmt, labelThenNumbers, table } from './lib/format.js';
import { printJsonLine } from './lib/output.js';
import { round, secondsSince } from './lib/stats.js';
import { execFileAsync } from './lib/tool.js';
import { MARKERS } from './sweep/fake-tree.js';
import { runCase, type CaseResult } from './sweep/sweep-case.js';
import { COUNTRY, NEW_IMAGES, progress, PURGED_IMAGES, type Bench } from './sweep/sweep-bench.js';
import type { Breakdown, Timed } from './sweep/timed-sweep.js';

/** The issue's target: the 100k figure at most this many times the 10k figure. */
const TARGET_RATIO = 1.5;

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
  const bench: Bench = { dir, spool: join(dir, 'spool'), tree: join(dir, 'tree'), daemons: [], present: [], next: 0, made: new Set(), clock: systemClock };
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
  let failure: { error: unknown } | undefined;
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
    failure = { error };
  } finally {
    await stopAll();
    progress('rsync daemons stopped');
    if (!values.keep) {
      const started = performance.now();
      await execFileAsync('rm', ['-rf', dir]).catch((error: unknown) => progress(`could not remove ${dir}: ${(error as Error).message}`));
      progress(`removed ${dir} in ${secondsSince(started).toFixed(1)} s`);
    }
  }
  if (failure) throw failure.error;

  const [small, large] = cases as [CaseResult, CaseResult];
  const syncRatio = large.sync.seconds / small.sync.seconds;
  const purgeRatio = large.purge.seconds / small.purge.seconds;
  const label = (n: number): string => (n >= 1000 ? `${n / 1000}k` : `${n}`);

  const rows: string[][] = [['tree', 'images', 'build s', 'sync s', 'fan-out s', 'deliver s', 'n1/n2/n3 s', 'release s', 'purge s', 'local s', 'deliver s', 'n1/n2/n3 s']];
  for (const c of cases) {
    const per = (b: Breakdown): string => ['n1', 'n2', 'n3'].map((n) => fmt(b.per_target_s[n], 2)).join('/');
    rows.push([
      label(c.images), String(c.images), fmt(c.build_s, 1),
      fmt(c.sync.seconds, 3), fmt(c.syncParts.fanout_s, 3), fmt(c.syncParts.deliver_s, 3), per(c.syncParts), fmt(c.syncParts.release_s, 3),
      fmt(c.purge.seconds, 3), fmt(c.purgeParts.local_s, 3), fmt(c.purgeParts.deliver_s, 3), per(c.purgeParts),
    ]);
  }
  rows.push(['ratio', '', '', fmt(syncRatio, 2), '', '', '', '', fmt(purgeRatio, 2), '', '', '']);
  const runsOf = (runs: readonly Timed[]): string => runs.map((t) => `${t.seconds.toFixed(2)} s (load ${t.load.toFixed(1)})`).join(', ');
  process.stdout.write(`sweep: ${NEW_IMAGES} new images synced / ${PURGED_IMAGES} images purged, three rsync daemons on loopback\n`);
  process.stdout.write(`${table(rows, labelThenNumbers)}\n`);
  process.stdout.write(`figures: ${repeat > 1 ? `median of ${repeat} passes` : 'one pass'}; parts from each sweep's progress lines (deliveries run in parallel)\n`);
  for (const c of cases) process.stdout.write(`  ${label(c.images)}: sync ${runsOf(c.syncs)}; purge ${runsOf(c.purges)}\n`);
  process.stdout.write(`target: 100k figure <= ${TARGET_RATIO} x 10k figure: sync ${syncRatio <= TARGET_RATIO ? 'met' : 'NOT met'} (${fmt(syncRatio, 2)}), purge ${purgeRatio <= TARGET_RATIO ? 'met' : 'NOT met'} (${fmt(purgeRatio, 2)})\n`);
  if (values.trace) {
    const traceRows: string[][] = [['tree', 'sweep', 'target', 'rsync run', 'seconds', 'exit']];
    for (const c of cases) for (const run of c.rsyncRuns) traceRows.push([label(c.images), run.sweep, run.target, run.label, fmt(run.seconds, 3), String(run.code)]);
    process.stdout.write(`\nrsync runs (--trace)\n${table(traceRows, labelThenNumbers)}\n`);
  }

  const json = {
    sync_new_10k_tree_s: round(small.sync.seconds, 3),
    sync_new_100k_tree_s: round(large.sync.seconds, 3),
    purge_10k_tree_s: round(small.purge.seconds, 3),
    purge_100k_tree_s: round(large.purge.seconds, 3),
    sync_ratio: round(syncRatio, 3),
    purge_ratio: round(purgeRatio, 3),
    targets_met: { sync_ratio: syncRatio <= TARGET_RATIO, purge_ratio: purgeRatio <= TARGET_RATIO },
    small: values.small,
    fsync,
    expiry_index: MARKERS ? 'markers' : 'log',
    tree_images: sizes,
    new_images: NEW_IMAGES,
    purged_images: PURGED_IMAGES,
    repeat,
    sync_runs_s: cases.map((c) => c.syncs.map((t) => round(t.seconds, 3))),
    purge_runs_s: cases.map((c) => c.purges.map((t) => round(t.seconds, 3))),
    load_1min: cases.map((c) => [...c.syncs, ...c.purges].map((t) => round(t.load, 2))),
    build_s: cases.map((c) => round(c.build_s, 1)),
    breakdown: cases.map((c) => ({ images: c.images, sync: c.syncParts, purge: c.purgeParts })),
  };
  printJsonLine(json);
}

main().catch((error: unknown) => {
  progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});

/** One tree size: the tree grown to it, then `repeat` passes of a timed sync and a timed purge, checked. */
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../engine/config/config.js';
import { hashForUrl } from '../../engine/core/hash.js';
import { expiryDir } from '../../spool/expiry.js';
import { medianBy, round, secondsSince } from '../lib/stats.js';
import { check, checkPurge, checkSync } from './checks.js';
import { addImages, EXPIRED_DAY, expireInIndex } from './fake-tree.js';
import { manifestRel, NEW_IMAGES, progress, PURGED_IMAGES, thumbRel, urlOf, type Bench } from './sweep-bench.js';
import { breakdown, timedSweep, type Breakdown, type Timed } from './timed-sweep.js';

const DAY_MS = 86_400_000;

export interface CaseResult {
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

export interface RsyncRun {
  sweep: 'sync' | 'purge';
  target: string;
  label: string;
  seconds: number;
  code: number;
}

/** The median run (the lower one of an even count). */
const median = (runs: readonly Timed[]): Timed => medianBy(runs, (t) => t.seconds, 'lower');

export async function runCase(bench: Bench, config: Config, size: number, repeat: number, trace: string | undefined): Promise<CaseResult> {
  const names = config.sweep.targets.map((t) => t.name);
  const portToName = new Map(config.sweep.targets.map((t) => [new URL(t.dest).port, t.name]));
  const readTrace = (sweepName: 'sync' | 'purge'): RsyncRun[] => {
    if (!trace || !existsSync(trace)) return [];
    const runs = readFileSync(trace, 'utf8').split('\n').filter(Boolean).map((line): RsyncRun => {
      const [start, end, code, ...args] = line.split(' ');
      const dest = args.find((a) => a.startsWith('rsync://')) ?? '';
      const list = args[args.indexOf('--files-from') + 1] ?? '';
      return { sweep: sweepName, target: portToName.get(new URL(dest || 'rsync://x/').port) ?? '?', label: list.split('.').pop() ?? '?', seconds: round(Number(end) - Number(start), 3)!, code: Number(code) };
    });
    writeFileSync(trace, '');
    return runs;
  };

  progress(`--- ${size} image tree ---`);
  const buildStart = performance.now();
  const want = size - bench.present.length;
  if (want > 0) addImages(bench, want, true, `tree to ${size}`);
  const build_s = secondsSince(buildStart);
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
    const longAgo = new Date(bench.clock() - 60 * DAY_MS);
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

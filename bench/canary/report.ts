/** bench:canary's report: the table per round, the medians per mode, their ratios and the JSON line. Pure. */
import { availableParallelism, cpus } from 'node:os';
import { fmt, labelThenNumbers, table } from '../lib/format.js';
import { median, ratio, round } from '../lib/stats.js';
import { type Options } from './args.js';
import { type CanaryTally, type RoundResult } from './round.js';

export interface ModeFigures {
  imgPerSec: number;
  daemonMs: number;
  mainMs: number | null;
  rsyncMs: number | null;
  sweeperMs: number | null;
  spawns: number;
  faults: number;
}

export const medianOrNull = (values: ReadonlyArray<number | null>): number | null => (values.length > 0 && values.every((v) => v !== null) ? median(values, 'upper') : null);

/** The medians of a mode's rounds (the upper middle of an even count). Pure. */
export function mediansOf(rounds: readonly RoundResult[]): ModeFigures {
  return {
    imgPerSec: median(rounds.map((r) => r.imgPerSec), 'upper'),
    daemonMs: median(rounds.map((r) => r.cpu.daemonMs), 'upper'),
    mainMs: medianOrNull(rounds.map((r) => r.cpu.mainMs)),
    rsyncMs: medianOrNull(rounds.map((r) => r.cpu.rsyncMs)),
    sweeperMs: medianOrNull(rounds.map((r) => r.cpu.sweeperMs)),
    spawns: median(rounds.map((r) => r.cpu.spawns), 'upper'),
    faults: median(rounds.map((r) => r.cpu.faults), 'upper'),
  };
}

export interface ReportContext {
  options: Options;
  n: number;
  corpusLine: string;
  sweeping: string;
  loadBefore: number[];
  loadAfter: number[];
  pngMs: number;
}

/** The table, the lines under it and the JSON line of a run. Pure. */
export function reportOf(results: readonly RoundResult[], ctx: ReportContext): { lines: string[]; json: Record<string, unknown> } {
  const { options } = ctx;
  const off = mediansOf(results.filter((r) => r.mode === 'off'));
  const on = mediansOf(results.filter((r) => r.mode === 'on'));
  const tallies = results.flatMap((r) => (r.canaries ? [r.canaries] : []));
  const sum = (key: keyof Omit<CanaryTally, 'localSeconds' | 'everywhereSeconds' | 'failures'>): number => tallies.reduce((a, t) => a + t[key], 0);
  const local = tallies.flatMap((t) => t.localSeconds);
  const everywhere = tallies.flatMap((t) => t.everywhereSeconds);
  const p50 = (values: number[]): number | null => (values.length ? median(values, 'upper') : null);
  const spread = (values: number[]): string => (values.length ? `median ${fmt(p50(values), 1)} s, max ${fmt(Math.max(...values), 1)} s` : '-');
  // what one canary cost, from the medians: the extra per image times the batch, over the canaries sent while a batch ran (per round)
  const perRound = tallies.length ? sum('inWindow') / tallies.length : 0;
  const perCanary = (a: number | null, b: number | null): number | null => (a === null || b === null || perRound === 0 ? null : ((a - b) * ctx.n) / perRound);
  const failed = results.reduce((a, r) => a + r.failed, 0);

  const rows: string[][] = [['round', 'canary', 'img/s', 's', 'daemon CPU ms/img', 'of it children', 'spawns', 'faults/img', 'main ms/img', 'sweeper ms/img', 'machine cores', 'canaries sent/ok']];
  results.forEach((r, i) => {
    const c = r.canaries;
    rows.push([String(i + 1), r.mode, r.imgPerSec.toFixed(1), r.seconds.toFixed(1), r.cpu.daemonMs.toFixed(1), fmt(r.cpu.rsyncMs, 2), String(r.cpu.spawns), r.cpu.faults.toFixed(0), fmt(r.cpu.mainMs, 2), fmt(r.cpu.sweeperMs, 2), fmt(r.cpu.machineCores, 2), c ? `${c.sent}/${c.ok}` : '-']);
  });
  for (const [mode, m] of [['off', off], ['on', on]] as const) {
    rows.push(['median', mode, m.imgPerSec.toFixed(1), '', m.daemonMs.toFixed(1), fmt(m.rsyncMs, 2), String(m.spawns), m.faults.toFixed(0), fmt(m.mainMs, 2), fmt(m.sweeperMs, 2), '', mode === 'on' ? `${sum('sent')}/${sum('ok')}` : '']);
  }
  rows.push(['on / off', '', fmt(ratio(on.imgPerSec, off.imgPerSec), 3), '', fmt(ratio(on.daemonMs, off.daemonMs), 3), '', '', fmt(ratio(on.faults, off.faults), 3), fmt(ratio(on.mainMs, off.mainMs), 3), '', '', '']);
  const lines = [
    `bench:canary: ${ctx.corpusLine}; ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'cpu'}), node ${process.version}`,
    `canaries every ${options.intervalMinutes} min, deadline ${options.deadlineMinutes} min, ${options.targets} local target(s), ${ctx.sweeping}; fsync ${options.fsync}; UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (unset)'}`,
    `load average before ${ctx.loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${ctx.loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
    '',
    table(rows, labelThenNumbers),
    '',
    `daemon CPU: this process (all threads) and the processes it spawned itself, per image of the batch; main: its main thread alone; sweeper: its process and rsyncs.${failed ? ` ${failed} job(s) of the batches FAILED.` : ''}`,
    `per canary (median on - median off, x ${ctx.n} images, / ${fmt(perRound, 1)} canaries sent while a round's batch ran): daemon CPU ${fmt(perCanary(on.daemonMs, off.daemonMs), 0)} ms, of it the main thread ${fmt(perCanary(on.mainMs, off.mainMs), 0)} ms and its children ${fmt(perCanary(on.rsyncMs, off.rsyncMs), 0)} ms (${fmt(perRound ? (on.spawns - off.spawns) / perRound : null, 1)} spawned: the canary's listings run from one shell of their own, whose children are not counted here), ${fmt(perCanary(on.faults, off.faults), 0)} page faults; sweeper ${fmt(perCanary(on.sweeperMs, off.sweeperMs), 0)} ms; making its picture takes ${ctx.pngMs.toFixed(0)} ms on the daemon's event loop`,
    `canaries (the canary rounds): ${sum('sent')} sent (${sum('inWindow')} while a batch ran), ${sum('ok')} arrived everywhere, ${sum('failed')} failed, ${sum('undecided')} undecided at a stop; ${sum('purged')} removed; left after the rounds: ${sum('leftInTree')} file(s) in the tree, ${sum('leftOnTargets')} on the targets`,
    `  drop to the local tree: ${spread(local)}; to every target: ${spread(everywhere)}`,
    ...[...new Set(tallies.flatMap((t) => t.failures))].slice(0, 5).map((f) => `  failed at ${f}`),
  ];
  const json = {
    bench: 'canary',
    images: ctx.n,
    rounds: options.rounds,
    interval_min: options.intervalMinutes,
    deadline_min: options.deadlineMinutes,
    targets: options.targets,
    sweep_every_s: options.sweepEveryMs / 1000,
    no_canary_img_s: round(off.imgPerSec, 1),
    canary_img_s: round(on.imgPerSec, 1),
    ratio: round(ratio(on.imgPerSec, off.imgPerSec), 3),
    no_canary_cpu_ms_per_image: round(off.daemonMs, 2),
    canary_cpu_ms_per_image: round(on.daemonMs, 2),
    cpu_ratio: round(ratio(on.daemonMs, off.daemonMs), 3),
    main_cpu_ratio: round(ratio(on.mainMs, off.mainMs), 3),
    cpu_ms_per_canary: round(perCanary(on.daemonMs, off.daemonMs), 0),
    main_ms_per_canary: round(perCanary(on.mainMs, off.mainMs), 0),
    faults_per_canary: round(perCanary(on.faults, off.faults), 0),
    sweeper_ms_per_canary: round(perCanary(on.sweeperMs, off.sweeperMs), 0),
    canaries_sent: sum('sent'),
    canaries_ok: sum('ok'),
    canaries_failed: sum('failed'),
    canary_local_s_p50: round(p50(local), 2),
    canary_everywhere_s_p50: round(p50(everywhere), 2),
    failed_jobs: failed,
    load_before: round(ctx.loadBefore[0], 2),
    load_after: round(ctx.loadAfter[0], 2),
  };
  return { lines, json };
}

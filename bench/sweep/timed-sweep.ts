/** The timed sweeps, and their split into parts by the time-stamped progress lines each sweep says. */
import { loadavg } from 'node:os';
import type { Config } from '../../engine/config/config.js';
import { sweep, type SweepResult } from '../../engine/sweep/sweep.js';
import { round, secondsBetween, secondsSince } from '../lib/stats.js';
import { execFileAsync } from '../lib/tool.js';
import { COUNTRY, progress } from './sweep-bench.js';

export interface Stamp {
  ms: number;
  line: string;
}

export interface Timed {
  seconds: number;
  /** 1-minute load average when the sweep started (the machine is shared: a hint at noise). */
  load: number;
  result: SweepResult;
  stamps: Stamp[];
}

export async function timedSweep(config: Config, what: 'sync' | 'purge'): Promise<Timed> {
  // the preparation's dirty data goes to disk first (not timed): else the sweep's first fsyncs pay
  // for writing back the whole freshly built tree (ext4 commits the journal as a whole)
  const flushed = performance.now();
  await execFileAsync('sync');
  progress(`  (sync(1) before the sweep: ${secondsSince(flushed).toFixed(1)} s, not timed)`);
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

export interface Breakdown {
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
export function breakdown(timed: Timed, names: readonly string[]): Breakdown {
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
    per[name] = round(secondsBetween(from, to), 3)!;
    firstStart = Math.min(firstStart, from);
    lastEnd = Math.max(lastEnd, to);
  }
  const deliverStart = fanned ?? purged ?? 0;
  return {
    local_s: purged === undefined ? null : round(purged / 1000, 3),
    fanout_s: fanned === undefined ? null : round(fanned / 1000, 3),
    deliver_s: lastEnd > 0 ? round(secondsBetween(Math.min(deliverStart, firstStart), lastEnd), 3) : null,
    per_target_s: per,
    release_s: lastEnd > 0 ? round(secondsBetween(lastEnd, end), 3) : null,
  };
}

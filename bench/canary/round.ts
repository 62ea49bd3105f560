/** bench:canary's round: one daemon, wired as `imagesys run` wires it, its batch timed, its canaries tallied. */
import { mkdir, mkdtemp, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { canaryImage } from '../../engine/canary/image.js';
import { latencyOf, LOCAL_TARGET, type CanaryRecord } from '../../engine/canary/record.js';
import { allowCanaries, startCanary } from '../../engine/canary/start.js';
import { readRecords } from '../../engine/canary/store.js';
import { defaultCountries, parseConfig } from '../../engine/config/config.js';
import { systemClock } from '../../engine/core/clock.js';
import { Engine } from '../../engine/engine.js';
import type { StageObserver } from '../../engine/observe/metrics.js';
import { Observability } from '../../engine/observe/observability.js';
import { entryPath } from '../../spool/layout.js';
import { fmt } from '../lib/format.js';
import { median, secondsSince } from '../lib/stats.js';
import { COUNTRY, ROUND_TIMEOUT_MS, type Mode, type Options } from './args.js';
import { cpuSpan, type CpuFigures } from './meters.js';
import { SweeperProcess } from './sweeper.js';

/**
 * The engine's stage observer (the daemon's metrics) with the jobs that came to rest counted per
 * country, so that a round knows when its batch is done without polling.
 */
export class RestCounter implements StageObserver {
  private readonly rested = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private waiters: Array<{ country: string; count: number; wake: () => void }> = [];

  constructor(private readonly inner: StageObserver) {}

  done(...args: Parameters<StageObserver['done']>): void {
    this.inner.done(...args);
  }

  failed(...args: Parameters<StageObserver['failed']>): void {
    this.inner.failed(...args);
  }

  job(country: string, outcome: 'thumbed' | 'skipped' | 'failed' | 'retried'): void {
    this.inner.job(country, outcome);
    if (outcome === 'retried') return;
    if (outcome === 'failed') this.failures.set(country, this.failedIn(country) + 1);
    this.rested.set(country, this.restedIn(country) + 1);
    const ready = this.waiters.filter((w) => this.restedIn(w.country) >= w.count);
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.wake();
  }

  restedIn(country: string): number {
    return this.rested.get(country) ?? 0;
  }

  failedIn(country: string): number {
    return this.failures.get(country) ?? 0;
  }

  /** Resolves true once `count` jobs of `country` came to rest, false after `timeoutMs`. */
  until(country: string, count: number, timeoutMs: number): Promise<boolean> {
    if (this.restedIn(country) >= count) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push({
        country,
        count,
        wake: () => {
          clearTimeout(timer);
          resolve(true);
        },
      });
    });
  }
}

/** Log lines at warn and above, kept (the engine's and the canary's: a bench shows them, it does not print them as they come). */
export function keptLogger(lines: string[]): Logger {
  return pino({ level: 'warn', base: { name: 'bench' } }, { write: (line: string) => void lines.push(line) });
}

/** Regular files under `dir` (0 when it is not there). */
export async function countFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).length;
}

export interface CanaryTally {
  sent: number;
  /** Dropped while the timed batch was in progress. */
  inWindow: number;
  ok: number;
  failed: number;
  /** Not decided when the round stopped (sent after its batch was done). */
  undecided: number;
  purged: number;
  /** Drop to the local tree, and to the last target, of those that arrived everywhere. */
  localSeconds: number[];
  everywhereSeconds: number[];
  /** Where the failed ones stopped: `sync n1: not there yet`. */
  failures: string[];
  /** Files of the canary's country left in the tree and on the targets after the round's last sweep. */
  leftInTree: number;
  leftOnTargets: number;
}

/** Pure. */
export function tallyCanaries(records: readonly CanaryRecord[], targets: readonly string[], window: { from: number; to: number }): Omit<CanaryTally, 'leftInTree' | 'leftOnTargets'> {
  const tally = { sent: records.length, inWindow: 0, ok: 0, failed: 0, undecided: 0, purged: 0, localSeconds: [] as number[], everywhereSeconds: [] as number[], failures: [] as string[] };
  for (const r of records) {
    const dropped = Date.parse(r.droppedAt);
    if (dropped >= window.from && dropped <= window.to) tally.inWindow++;
    if (r.purged) tally.purged++;
    if (!r.result) tally.undecided++;
    else if (r.result.ok) {
      tally.ok++;
      const local = latencyOf(r, LOCAL_TARGET);
      if (local !== undefined) tally.localSeconds.push(local);
      tally.everywhereSeconds.push(Math.max(...[LOCAL_TARGET, ...targets].map((t) => latencyOf(r, t) ?? 0)));
    } else {
      tally.failed++;
      tally.failures.push(...r.result.failures.map((f) => `${f.stage} ${f.target}: ${f.reason}`));
    }
  }
  return tally;
}

export interface RoundResult {
  mode: Mode;
  seconds: number;
  imgPerSec: number;
  cpu: CpuFigures;
  failed: number;
  canaries?: CanaryTally;
  /** Lines the engine and the canary logged at warn and above. */
  logged: string[];
  sweeps: { runs: number; sent: number; deleted: number; errors: string[] };
}

export interface RoundPlan {
  mode: Mode;
  warm: readonly string[];
  batch: readonly string[];
  workDir: string;
}

/** A batch of URLs into incoming/uk, as ETL drops one (and the e2e phase): a dotfile, then one rename into place. */
export async function writeBatch(spool: string, name: string, urls: readonly string[]): Promise<void> {
  const tmp = entryPath(spool, 'incoming', COUNTRY, `.${name}.tmp`);
  await writeFile(tmp, `${urls.join('\n')}\n`);
  await rename(tmp, entryPath(spool, 'incoming', COUNTRY, name));
}

/** One daemon's round: started as `imagesys run` starts, a warm-up, the timed batch, its canaries decided, all stopped. */
export async function daemonRound(options: Options, plan: RoundPlan): Promise<RoundResult> {
  const root = await mkdtemp(join(plan.workDir, `${plan.mode}-`));
  const targetDirs = Array.from({ length: options.targets }, (_, i) => join(root, `target-n${i + 1}`));
  for (const dir of targetDirs) await mkdir(dir, { recursive: true });
  const raw = {
    spool: join(root, 'spool'),
    tree: join(root, 'tree'),
    countries: [COUNTRY],
    intake: { settleMs: 0 },
    download: { perHost: 32, perHostRate: 0, allow: ['127.0.0.1'], proxy: 'none' },
    http: { listen: '127.0.0.1:0' },
    canary: { intervalMinutes: plan.mode === 'on' ? options.intervalMinutes : 0, deadlineMinutes: options.deadlineMinutes },
    sweep: { targets: targetDirs.map((dest, i) => ({ name: `n${i + 1}`, dest })) },
    log: { level: 'warn', dir: join(root, 'log') },
    fsync: options.fsync,
  };
  const config = parseConfig(raw);
  // as run.ts: the canary's country is worked on while canaries are sent
  const countries = defaultCountries(config);
  const logged: string[] = [];
  const log = keptLogger(logged);
  const observability: Observability = new Observability(config, countries, () => engine.liveFigures(), log);
  const counter = new RestCounter(observability.metrics);
  const engine: Engine = new Engine({ config, countries, log, observer: counter });
  // as run.ts: the server first, so that the canaries' source is let through before the engine takes a job
  const serverUrl = await observability.serve();
  if (serverUrl) engine.announce(serverUrl);
  const wiring = { config, countries, spool: engine.spool, downloader: engine.downloader, observer: observability.metrics.canary, serverUrl, log: log.child({ component: 'canary' }) };
  const canaryFrom = allowCanaries(wiring);
  await engine.start();
  const canary = canaryFrom === undefined ? undefined : await startCanary(wiring, canaryFrom);
  const sweeper = options.sweepEveryMs > 0 ? new SweeperProcess(raw, countries.filter((c) => c !== COUNTRY), options.sweepEveryMs) : undefined;
  try {
    if ((canary !== undefined) !== (plan.mode === 'on')) throw new Error(`canaries ${canary ? 'on' : 'off'} in a round meant to have them ${plan.mode}`);
    await writeBatch(config.spool, 'warm.urls', plan.warm);
    if (!(await counter.until(COUNTRY, plan.warm.length, ROUND_TIMEOUT_MS))) throw new Error('the warm-up batch did not come to rest');

    const before = { rested: counter.restedIn(COUNTRY), failed: counter.failedIn(COUNTRY) };
    const from = systemClock();
    const cpu = cpuSpan(sweeper);
    const started = performance.now();
    await writeBatch(config.spool, 'bench.urls', plan.batch);
    if (!(await counter.until(COUNTRY, before.rested + plan.batch.length, ROUND_TIMEOUT_MS))) throw new Error(`the batch did not come to rest in ${ROUND_TIMEOUT_MS / 1000} s (${counter.restedIn(COUNTRY) - before.rested}/${plan.batch.length})`);
    const seconds = secondsSince(started);
    const figures = cpu(plan.batch.length);
    const to = systemClock();

    let canaries: CanaryTally | undefined;
    if (canary) {
      // the canaries sent so far are given until their deadline to be decided (new ones go on being sent)
      const until = performance.now() + options.deadlineMinutes * 60_000 + 5_000;
      const waiting = async (): Promise<boolean> => (await readRecords(config.spool)).some((r) => Date.parse(r.droppedAt) <= to && (!r.result || !r.purged));
      while ((await waiting()) && performance.now() < until) await sleep(250);
      await canary.stop();
      await sweeper?.finish();
      const tally = tallyCanaries(await readRecords(config.spool), config.sweep.targets.map((t) => t.name), { from, to });
      let leftOnTargets = 0;
      for (const dir of targetDirs) leftOnTargets += await countFiles(join(dir, config.canary.country));
      canaries = { ...tally, leftInTree: await countFiles(join(config.tree, config.canary.country)), leftOnTargets };
    }
    await sweeper?.finish();
    const sweeps = { runs: sweeper?.runs ?? 0, sent: sweeper?.sent ?? 0, deleted: sweeper?.deleted ?? 0, errors: sweeper?.errors ?? [] };
    return { mode: plan.mode, seconds, imgPerSec: plan.batch.length / seconds, cpu: figures, failed: counter.failedIn(COUNTRY) - before.failed, ...(canaries ? { canaries } : {}), logged, sweeps };
  } finally {
    await canary?.stop();
    await sweeper?.finish();
    await engine.stop();
    await observability.close();
    // the round's spool and tree stay until the end: deleting thousands of files just before the next round slows its new inodes (bench/README.md)
  }
}

export function roundLine(i: number, total: number, r: RoundResult): string {
  const c = r.canaries;
  const canaryNote = c ? `; canaries ${c.sent} sent (${c.inWindow} during the batch), ${c.ok} ok, ${c.failed} failed, ${c.undecided} undecided at the stop` : '';
  const cpu = `daemon CPU ${r.cpu.daemonMs.toFixed(1)} ms/image (its children ${fmt(r.cpu.rsyncMs, 2)}: ${r.cpu.spawns} spawned), ${r.cpu.faults.toFixed(0)} page faults/image, main thread ${fmt(r.cpu.mainMs, 2)}, sweeper ${fmt(r.cpu.sweeperMs, 2)}, machine ${fmt(r.cpu.machineCores, 2)} cores`;
  return `round ${i}/${total} canary ${r.mode}: ${r.imgPerSec.toFixed(1)} img/s in ${r.seconds.toFixed(1)} s; ${cpu}; ${r.sweeps.runs} sweeps (${r.sweeps.sent} images sent, ${r.sweeps.deleted} deleted)${r.failed ? `; ${r.failed} FAILED` : ''}${canaryNote}`;
}

/** The median ms it takes to make a canary's picture (engine/canary/image.ts), which the daemon's server does on its event loop. */
export function canaryPngMs(): number {
  const times = Array.from({ length: 5 }, (_, i) => {
    const started = performance.now();
    canaryImage(`${i}`.padStart(16, 'c'));
    return performance.now() - started;
  });
  return median(times, 'upper');
}

/**
 * `npm run bench:canary [-- --corpus DIR] [--images N] [--copies 4] [--rounds 4] [--interval 0.05]
 *   [--deadline 0.5] [--targets 2] [--sweep-every 2] [--fsync true|false] [--tmp DIR] [--keep]`
 *
 * What the canary (engine/canary/) costs the daemon's throughput (issue 16). Rounds with canaries off
 * and on alternate in one run, in pairs of alternating order (off on, on off, off on, ...), after one
 * untimed round that warms the process. Every round is a daemon of its own, wired as `imagesys run`
 * wires it (Observability.serve, allowCanaries, Engine.start, startCanary), in this process, on a
 * fresh spool, tree and sweep targets (local directories); the one difference is
 * `canary.intervalMinutes`: 0, or --interval (every 3 s by default, with a 30 s deadline: far more
 * often than anyone would run it).
 * Once the engine has thumbed a few warm-up images, one batch of the corpus' images, each under
 * --copies URLs (N = images x copies), is dropped into incoming/uk; the round is timed from the drop
 * until all N have come to rest. The corpus is ../shared/fixtures/photos when it is there.
 *
 * The sweeper runs beside every round as cron runs it, in a process of its own (this file, started
 * with --sweeper-child: `sweep --sync` every --sweep-every seconds; 0: none), over the canary's
 * country only, which is none when canaries are off: the listing photos' own sync is the same with or
 * without canaries, and would add rsync's cost, and its noise, to both modes. So the canary rounds pay
 * for everything the canary adds: its batch, its picture (made by the daemon's server) downloaded and
 * thumbnailed, the extra country watched, its checks (spool, tree, and `rsync --list-only` on each
 * target after each sweep of it), the sweeper sending and deleting it, and its removal. Without a
 * sweeper no canary arrives: none is listed (no sweep finished) and each fails at the sync stage.
 *
 * Prints per round: images/s; the daemon's CPU per image (this process, all threads: the engine, its
 * pool, the source server's thread; and the processes it spawned and waited for, counted: the canary's
 * listings run from one shell of their own, whose rsyncs are the shell's children), its minor page
 * faults (a fork of the daemon leaves its pages copy-on-write) and its main thread's CPU; the sweeper's
 * (its process and its rsyncs); the whole machine's busy cores; the canaries sent and decided. Then
 * the median per mode, the ratios canary / no canary, what one canary cost, and, last, one JSON line.
 * Progress goes to stderr.
 *
 * Why it is long: the daemon's wiring (run.ts), the sweeper's process, the CPU meters bench/lib lacks
 * (child processes, another process, the whole machine) and the canaries' tally are one bench's
 * parts, kept in its one file.
 */
import childProcess, { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import { canaryImage } from '../engine/canary/image.js';
import { latencyOf, LOCAL_TARGET, type CanaryRecord } from '../engine/canary/record.js';
import { allowCanaries, startCanary } from '../engine/canary/start.js';
import { readRecords } from '../engine/canary/store.js';
import { defaultCountries, parseConfig } from '../engine/config/config.js';
import { systemClock } from '../engine/core/clock.js';
import { Engine } from '../engine/engine.js';
import type { StageObserver } from '../engine/observe/metrics.js';
import { Observability } from '../engine/observe/observability.js';
import { sweep } from '../engine/sweep/sweep.js';
import { entryPath } from '../spool/layout.js';
import { DEFAULT_SAMPLE_COUNT } from './bench-args.js';
import { loadCorpus, makeCorpus, type CorpusImage } from './lib/corpus.js';
import { mainThreadMeter } from './lib/cpu.js';
import { fmt, labelThenNumbers, table } from './lib/format.js';
import { printJsonLine, printLines, progressLines } from './lib/output.js';
import { startThreadServer, type ThreadServer } from './lib/server-thread.js';
import { median, ratio, round, secondsSince } from './lib/stats.js';

const progress = progressLines('bench:canary');
/** The corpus when none is given, if it is there (the 248 listing photos). */
const FIXTURE_PHOTOS = '../shared/fixtures/photos';
/** The country the bench's batches go to; the canary has its own (canary.country, `zz`). */
const COUNTRY = 'uk';
/** A round whose batch has not come to rest by then is given up (something is wrong, not slow). */
const ROUND_TIMEOUT_MS = 600_000;
/** The first argument that makes this file the sweeper's process. */
const SWEEPER_CHILD = '--sweeper-child';
/** Linux's USER_HZ: /proc's CPU times are in ticks of 10 ms. */
const MS_PER_TICK = 10;

type Mode = 'off' | 'on';

interface Options {
  corpus: string | undefined;
  images: number | undefined;
  copies: number;
  rounds: number;
  intervalMinutes: number;
  deadlineMinutes: number;
  targets: number;
  sweepEveryMs: number;
  fsync: boolean;
  tmp: string;
  keep: boolean;
}

function usage(message: string): never {
  throw new Error(message);
}

function numberOption(name: string, text: string, min: number, integer: boolean): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) usage(`--${name} takes ${integer ? 'an integer' : 'a number'} of at least ${min}, not ${JSON.stringify(text)}`);
  return value;
}

function optionsOf(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      corpus: { type: 'string' },
      images: { type: 'string' },
      copies: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '4' },
      interval: { type: 'string', default: '0.05' },
      deadline: { type: 'string', default: '0.5' },
      targets: { type: 'string', default: '2' },
      'sweep-every': { type: 'string', default: '2' },
      fsync: { type: 'string', default: 'true' },
      tmp: { type: 'string', default: tmpdir() },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.fsync !== 'true' && values.fsync !== 'false') usage(`--fsync takes true or false, not ${JSON.stringify(values.fsync)}`);
  return {
    corpus: values.corpus,
    images: values.images === undefined ? undefined : numberOption('images', values.images, 1, true),
    copies: numberOption('copies', values.copies, 1, true),
    rounds: numberOption('rounds', values.rounds, 1, true),
    intervalMinutes: numberOption('interval', values.interval, 0.05, false),
    deadlineMinutes: numberOption('deadline', values.deadline, 0.05, false),
    targets: numberOption('targets', values.targets, 0, true),
    sweepEveryMs: numberOption('sweep-every', values['sweep-every'], 0, false) * 1000,
    fsync: values.fsync === 'true',
    tmp: values.tmp,
    keep: values.keep,
  };
}

/**
 * off, on, on, off, off, on, on, off, ...: pairs in alternating order, so that a drift of the machine
 * through the run (this VM's file system slows new inodes as more are freed, bench/README.md) falls
 * on both modes alike; with an even count of rounds a mode, a linear drift cancels exactly. Pure.
 */
function roundOrder(roundsPerMode: number): Mode[] {
  return Array.from({ length: roundsPerMode * 2 }, (_, i): Mode => ((i % 2 === 0) === (Math.floor(i / 2) % 2 === 0) ? 'off' : 'on'));
}

/** utime, stime, cutime, cstime of a process, in ms (/proc/<pid>/stat; null elsewhere). */
function processTimes(pid: number | 'self'): { own: number; children: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after "(comm) ": the state is field 3 of the file, utime..cstime fields 14 to 17
    const [utime, stime, cutime, cstime] = text.slice(text.lastIndexOf(')') + 2).split(' ').slice(11, 15).map(Number);
    if (utime === undefined || stime === undefined || cutime === undefined || cstime === undefined) return null;
    return { own: (utime + stime) * MS_PER_TICK, children: (cutime + cstime) * MS_PER_TICK };
  } catch {
    return null;
  }
}

/** Busy and total jiffies of all CPUs (/proc/stat; null elsewhere). */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  } catch {
    return null;
  }
}

/**
 * Child processes this process starts (the shell the canary's listings run from), counted: child_process.spawn
 * wrapped, and the wrapper handed to the modules that imported it by name (syncBuiltinESMExports).
 */
const spawned = { count: 0 };
{
  const original = childProcess.spawn;
  childProcess.spawn = function (this: unknown, ...args: Parameters<typeof original>) {
    spawned.count++;
    return original.apply(this, args);
  } as typeof original;
  syncBuiltinESMExports();
}

interface CpuFigures {
  /** The daemon: this process, all its threads, and the child processes it waited for (rsync), per image. */
  daemonMs: number;
  /** Of that, the child processes'; null where not measured. */
  rsyncMs: number | null;
  /** The processes it started. */
  spawns: number;
  /** Its minor page faults, per image: each fork of the daemon (an rsync started) makes its pages copy-on-write, and the next write to each faults. */
  faults: number;
  /** The main thread alone (schedstat), per image. */
  mainMs: number | null;
  /** The sweeper's process and its rsyncs, per image; null without a sweeper or where not measured. */
  sweeperMs: number | null;
  /** Cores the whole machine kept busy (everything on it: other tenants too). */
  machineCores: number | null;
}

/** Starts a span; the function returned ends it and gives its CPU figures for `images` images. */
function cpuSpan(sweeper: SweeperProcess | undefined): (images: number) => CpuFigures {
  const own = process.cpuUsage();
  const self = processTimes('self');
  const sweeperFrom = sweeper?.cpuMs() ?? null;
  const machine = machineTicks();
  const main = mainThreadMeter();
  const spawns = spawned.count;
  const faults = process.resourceUsage().minorPageFault;
  return (images) => {
    const used = process.cpuUsage(own);
    const selfNow = processTimes('self');
    const sweeperTo = sweeper?.cpuMs() ?? null;
    const machineNow = machineTicks();
    const ran = main();
    const rsyncMs = self && selfNow ? (selfNow.children - self.children) / images : null;
    return {
      daemonMs: (used.user + used.system) / 1000 / images + (rsyncMs ?? 0),
      rsyncMs,
      spawns: spawned.count - spawns,
      faults: (process.resourceUsage().minorPageFault - faults) / images,
      mainMs: ran ? ran.runMs / images : null,
      sweeperMs: sweeperFrom !== null && sweeperTo !== null ? (sweeperTo - sweeperFrom) / images : null,
      machineCores: machine && machineNow && machineNow.total > machine.total ? ((machineNow.busy - machine.busy) / (machineNow.total - machine.total)) * availableParallelism() : null,
    };
  };
}

/**
 * The engine's stage observer (the daemon's metrics) with the jobs that came to rest counted per
 * country, so that a round knows when its batch is done without polling.
 */
class RestCounter implements StageObserver {
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

/** What the parent tells the sweeper's process, and what it hears back. */
interface SweeperStart {
  kind: 'start';
  config: Record<string, unknown>;
  countries: string[];
  everyMs: number;
}
type SweeperReport = { kind: 'swept'; sent: number; deleted: number; errors: string[] } | { kind: 'done' };

/** The sweeper's process: `sweep --sync` of the countries asked for, every everyMs, until told to finish (one sweep more). */
async function sweeperChild(): Promise<void> {
  const start = await new Promise<SweeperStart>((resolve) => process.once('message', (m: SweeperStart) => resolve(m)));
  const finishing = new AbortController();
  process.on('message', (m: { kind: string }) => {
    if (m.kind === 'finish') finishing.abort();
  });
  process.once('disconnect', () => process.exit(0)); // the bench is gone
  // the sweeper's config names the countries it is run for: the photos' own are left out (see the top)
  const config = { ...parseConfig(start.config), countries: start.countries };
  const once = async (): Promise<void> => {
    const report: SweeperReport = { kind: 'swept', sent: 0, deleted: 0, errors: [] };
    try {
      const result = await sweep(config, { sync: true, purge: false, fsCheck: false, repair: false, countries: start.countries });
      for (const t of result.targets) {
        report.sent += t.sent;
        report.deleted += t.deleted;
        if (t.error) report.errors.push(`${t.target}: ${t.error}`);
      }
    } catch (error) {
      report.errors.push((error as Error).message);
    }
    process.send?.(report);
  };
  while (!finishing.signal.aborted) {
    await once();
    await sleep(start.everyMs, undefined, { signal: finishing.signal }).catch(() => {});
  }
  await once(); // what the last removals queued
  process.send?.({ kind: 'done' } satisfies SweeperReport);
  process.disconnect();
}

/** The parent's side of the sweeper's process. */
class SweeperProcess {
  runs = 0;
  sent = 0;
  deleted = 0;
  readonly errors: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(config: Record<string, unknown>, countries: string[], everyMs: number) {
    this.child = fork(fileURLToPath(import.meta.url), [SWEEPER_CHILD], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.on('message', (m: SweeperReport) => {
      if (m.kind !== 'swept') return;
      this.runs++;
      this.sent += m.sent;
      this.deleted += m.deleted;
      this.errors.push(...m.errors);
    });
    this.child.send({ kind: 'start', config, countries, everyMs } satisfies SweeperStart);
  }

  /** Its CPU so far with its rsyncs', in ms. */
  cpuMs(): number | null {
    const times = this.child.pid === undefined ? null : processTimes(this.child.pid);
    return times ? times.own + times.children : null;
  }

  /** One sweep more (the deletions the last removals queued), then it exits. */
  async finish(): Promise<void> {
    if (this.child.connected) this.child.send({ kind: 'finish' });
    await this.exited;
  }
}

/** Log lines at warn and above, kept (the engine's and the canary's: a bench shows them, it does not print them as they come). */
function keptLogger(lines: string[]): Logger {
  return pino({ level: 'warn', base: { name: 'bench' } }, { write: (line: string) => void lines.push(line) });
}

/** Regular files under `dir` (0 when it is not there). */
async function countFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).length;
}

interface CanaryTally {
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
function tallyCanaries(records: readonly CanaryRecord[], targets: readonly string[], window: { from: number; to: number }): Omit<CanaryTally, 'leftInTree' | 'leftOnTargets'> {
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

interface RoundResult {
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

interface RoundPlan {
  mode: Mode;
  warm: readonly string[];
  batch: readonly string[];
  workDir: string;
}

/** A batch of URLs into incoming/uk, as ETL drops one (and the e2e phase): a dotfile, then one rename into place. */
async function writeBatch(spool: string, name: string, urls: readonly string[]): Promise<void> {
  const tmp = entryPath(spool, 'incoming', COUNTRY, `.${name}.tmp`);
  await writeFile(tmp, `${urls.join('\n')}\n`);
  await rename(tmp, entryPath(spool, 'incoming', COUNTRY, name));
}

/** One daemon's round: started as `imagesys run` starts, a warm-up, the timed batch, its canaries decided, all stopped. */
async function daemonRound(options: Options, plan: RoundPlan): Promise<RoundResult> {
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

function roundLine(i: number, total: number, r: RoundResult): string {
  const c = r.canaries;
  const canaryNote = c ? `; canaries ${c.sent} sent (${c.inWindow} during the batch), ${c.ok} ok, ${c.failed} failed, ${c.undecided} undecided at the stop` : '';
  const cpu = `daemon CPU ${r.cpu.daemonMs.toFixed(1)} ms/image (its children ${fmt(r.cpu.rsyncMs, 2)}: ${r.cpu.spawns} spawned), ${r.cpu.faults.toFixed(0)} page faults/image, main thread ${fmt(r.cpu.mainMs, 2)}, sweeper ${fmt(r.cpu.sweeperMs, 2)}, machine ${fmt(r.cpu.machineCores, 2)} cores`;
  return `round ${i}/${total} canary ${r.mode}: ${r.imgPerSec.toFixed(1)} img/s in ${r.seconds.toFixed(1)} s; ${cpu}; ${r.sweeps.runs} sweeps (${r.sweeps.sent} images sent, ${r.sweeps.deleted} deleted)${r.failed ? `; ${r.failed} FAILED` : ''}${canaryNote}`;
}

/** The median ms it takes to make a canary's picture (engine/canary/image.ts), which the daemon's server does on its event loop. */
function canaryPngMs(): number {
  const times = Array.from({ length: 5 }, (_, i) => {
    const started = performance.now();
    canaryImage(`${i}`.padStart(16, 'c'));
    return performance.now() - started;
  });
  return median(times, 'upper');
}

interface ModeFigures {
  imgPerSec: number;
  daemonMs: number;
  mainMs: number | null;
  rsyncMs: number | null;
  sweeperMs: number | null;
  spawns: number;
  faults: number;
}

const medianOrNull = (values: ReadonlyArray<number | null>): number | null => (values.length > 0 && values.every((v) => v !== null) ? median(values, 'upper') : null);

/** The medians of a mode's rounds (the upper middle of an even count). Pure. */
function mediansOf(rounds: readonly RoundResult[]): ModeFigures {
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

interface ReportContext {
  options: Options;
  n: number;
  corpusLine: string;
  sweeping: string;
  loadBefore: number[];
  loadAfter: number[];
  pngMs: number;
}

/** The table, the lines under it and the JSON line of a run. Pure. */
function reportOf(results: readonly RoundResult[], ctx: ReportContext): { lines: string[]; json: Record<string, unknown> } {
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

async function loadOrMake(options: Options, workDir: string): Promise<{ corpus: CorpusImage[]; label: string }> {
  const dir = options.corpus ?? (existsSync(FIXTURE_PHOTOS) ? FIXTURE_PHOTOS : undefined);
  if (dir) {
    const corpus = await loadCorpus(dir, options.images);
    if (corpus.length === 0) throw new Error(`no images in ${dir}`);
    return { corpus, label: resolve(dir) };
  }
  const count = options.images ?? DEFAULT_SAMPLE_COUNT;
  progress(`generating ${count} sample images`);
  return { corpus: await makeCorpus(join(workDir, 'corpus'), count), label: `${count} generated samples` };
}

async function main(): Promise<void> {
  const options = optionsOf(process.argv.slice(2));
  const loadBefore = loadavg();
  await mkdir(options.tmp, { recursive: true });
  const workDir = await mkdtemp(join(options.tmp, 'imagesys-bench-canary-'));
  const interrupted = (): void => {
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
    process.exit(130); // the sweeper's process goes with its parent (disconnect)
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let server: ThreadServer | undefined;
  try {
    const { corpus, label } = await loadOrMake(options, workDir);
    // every round has the same URLs, on a tree of its own
    const routes = new Map<string, Uint8Array>();
    const route = (path: string, bytes: Uint8Array): string => {
      routes.set(path, bytes);
      return path;
    };
    const warmPaths = corpus.slice(0, Math.max(8, availableParallelism() * 4)).map((image, i) => route(`/warm/${i}/${encodeURIComponent(image.name)}`, image.bytes));
    const batchPaths = Array.from({ length: options.copies }, (_, copy) => corpus.map((image, i) => route(`/photos/${copy}/${i}/${encodeURIComponent(image.name)}`, image.bytes))).flat();
    const source = (server = await startThreadServer(routes));
    const warm = warmPaths.map((p) => source.url(p));
    const batch = batchPaths.map((p) => source.url(p));
    const n = batch.length;
    const sweeping = options.sweepEveryMs > 0 ? `a sweeper process syncing the canary's country every ${options.sweepEveryMs / 1000} s` : 'no sweeper (canaries fail at sync)';
    progress(`${corpus.length} images x ${options.copies} copies = ${n} a round, from ${label}; canaries every ${options.intervalMinutes} min (deadline ${options.deadlineMinutes} min), ${options.targets} local target(s), ${sweeping}; fsync ${options.fsync}; load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);

    progress('warm-up round (untimed, canaries off) ...');
    const warmUp = await daemonRound(options, { mode: 'off', warm, batch: batch.slice(0, corpus.length), workDir });
    progress(`warm-up round ... ${warmUp.imgPerSec.toFixed(1)} img/s`);
    const modes = roundOrder(options.rounds);
    const results: RoundResult[] = [];
    for (const [i, mode] of modes.entries()) {
      const result = await daemonRound(options, { mode, warm, batch, workDir });
      results.push(result);
      progress(roundLine(i + 1, modes.length, result));
      if (result.logged.length > 0) progress(`  ${result.logged.length} line(s) logged at warn or above, the first: ${result.logged[0]?.trim()}`);
      for (const error of [...new Set(result.sweeps.errors)].slice(0, 3)) progress(`  sweeper: ${error}`);
    }
    const corpusLine = `${n} images a round (${corpus.length} from ${label} x ${options.copies}), ${options.rounds} rounds a mode (${modes.join(' ')}) after an untimed one`;
    const report = reportOf(results, { options, n, corpusLine, sweeping, loadBefore, loadAfter: loadavg(), pngMs: canaryPngMs() });
    printLines(report.lines);
    printJsonLine(report.json);
  } finally {
    await server?.close();
    if (options.keep) progress(`kept ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }
}

(process.argv[2] === SWEEPER_CHILD ? sweeperChild() : main()).catch((error: unknown) => {
  process.stderr.write(`bench:canary: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
});

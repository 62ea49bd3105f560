import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { spoolTmpDir, stateDir } from '../spool/layout.js';
import type { WorkState } from '../spool/transitions.js';
import { SELF } from '../spool/owner.js';
import { Spool } from '../spool/spool.js';
import { WriteThread } from '../spool/write-thread.js';
import type { Config } from './config/config.js';
import { systemClock, type Clock } from './core/clock.js';
import { Semaphore } from './core/semaphore.js';
import { ByteBudget } from './core/byte-budget.js';
import { Downloader } from './download/downloader.js';
import { ClockOffsetWatch } from './health/clock-offset.js';
import { DiskWatch } from './health/disk-watch.js';
import { SourceHealth } from './health/health.js';
import { Processor, type Outcome } from './job/processor.js';
import { removeDaemonState, STATE_INTERVAL_MS, type DaemonState, type EngineStats } from './observe/daemon-state.js';
import { processKey } from './observe/history.js';
import { NO_OBSERVER, SOURCE_LIMIT, type LiveFigures, type StageObserver } from './observe/metrics.js';
import { StateWriter } from './observe/state-writer.js';
import { BatchIntake } from './scheduler/batches.js';
import { watchBatches, type BatchWatcher } from './scheduler/batch-watcher.js';
import { ArrivalFeeder } from './scheduler/feeder.js';
import { dueAfter } from './scheduler/follow-up.js';
import { Queues, type Candidate } from './scheduler/queues.js';
import { SpoolScan } from './scheduler/scan.js';
import { Tally } from './scheduler/tally.js';
import { UnexpectedErrors } from './scheduler/unexpected.js';
import { Watchdog, type Attempt } from './scheduler/watchdog.js';
import { ThumbnailPool, type ThumbnailRunner } from './thumbnails/thumbnail-pool.js';
import { removeTreeTemporaries, treeTmpDir } from './tree/tree.js';

export type { EngineStats };

export interface EngineOptions {
  config: Config;
  /** Countries this engine works on. */
  countries: string[];
  log: Logger;
  /** The time, for everything the engine and its spool decide by it. */
  clock?: Clock;
  /** The thumbnail stage; a sharp worker pool unless given (bench:scale measures the spool alone). */
  pool?: ThumbnailRunner;
  /** Hears what each stage does (the daemon's metrics). */
  observer?: StageObserver;
}

/** stop() waits this long for the work in hand; what is still running then is left to exit. */
const STOP_GRACE_MS = 30_000;

/**
 * The daemon, wired from small parts: recovery first; then the batch watcher, the arrival feeder and
 * periodic scans feed the queues; downloads run in a bounded async pool and thumbnails in the
 * worker-thread pool; the watchdog, the disk watch and the state file run beside them. This class owns
 * the lifecycle and what happens after each attempt; the parts own their rules (engine/scheduler/).
 */
export class Engine {
  readonly spool: Spool;
  /** Hosts and datasources paused for failing too often. */
  readonly health: SourceHealth;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly intakeLog: Logger; // batches, the watcher, rescans and the arrival log
  private readonly healthLog: Logger; // disk watermark and stuck jobs
  private readonly clock: Clock;
  private readonly countries: string[];
  readonly downloader: Downloader; // run.ts lets the canaries through its guard
  private readonly pool: ThumbnailRunner;
  private readonly writeThread = new WriteThread(); // the spool's and the tree's writes, off the event loop
  private readonly processor: Processor;
  readonly memoryBudget: ByteBudget; // the originals' bytes in memory (pool.memoryBudgetMiB); the bench reads it
  private readonly queues: Queues;
  private readonly tally: Tally;
  private readonly watchdog: Watchdog;
  private readonly disk: DiskWatch;
  private readonly clockWatch: ClockOffsetWatch;
  private readonly feeder: ArrivalFeeder;
  private readonly batches: BatchIntake;
  private readonly scanner: SpoolScan;
  private readonly state: StateWriter;
  private readonly unexpected: UnexpectedErrors;
  private mode: DaemonState['mode'] = 'daemon';
  private readonly startedAt: number;
  private readonly historyKey: string;
  private timers: NodeJS.Timeout[] = [];
  private watcher: BatchWatcher | undefined;
  private stopping = false;
  private idleWaiters: Array<() => void> = [];
  /** Where this engine serves its status page, once it does. */
  private httpUrl: string | undefined;

  constructor(options: EngineOptions) {
    const { config, log } = options;
    this.config = config;
    this.log = log;
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock();
    this.historyKey = processKey(SELF.host, SELF.pid, this.startedAt);
    this.countries = options.countries;
    const intakeLog = (this.intakeLog = log.child({ component: 'intake' }));
    const healthLog = (this.healthLog = log.child({ component: 'health' }));
    this.spool = new Spool({ root: config.spool, fsync: config.fsync, staleMs: config.claims.staleMs, clock: this.clock, writeThread: this.writeThread, parkClaims: true });
    this.downloader = new Downloader(config.download, this.clock);
    const { threads, tasksPerThread, threadNice } = config.pool;
    this.pool = options.pool ?? new ThumbnailPool({ threads, tasksPerThread, threadNice });
    // one image more per thread than it works on, so that no thread waits for the next download
    const thumbnailSlots = threads * (tasksPerThread + 1);
    this.queues = new Queues({ downloads: config.download.concurrency, thumbnails: thumbnailSlots, perHost: config.download.perHost, queueLimit: config.intake.queueLimit }, this.clock, (state) => this.pump(state));
    this.health = new SourceHealth(config.health);
    this.tally = new Tally(options.observer ?? NO_OBSERVER, this.clock);
    this.watchdog = new Watchdog(config.health.stuckMs, this.clock);
    this.unexpected = new UnexpectedErrors(config.retry, this.clock, log);
    this.clockWatch = new ClockOffsetWatch({ fsTime: this.spool.fsTime, spool: config.spool, warnMs: config.claims.clockWarnMs, refuseMs: config.claims.clockRefuseMs, log: healthLog });
    this.disk = new DiskWatch({
      roots: { spool: config.spool, tree: config.tree },
      probes: { spool: spoolTmpDir(config.spool), tree: treeTmpDir(config.tree) },
      minFreeMiB: config.disk.minFreeMiB,
      log: healthLog,
      onResume: () => this.pump('incoming'),
    });
    this.feeder = new ArrivalFeeder(this.spool, this.countries, this.queues, () => this.stopping);
    this.batches = new BatchIntake({
      spool: this.spool,
      config,
      clock: this.clock,
      log: intakeLog,
      tally: this.tally,
      observer: this.tally.observer,
      takeFresh: (country, job) => this.feeder.takeFresh(country, job),
      onSettled: () => this.checkIdle(),
    });
    this.scanner = new SpoolScan({
      spool: this.spool,
      config,
      countries: this.countries,
      clock: this.clock,
      log: intakeLog,
      isStopping: () => this.stopping,
      noteBatch: (country, name) => this.batches.note(country, name),
      offer: (candidate) => this.queues.offer(candidate, true),
      logHoldsWork: (country) => this.feeder.holdsWork(country),
      leftAlone: (candidate) => this.unexpected.leftAlone(candidate),
    });
    this.state = new StateWriter({
      writer: this.spool.writer,
      spoolRoot: config.spool,
      historyKey: this.historyKey,
      minutes: this.tally.minutes,
      clock: this.clock,
      log,
      snapshot: (now) => this.snapshot(now),
    });
    this.processor = new Processor({
      observer: this.tally.observer,
      health: this.health,
      config,
      spool: this.spool,
      downloader: this.downloader,
      pool: this.pool, writeThread: this.writeThread,
      thumbnailSlots: new Semaphore(thumbnailSlots),
      memoryBudget: (this.memoryBudget = new ByteBudget(config.pool.memoryBudgetMiB * 1024 * 1024)),
      log: log.child({ component: 'jobs' }),
      onUnwritable: async () => {
        await this.disk.check();
        return this.disk.unwritable;
      },
    });
  }

  get stats(): EngineStats {
    return this.tally.stats;
  }

  /** Spool directories the last scan could not read (`incoming/uk` -> the error code): --once reports them. */
  get unreadable(): ReadonlyMap<string, string> {
    return this.scanner.unreadable;
  }

  /** Recovery: runs before anything is watched or claimed, once the clock is known near the spool's (else ERR_IMAGESYS_CLOCK). */
  async recover(): Promise<void> {
    const found = await this.clockWatch.checkAtStart().then(() => this.spool.recover(this.countries, this.config.claims.staleMs));
    this.log.info({ ...found, temporaries: found.temporaries + (await removeTreeTemporaries(this.config.tree)) }, 'recovery done');
  }

  /** Runs as a daemon until stop(). */
  async start(): Promise<void> {
    await this.recover();
    await this.startHousekeeping('daemon');
    // batches only: jobs that appear by hand (mv from failed/) are found by the rescan; the engine
    // queues those it makes itself at once
    this.watcher = watchBatches(
      this.countries.map((country) => ({ country, dir: stateDir(this.config.spool, 'incoming', country) })),
      (country, name) => {
        if (!this.stopping) void this.batches.note(country, name);
      },
      (error, dir) => this.intakeLog.warn({ err: error, dir }, 'watcher error; rescans continue'),
    );
    const feed = (): void => void this.feeder.feed().catch((error: unknown) => this.intakeLog.error({ err: error }, 'arrival log could not be read; the full scan covers it'));
    this.every(Math.min(1_000, this.config.intake.rescanMs), () => {
      this.queues.releaseDue(); // due ones back at the front (each queued one starts what may start)
      this.checkStuck();
      feed();
      if (this.scanner.isDue()) void this.scanner.rescan();
    }, false);
    feed();
    void this.scanner.rescan();
    this.log.info({ countries: this.countries, threads: this.config.pool.threads, downloads: this.config.download.concurrency }, 'engine started');
  }

  /** --once: processes everything queued (retries included), then returns. */
  async drain(onProgress?: () => void): Promise<void> {
    await this.recover();
    await this.startHousekeeping('once');
    for (;;) {
      if (this.stopping) return; // stop() was called (a signal): it finishes the work in hand
      this.tally.progressed = false;
      const seen = (await this.feeder.feed()) + (await this.scanner.scan());
      await this.idle();
      onProgress?.();
      if (this.stopping || (seen === 0 && this.batches.settling === 0)) return;
      if (!this.tally.progressed) await sleep(this.queues.nextWakeMs());
      this.queues.releaseDue(); // due ones back at the front (each queued one starts what may start)
    }
  }

  /** Stops taking work, lets the jobs in progress finish (their claims released), closes the pools. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queues.close();
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.watcher?.close();
    // what is only queued stays in the spool for the next start, and keeps its place in the arrival
    // log: its segment was removed once it was queued
    await this.feeder.journal(this.queues.waitingIncoming(), (error, country) => this.intakeLog.warn({ err: error, country }, 'queued jobs could not be logged; the scan will find them'));
    this.queues.dropQueued();
    this.batches.close();
    this.checkIdle();
    // a job hung beyond its abort must not hold the stop forever: its claim goes when the process exits
    const grace = new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    await Promise.race([this.idle(), grace]);
    if (!this.isIdle()) this.log.error({ active: { incoming: this.queues.inHand('incoming'), downloaded: this.queues.inHand('downloaded') } }, 'stopping with work still hanging');
    // a feed or scan that failed meanwhile (it logged why) holds up no part of the stop
    await Promise.allSettled([this.feeder.settled(), this.scanner.settled(), this.state.settled()]);
    await Promise.all([this.pool.close(), this.processor.close()]);
    await this.downloader.close();
    await this.spool.close();
    await this.state.writeHistory(true);
    await removeDaemonState(this.config.spool);
    await this.writeThread.close(STOP_GRACE_MS);
  }

  get queueDepth(): number {
    const q = this.queues.figures();
    return q.incoming + q.downloaded + q.active;
  }

  get deferredCount(): number {
    return this.queues.deferredCount;
  }

  /** Where the status page is served: told to `imagesys status` by the next state file. */
  announce(url: string): void {
    this.httpUrl = url;
  }

  /** What /metrics reads of this engine when scraped. */
  liveFigures(): LiveFigures {
    const q = this.queues.figures();
    return {
      queue: { queued: q.incoming + q.downloaded, active: q.active, deferred: q.deferred },
      pool: this.pool.figures?.() ?? { threads: 0, active: 0, capacity: 0, waiting: 0 },
      downloads: { inUse: this.queues.inHand('incoming'), limit: this.queues.limitOf.incoming },
      sources: this.health.sources(this.clock(), SOURCE_LIMIT),
      disks: this.disk.disks,
      downloadsPaused: this.disk.paused !== undefined,
      ...(this.clockWatch.current ? { clockOffsetMs: this.clockWatch.current.offsetMs } : {}),
    };
  }

  /** The state file's content at `now`. */
  private snapshot(now: number): DaemonState {
    const q = this.queues.figures();
    return {
      version: 1,
      host: SELF.host,
      pid: SELF.pid,
      mode: this.mode,
      countries: this.countries,
      startedAt: new Date(this.startedAt).toISOString(),
      updatedAt: new Date(now).toISOString(),
      queued: { incoming: q.incoming, downloaded: q.downloaded, active: q.active, waiting: q.deferred },
      stats: this.tally.snapshot(),
      paused: this.health.paused(now),
      disk: this.disk.disks,
      ...(this.disk.paused ? { downloadsPaused: this.disk.paused } : {}),
      historyKey: this.historyKey,
      currentMinute: this.tally.minutes.current(now),
      latest: this.tally.latest,
      ...(this.httpUrl ? { http: this.httpUrl } : {}),
      ...(this.clockWatch.current ? { clock: this.clockWatch.current } : {}),
    };
  }

  private every(ms: number, fn: () => unknown, unref = true): void {
    const timer = setInterval(fn, ms);
    if (unref) timer.unref();
    this.timers.push(timer);
  }

  /**
   * What runs beside the work in both modes: the disk watermark (checked before the first download),
   * the stuck-job watchdog, and the state file that `imagesys status` reads.
   */
  private async startHousekeeping(mode: DaemonState['mode']): Promise<void> {
    this.mode = mode;
    await this.disk.check();
    this.every(this.config.disk.checkMs, () => void this.disk.check().then(() => this.clockWatch.check()));
    this.every(STATE_INTERVAL_MS, () => void this.state.write());
    this.every(this.config.health.windowMs, () => this.health.prune(this.clock()));
    if (mode === 'once') this.every(1_000, () => this.checkStuck());
    await this.state.write();
  }

  private checkStuck(): void {
    const healthLog = this.healthLog;
    const where = (attempt: Attempt, ageMs: number): Record<string, unknown> => ({ state: attempt.candidate.state, country: attempt.candidate.country, job: attempt.candidate.name, ageMs });
    this.watchdog.check(
      (attempt, age) => {
        this.tally.stuck();
        healthLog.warn(where(attempt, age), 'job made no progress: aborted, it will be retried');
      },
      (attempt, age) => {
        healthLog.error(where(attempt, age), 'stuck job ignored its abort: slot freed; the job stays claimed until this engine restarts');
        this.settle(attempt, { kind: 'gone' });
      },
    );
  }

  /** Downloads pause while the disk is low and while the originals set down in downloaded/ pile up (the CPU is behind). */
  private mayStart(state: WorkState): boolean {
    if (state === 'downloaded') return true;
    return this.disk.paused === undefined && !this.queues.thumbnailsBehind();
  }

  private pump(state: WorkState): void {
    if (!this.stopping) for (const candidate of this.queues.startable(state, () => this.mayStart(state))) void this.work(candidate);
    this.checkIdle();
  }

  private pumpAll(): void {
    this.pump('downloaded');
    this.pump('incoming');
  }

  private async work(candidate: Candidate): Promise<void> {
    const attempt = this.watchdog.begin(candidate);
    let outcome: Outcome;
    try {
      outcome = await this.processor.process(candidate.state, candidate.country, candidate.name, candidate.fresh, {
        signal: attempt.controller.signal,
        progress: (waiting) => this.watchdog.progress(attempt, waiting),
      });
    } catch (error) {
      outcome = this.unexpected.outcomeOf(candidate, error);
    }
    if (!attempt.abandoned) this.settle(attempt, outcome);
  }

  /** An attempt is over: its outcome is counted, it waits if it must, and its slot goes to the next job. */
  private settle(attempt: Attempt, outcome: Outcome): void {
    this.watchdog.end(attempt);
    // what was fresh is stale after an attempt: read it from disk next time
    const { fresh: _fresh, ...candidate } = attempt.candidate;
    this.queues.finish(attempt.candidate);
    this.tally.outcome(candidate.country, outcome);
    const due = dueAfter(outcome, this.clock(), this.config.claims.staleMs);
    if (due !== undefined) this.queues.defer(candidate, due);
    if (outcome.kind === 'spilled') void this.queues.offer({ state: 'downloaded', country: candidate.country, name: candidate.name }, false);
    this.pumpAll();
  }

  private isIdle(): boolean {
    return this.queues.isEmpty() && this.batches.isIdle();
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

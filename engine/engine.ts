import { lstat, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isMissing } from '../spool/atomic.js';
import { arrivalsDir, closeAbandonedSegments, closedSegments, overflowLogs, removeSegment, replaceSegment, segmentLines, type ArrivalLine } from '../spool/arrivals.js';
import { HostQueue } from './scheduler/host-queue.js';
import { ingestBatch } from '../spool/intake.js';
import { arrivalOf } from '../spool/job.js';
import { BATCH_SUFFIX, locksDir, spoolTmpDir, stateDir } from '../spool/layout.js';
import { removeOrphanOriginals, removeStaleLocks, removeStrayTemporaries } from '../spool/recovery.js';
import { SELF } from '../spool/owner.js';
import { Spool } from '../spool/spool.js';
import type { Job } from '../spool/job.js';
import type { Config } from './config/config.js';
import { removeDaemonState, STATE_INTERVAL_MS, writeDaemonState, type DaemonState } from './observe/daemon-state.js';
import { describeLowDisks, measureDisks, writeProblem, type DiskFree } from './health/disk.js';
import { watchBatches, type BatchWatcher } from './scheduler/batch-watcher.js';
import { Downloader } from './download/downloader.js';
import { SourceHealth } from './health/health.js';
import { Processor, type Outcome } from './job/processor.js';
import { Semaphore } from './core/semaphore.js';
import { ThumbnailPool, type ThumbnailRunner } from './thumbnails/thumbnail-pool.js';
import { treeTmpDir } from './tree/tree.js';
import { appendHistory, MinuteBuckets, processKey } from './observe/history.js';
import { NO_OBSERVER, SOURCE_LIMIT, type LiveFigures, type StageObserver } from './observe/metrics.js';
import { LATEST_SHOWN, type LatestThumbnail } from './observe/status.js';

type Stage = 'incoming' | 'downloaded';

interface Candidate {
  stage: Stage;
  country: string;
  name: string;
  /** Content of a job this engine has just made (saves reading it back). */
  fresh?: Job;
  /** The host its URL is fetched from, when known (fresh jobs, arrival log lines): downloads are served per host in turn. */
  host?: string;
}

export interface EngineStats {
  thumbed: number;
  /** Attempts aborted because they made no progress for health.stuckMs. */
  stuck: number;
  skipped: number;
  failed: number;
  retries: number;
  /** Originals set down in downloaded/ because every thread was busy. */
  spilled: number;
  batches: number;
  failuresByCode: Record<string, number>;
}

export interface EngineOptions {
  config: Config;
  /** Countries this engine works on. */
  countries: string[];
  log: Logger;
  now?: () => Date;
  /** The thumbnail stage; a sharp worker pool unless given (bench:scale measures the spool alone). */
  pool?: ThumbnailRunner;
  /** Hears what each stage does (the daemon's metrics). */
  observer?: StageObserver;
}

/** A candidate for the download stage from a line of the arrival log. */
function candidateOf(country: string, line: ArrivalLine): Candidate {
  return line.host ? { stage: 'incoming', country, name: line.name, host: line.host } : { stage: 'incoming', country, name: line.name };
}

const keyOf = (c: Candidate): string => `${c.stage}/${c.country}/${c.name}`;

/** One job being worked on, as the stuck-job watchdog sees it. */
interface Attempt {
  candidate: Candidate;
  /** When it last moved on (claimed, began a download, got a thread, ...). */
  lastProgress: number;
  /** Waiting for a download slot or a thread: not a lack of progress. */
  waiting: boolean;
  controller: AbortController;
  /** Given up on (it ignored the abort): its slot is free, whatever it does later is ignored. */
  abandoned: boolean;
}

/** An aborted attempt that has not ended after this long is abandoned (its slot freed). */
const ABANDON_AFTER_MS = 30_000;

/** stop() waits this long for the work in hand; what is still running then is left to exit. */
const STOP_GRACE_MS = 30_000;

/**
 * The daemon: recovery first, then a watcher plus periodic rescans feed bounded in-memory queues;
 * downloads run in a bounded async pool and thumbnails in the worker-thread pool.
 */
export class Engine {
  /** Spool directories the last scan could not read (`incoming/uk` -> the error code): --once reports them. */
  readonly unreadable = new Map<string, string>();
  readonly stats: EngineStats = { thumbed: 0, stuck: 0, skipped: 0, failed: 0, retries: 0, spilled: 0, batches: 0, failuresByCode: {} };
  readonly spool: Spool;
  private readonly config: Config;
  private readonly log: Logger;
  /** Batches, the watcher, rescans and the arrival log. */
  private readonly intakeLog: Logger;
  /** Disk watermark and stuck jobs. */
  private readonly healthLog: Logger;
  private readonly countries: string[];
  private readonly downloader: Downloader;
  private readonly pool: ThumbnailRunner;
  private readonly processor: Processor;
  /** Hosts and datasources paused for failing too often. */
  readonly health: SourceHealth;
  private readonly attempts = new Set<Attempt>();
  private disks: DiskFree[] = [];
  /** Why downloads are paused (low disk); undefined while they run. */
  private downloadsPaused: string | undefined;
  private diskCheck: Promise<void> | undefined;
  /** The last disk check found the spool or the tree taking no write. */
  private storageUnwritable = false;
  private mode: DaemonState['mode'] = 'daemon';
  private readonly startedAt = new Date();
  private timers: NodeJS.Timeout[] = [];
  private readonly queues: Record<Stage, HostQueue<Candidate>> = { incoming: new HostQueue(), downloaded: new HostQueue() };
  /** Downloads in progress per source host: a host may start no more than download.perHost. */
  private readonly activeByHost = new Map<string, number>();
  private readonly limits: Record<Stage, number>;
  private readonly active: Record<Stage, number> = { incoming: 0, downloaded: 0 };
  /** Candidates queued or being worked on, so a scan or an event never queues one twice. */
  private readonly known = new Set<string>();
  /** Jobs waiting for their backoff: key -> due time. */
  private readonly deferred = new Map<string, { candidate: Candidate; due: number }>();
  private readonly batchTimers = new Map<string, NodeJS.Timeout>();
  /** Candidates that failed unexpectedly (outside any job's error handling), and how often. */
  private readonly unexpected = new Map<string, number>();
  private batchesRunning = 0;
  private readonly batchQueue: Array<{ country: string; name: string }> = [];
  private watcher: BatchWatcher | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private scanning: Promise<number> | undefined;
  /** The arrival log being fed into the queue (oldest segments first). */
  private feeding: Promise<number> | undefined;
  /** Countries whose arrival log this engine is feeding now: their jobs are queued in arrival order. */
  private readonly feedingSegment = new Set<string>();
  /** Countries whose arrival log may hold jobs not fed yet: new jobs of theirs queue behind them. */
  private readonly logPending: Set<string>;
  /** Batches read in part (to be read again): their lines already in the tree were counted. */
  private readonly batchesReadBefore = new Set<string>();
  /** Batches whose settling is being looked at (set before the first await, so an event burst schedules once). */
  private readonly batchLooks = new Set<string>();
  private stateWrite: Promise<void> | undefined;
  private lastScan = 0;
  private stopping = false;
  private idleWaiters: Array<() => void> = [];
  private spaceWaiters: Array<() => void> = [];
  private progressed = false;
  private readonly observer: StageObserver;
  /** This engine's work per minute, for the status page's charts and `imagesys report`. */
  private readonly minutes = new MinuteBuckets();
  private readonly historyKey = processKey(SELF.host, SELF.pid, this.startedAt.getTime());
  private readonly latest: LatestThumbnail[] = [];
  /** Where this engine serves its status page, once it does. */
  private httpUrl: string | undefined;

  constructor(options: EngineOptions) {
    this.config = options.config;
    this.log = options.log;
    this.intakeLog = options.log.child({ component: 'intake' });
    this.healthLog = options.log.child({ component: 'health' });
    this.countries = options.countries;
    this.spool = new Spool({ root: options.config.spool, fsync: options.config.fsync, staleMs: options.config.claims.staleMs, ...(options.now ? { now: options.now } : {}) });
    this.downloader = new Downloader(options.config.download);
    const { threads, tasksPerThread, nice } = options.config.pool;
    this.pool = options.pool ?? new ThumbnailPool({ threads, tasksPerThread, nice });
    // one image more per thread than it works on, so that no thread waits for the next download
    const thumbnailSlots = threads * (tasksPerThread + 1);
    this.limits = { incoming: options.config.download.concurrency, downloaded: thumbnailSlots };
    this.health = new SourceHealth(options.config.health);
    this.logPending = new Set(options.countries);
    const outer = options.observer ?? NO_OBSERVER;
    // bytes go to the history as well as to the metrics
    this.observer = {
      done: (stage, o) => {
        if (stage === 'download' && o?.bytesIn) this.minutes.bytes('bytesIn', o.bytesIn, Date.now());
        if (stage === 'thumbnail' && o?.bytesOut) this.minutes.bytes('bytesOut', o.bytesOut, Date.now());
        outer.done(stage, o);
      },
      failed: (stage, code, o) => outer.failed(stage, code, o),
      job: (country, outcome) => outer.job(country, outcome),
    };
    this.processor = new Processor({
      observer: this.observer,
      health: this.health,
      config: options.config,
      spool: this.spool,
      downloader: this.downloader,
      pool: this.pool,
      thumbnailSlots: new Semaphore(thumbnailSlots),
      log: options.log.child({ component: 'jobs' }),
      onUnwritable: async () => {
        await this.checkDisk();
        return this.storageUnwritable;
      },
    });
  }

  /** Recovery: runs before anything is watched or claimed. */
  async recover(): Promise<void> {
    await this.spool.ensureLayout(this.countries);
    const tmp = (await removeStrayTemporaries(spoolTmpDir(this.config.spool))) + (await removeStrayTemporaries(treeTmpDir(this.config.tree)));
    let originals = 0;
    for (const country of this.countries) originals += await removeOrphanOriginals(this.config.spool, country);
    const locks = await removeStaleLocks(locksDir(this.config.spool), this.config.claims.staleMs);
    for (const country of this.countries) await closeAbandonedSegments(this.config.spool, country);
    this.log.info({ temporaries: tmp, orphanOriginals: originals, staleClaims: locks }, 'recovery done');
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
        if (!this.stopping) void this.noteBatch(country, name);
      },
      (error, dir) => this.intakeLog.warn({ err: error, dir }, 'watcher error; rescans continue'),
    );
    this.ticker = setInterval(() => {
      this.tick();
      void this.feedArrivals().catch((error) => this.intakeLog.error({ err: error }, 'arrival log could not be read; the full scan covers it'));
      if (Date.now() - this.lastScan >= this.config.intake.rescanMs) void this.rescan();
    }, Math.min(1_000, this.config.intake.rescanMs));
    void this.feedArrivals().catch((error) => this.intakeLog.error({ err: error }, 'arrival log could not be read; the full scan covers it'));
    void this.rescan();
    this.log.info({ countries: this.countries, threads: this.config.pool.threads, downloads: this.config.download.concurrency }, 'engine started');
  }

  /** --once: processes everything queued (retries included), then returns. */
  async drain(onProgress?: () => void): Promise<void> {
    await this.recover();
    await this.startHousekeeping('once');
    for (;;) {
      if (this.stopping) return; // stop() was called (a signal): it finishes the work in hand
      this.progressed = false;
      const seen = (await this.feedArrivals()) + (await this.scanAll());
      await this.idle();
      onProgress?.();
      if (this.stopping || (seen === 0 && this.batchTimers.size === 0)) return;
      if (!this.progressed) await sleep(this.nextWakeMs());
      this.releaseDue();
    }
  }

  /** Stops taking work, lets the jobs in progress finish (their claims released), closes the pools. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    for (const timer of this.batchTimers.values()) clearTimeout(timer);
    this.batchTimers.clear();
    this.watcher?.close();
    // what is only queued stays in the spool for the next start, and keeps its place in the arrival
    // log: its segment was removed once it was queued
    await this.journalWaiting();
    for (const stage of ['incoming', 'downloaded'] as const) {
      for (const candidate of this.queues[stage].drain()) this.known.delete(keyOf(candidate));
    }
    this.batchQueue.splice(0);
    this.wakeScanners();
    this.checkIdle();
    // a job hung beyond its abort must not hold the stop forever: its claim goes when the process exits
    const grace = new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    await Promise.race([this.idle(), grace]);
    if (!this.isIdle()) this.log.error({ active: this.active }, 'stopping with work still hanging');
    await Promise.all([this.feeding, this.scanning, this.stateWrite]);
    await this.pool.close();
    await this.downloader.close();
    await this.spool.arrivals.close();
    await this.writeHistory(Date.now(), true);
    await removeDaemonState(this.config.spool);
  }

  /** Incoming jobs queued or waiting for their backoff go back into the arrival log. */
  private async journalWaiting(): Promise<void> {
    const waiting = [...this.queues.incoming, ...[...this.deferred.values()].map((d) => d.candidate)].filter((c) => c.stage === 'incoming');
    const byCountry = new Map<string, ArrivalLine[]>();
    for (const { country, name, host } of waiting) {
      const lines = byCountry.get(country) ?? [];
      lines.push(host ? { name, host } : { name });
      byCountry.set(country, lines);
    }
    for (const [country, names] of byCountry) {
      await this.spool.arrivals.append(country, names).catch((error) => this.intakeLog.warn({ err: error, country }, 'queued jobs could not be logged; the scan will find them'));
    }
  }

  get queueDepth(): number {
    return this.queues.incoming.length + this.queues.downloaded.length + this.active.incoming + this.active.downloaded;
  }

  get deferredCount(): number {
    return this.deferred.size;
  }

  /** Where the status page is served: told to `imagesys status` by the next state file. */
  announce(url: string): void {
    this.httpUrl = url;
  }

  /** What /metrics reads of this engine when scraped. */
  liveFigures(): LiveFigures {
    const now = Date.now();
    return {
      queue: { queued: this.queues.incoming.length + this.queues.downloaded.length, active: this.active.incoming + this.active.downloaded, deferred: this.deferred.size },
      pool: this.pool.figures?.() ?? { threads: 0, active: 0, capacity: 0, waiting: 0 },
      downloads: { inUse: this.active.incoming, limit: this.limits.incoming },
      sources: this.health.sources(now, SOURCE_LIMIT),
      disks: this.disks,
      downloadsPaused: this.downloadsPaused !== undefined,
    };
  }

  private tick(): void {
    this.releaseDue();
    this.checkStuck(Date.now());
  }

  /**
   * What runs beside the work in both modes: the disk watermark (checked before the first download),
   * the stuck-job watchdog, and the state file that `imagesys status` reads.
   */
  private async startHousekeeping(mode: DaemonState['mode']): Promise<void> {
    this.mode = mode;
    await this.checkDisk();
    const every = (ms: number, fn: () => unknown): void => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.disk.checkMs, () => void this.checkDisk());
    every(STATE_INTERVAL_MS, () => void this.writeState());
    every(this.config.health.windowMs, () => this.health.prune(Date.now()));
    if (mode === 'once') every(1_000, () => this.checkStuck(Date.now()));
    await this.writeState();
  }

  /**
   * Below the free-space watermark on the spool's or the tree's file system, or while either takes no
   * write, downloads pause. One check at a time (a refused write asks for one at once).
   */
  private checkDisk(): Promise<void> {
    this.diskCheck ??= this.checkDiskNow().finally(() => (this.diskCheck = undefined));
    return this.diskCheck;
  }

  private async checkDiskNow(): Promise<void> {
    const { minFreeMiB } = this.config.disk;
    this.disks = await measureDisks({ spool: this.config.spool, tree: this.config.tree }, minFreeMiB);
    const unwritable: string[] = [];
    for (const [role, dir] of [['spool', spoolTmpDir(this.config.spool)], ['tree', treeTmpDir(this.config.tree)]] as const) {
      const problem = await writeProblem(dir);
      if (problem) unwritable.push(`${role} ${dir} takes no write (${problem})`);
    }
    this.storageUnwritable = unwritable.length > 0;
    const low = describeLowDisks(this.disks, minFreeMiB);
    const reason = unwritable.length > 0 ? `${[...unwritable, ...(low ? [low.replace(/: downloads paused$/, '')] : [])].join(', ')}: downloads paused` : low;
    const wasPaused = this.downloadsPaused !== undefined;
    this.downloadsPaused = reason; // the text (free MiB) is refreshed; the log speaks only of changes
    if (wasPaused === (reason !== undefined)) return;
    if (reason) this.healthLog.warn({ disks: this.disks }, reason);
    else this.healthLog.info({ disks: this.disks }, 'free space above the watermark again: downloads resume');
    if (!reason) this.pump('incoming');
  }

  /**
   * An attempt that made no progress for health.stuckMs (waits for a slot do not count) is aborted:
   * its download or thumbnail is cancelled and the job retried later with code `stuck`. One that
   * ignores the abort is abandoned after min(stuckMs, ABANDON_AFTER_MS): its slot is freed, its
   * claim kept (it may still wake up and move the job) until the process ends.
   */
  private checkStuck(now: number): void {
    const { stuckMs } = this.config.health;
    for (const attempt of this.attempts) {
      const age = now - attempt.lastProgress;
      if (age < stuckMs || attempt.abandoned || (attempt.waiting && !attempt.controller.signal.aborted)) continue;
      const where = { stage: attempt.candidate.stage, country: attempt.candidate.country, job: attempt.candidate.name, ageMs: age };
      if (!attempt.controller.signal.aborted) {
        this.stats.stuck++;
        this.healthLog.warn(where, 'job made no progress: aborted, it will be retried');
        attempt.controller.abort();
      } else if (age >= stuckMs + Math.min(stuckMs, ABANDON_AFTER_MS)) {
        this.healthLog.error(where, 'stuck job ignored its abort: slot freed; the job stays claimed until this engine restarts');
        attempt.abandoned = true;
        this.settle(attempt, { kind: 'gone' });
      }
    }
  }

  private writeState(): Promise<void> {
    this.stateWrite ??= this.writeStateNow().finally(() => (this.stateWrite = undefined));
    return this.stateWrite;
  }

  private async writeStateNow(): Promise<void> {
    const s = this.stats;
    const now = Date.now();
    // finished minutes go to the history file before the state file stops showing them
    await this.writeHistory(now, false);
    const state: DaemonState = {
      version: 1,
      host: SELF.host,
      pid: SELF.pid,
      mode: this.mode,
      countries: this.countries,
      startedAt: this.startedAt.toISOString(),
      updatedAt: new Date().toISOString(),
      queued: { incoming: this.queues.incoming.length, downloaded: this.queues.downloaded.length, active: this.active.incoming + this.active.downloaded, waiting: this.deferred.size },
      stats: { thumbed: s.thumbed, skipped: s.skipped, failed: s.failed, retries: s.retries, spilled: s.spilled, batches: s.batches, stuck: s.stuck, failuresByCode: { ...s.failuresByCode } },
      paused: this.health.paused(Date.now()),
      disk: this.disks,
      ...(this.downloadsPaused ? { downloadsPaused: this.downloadsPaused } : {}),
      historyKey: this.historyKey,
      currentMinute: this.minutes.current(now),
      latest: this.latest,
      ...(this.httpUrl ? { http: this.httpUrl } : {}),
    };
    try {
      await writeDaemonState(this.spool.writer, this.config.spool, state);
    } catch (error) {
      this.log.warn({ err: error }, 'state file could not be written');
    }
  }

  /** Appends the finished minutes (all of them at a stop); kept for the next try if that fails. */
  private async writeHistory(now: number, stopping: boolean): Promise<void> {
    const finished = this.minutes.takeFinished(now, stopping);
    try {
      await appendHistory(this.config.spool, this.historyKey, finished);
    } catch (error) {
      if (stopping) {
        this.log.error({ err: error, minutes: finished.length }, 'history could not be written at the stop: these minutes are lost to `imagesys report`');
        return;
      }
      this.minutes.putBack(finished);
      this.log.warn({ err: error }, 'history could not be written; its minutes are kept for the next try');
    }
  }

  private async rescan(): Promise<void> {
    try {
      await this.scanAll();
    } catch (error) {
      this.intakeLog.error({ err: error }, 'rescan failed');
    }
  }

  /**
   * Walks incoming/ and downloaded/ of every country; returns how many jobs and batches it saw. Each
   * walk, in the daemon and in --once alike, also clears the claims and temporaries of engines that
   * died (at once on this host, after an hour for temporaries of other hosts).
   */
  private scanAll(): Promise<number> {
    this.scanning ??= (async () => {
      let seen = 0;
      try {
        for (const country of this.countries) {
          // while this engine feeds the country's arrival log, its jobs go first, oldest first: the
          // walk of incoming/ then only looks for batches (and counts jobs, so that a drain goes on)
          const ordered = await this.logHoldsWork(country);
          for (const stage of ['downloaded', 'incoming'] as const) {
            const where = `${stage}/${country}`;
            try {
              for await (const entry of this.spool.entries(stage, country)) {
                if (this.stopping) return seen;
                if (entry.name.endsWith(BATCH_SUFFIX)) await this.noteBatch(country, entry.name);
                else if ((this.unexpected.get(keyOf({ stage, country, name: entry.name })) ?? 0) >= this.config.retry.maxAttempts) continue;
                else if (!(stage === 'incoming' && ordered)) await this.offer({ stage, country, name: entry.name }, true);
                seen++;
              }
              this.unreadable.delete(where);
            } catch (error) {
              // one directory that cannot be read (permissions, not a directory) holds up no other
              if (!this.unreadable.has(where)) this.intakeLog.error({ err: error, dir: where }, 'spool directory cannot be read; the others go on, it is tried at every scan');
              this.unreadable.set(where, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
            }
          }
          await closeAbandonedSegments(this.config.spool, country);
        }
        // what engines that died meanwhile left behind: their stale claims and their temporaries
        await removeStaleLocks(locksDir(this.config.spool), this.config.claims.staleMs);
        await removeStrayTemporaries(spoolTmpDir(this.config.spool));
        await removeStrayTemporaries(treeTmpDir(this.config.tree));
        return seen;
      } finally {
        this.lastScan = Date.now();
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }

  /**
   * Feeds the arrival log into the queue: closed segments of all countries, oldest first, each under a
   * claim (engines share the backlog), waiting for queue space; a segment is removed once all its
   * lines are queued. Returns how many lines it fed. One feeder at a time.
   */
  private feedArrivals(): Promise<number> {
    this.feeding ??= (async () => {
      let fed = 0;
      try {
        const found: Array<{ country: string; segment: string }> = [];
        for (const country of this.countries) for (const segment of await closedSegments(this.config.spool, country)) found.push({ country, segment });
        found.sort((a, b) => a.segment.localeCompare(b.segment)); // names begin with their time
        for (const { country, segment } of found) {
          if (this.stopping) return fed;
          const claim = await this.spool.claims.tryClaim(`arrivals.${country}.${segment}`);
          if (!claim) continue; // another engine feeds this one
          this.feedingSegment.add(country);
          try {
            // a host whose line in the queue is full is not let in: its lines go to its overflow log, so
            // that the lines of other hosts behind them are reached (no host's backlog blocks another)
            const later = new Map<string, ArrivalLine[]>();
            for await (const line of segmentLines(this.config.spool, country, segment)) {
              if (this.stopping || claim.lost) return fed; // the segment stays for whoever comes next
              const candidate = candidateOf(country, line);
              if (line.host && this.hostLineFull(candidate)) {
                const lines = later.get(line.host);
                if (lines) lines.push(line);
                else later.set(line.host, [line]);
              } else await this.offer(candidate, true);
              fed++;
            }
            for (const [host, lines] of later) await this.spool.arrivals.append(country, lines, host);
            await removeSegment(this.config.spool, country, segment);
          } finally {
            this.feedingSegment.delete(country);
            await claim.release();
          }
        }
        // a country without closed segments (and none of ours still open) has nothing older waiting
        for (const country of this.countries) {
          if (!found.some((f) => f.country === country) && !this.spool.arrivals.holdsOpenSegment(country)) this.logPending.delete(country);
        }
        for (const country of this.countries) {
          if (this.stopping) return fed;
          fed += await this.feedOverflow(country);
        }
        return fed;
      } finally {
        this.feeding = undefined;
      }
    })();
    return this.feeding;
  }

  /**
   * Whether the country's arrival log still orders work (closed segments, an open one of ours, an
   * overflow log): then the scan counts incoming/ but leaves its jobs to the log, which knows their
   * hosts; a job whose line was lost is offered by the scan once the log is empty.
   */
  private async logHoldsWork(country: string): Promise<boolean> {
    if (this.spool.arrivals.holdsAnyOpenSegment(country)) return true;
    if ((await closedSegments(this.config.spool, country)).length > 0) return true;
    // only segments count: a stray file in an overflow directory orders nothing
    for (const overflow of await overflowLogs(this.config.spool, country)) {
      if ((await closedSegments(this.config.spool, country, overflow)).length > 0) return true;
    }
    return false;
  }

  /**
   * The overflow logs of a country's hosts: read, oldest segment first, only for a host with room in
   * the queue again, up to its share; what does not fit stays in its segment (logHoldsWork then keeps
   * the scan from offering those very jobs without their host).
   */
  private async feedOverflow(country: string): Promise<number> {
    let fed = 0;
    for (const overflow of await overflowLogs(this.config.spool, country)) {
      const segments = await closedSegments(this.config.spool, country, overflow);
      const host = overflow.startsWith('@h-') ? await this.firstHostOf(country, overflow, segments[0]) : overflow.slice(1);
      if (segments.length === 0) {
        // empty: gone, unless one of our segments is still open there
        if (host === undefined || !this.spool.arrivals.holdsOpenSegment(country, host)) await rmdir(join(arrivalsDir(this.config.spool, country), overflow)).catch(() => {});
        continue;
      }
      // refilled only once the host's line is down to half its share: a segment is read and rewritten
      // every few hundred jobs of the host, not at every one
      if (host !== undefined && this.queues.incoming.lengthOf(host) > this.hostShare() / 2) continue;
      const claim = await this.spool.claims.tryClaim(`arrivals.${country}.${overflow}`);
      if (!claim) continue;
      try {
        for (const segment of segments) {
          const rest: ArrivalLine[] = [];
          for await (const line of segmentLines(this.config.spool, country, segment, overflow)) {
            if (this.stopping || claim.lost) return fed;
            const candidate = candidateOf(country, line);
            if (rest.length > 0 || this.hostLineFull(candidate)) rest.push(line);
            else {
              await this.offer(candidate, true);
              fed++;
            }
          }
          // what did not fit stays in the same segment, in its place (oldest first)
          if (rest.length > 0) {
            await replaceSegment(this.config.spool, country, segment, rest, overflow);
            break; // the host's line is full again
          }
          await removeSegment(this.config.spool, country, segment, overflow);
        }
      } finally {
        await claim.release();
      }
    }
    return fed;
  }

  /**
   * A job intake has just made: straight into the queue while nothing older waits in the arrival log
   * and there is room; otherwise it is written to the log, behind what came before it.
   */
  private async takeFresh(country: string, job: Job): Promise<void> {
    const line = arrivalOf(job);
    const candidate: Candidate = { stage: 'incoming', country, name: line.name, fresh: job, ...(line.host ? { host: line.host } : {}) };
    if (!this.logPending.has(country) && !this.feedingSegment.has(country) && !this.hostLineFull(candidate) && this.offerNow(candidate)) return;
    this.logPending.add(country);
    await this.spool.arrivals.append(country, [line]);
  }

  /**
   * Whether a host already has its share of the download queue waiting (a quarter of it, and at least
   * four times its perHost): more of its jobs wait in the arrival log instead. Jobs of unknown host
   * (found by a scan) have no line of their own.
   */
  private hostLineFull(candidate: Candidate): boolean {
    if (!candidate.host || candidate.stage !== 'incoming') return false;
    return this.queues.incoming.lengthOf(candidate.host) >= this.hostShare();
  }

  /** The jobs one host may have waiting in the download queue. */
  private hostShare(): number {
    return Math.max(4 * this.config.download.perHost, Math.ceil(this.config.intake.queueLimit / 4));
  }

  /** The host of an overflow log whose directory name is a digest: its first line says. */
  private async firstHostOf(country: string, overflow: string, segment: string | undefined): Promise<string | undefined> {
    if (segment === undefined) return undefined;
    for await (const line of segmentLines(this.config.spool, country, segment, overflow)) return line.host;
    return undefined;
  }

  /** Queues a candidate unless it is known or waiting for its backoff; scans wait for space. */
  private async offer(candidate: Candidate, wait: boolean): Promise<void> {
    if (!this.isOfferable(candidate)) return;
    while (this.queues[candidate.stage].length >= this.config.intake.queueLimit) {
      if (!wait || this.stopping) return; // a rescan will find it
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    this.enqueue(candidate, false);
  }

  /** Queues at once if there is room (or it is queued already); false when the queue is full. */
  private offerNow(candidate: Candidate): boolean {
    if (this.known.has(keyOf(candidate))) return true;
    if (this.queues[candidate.stage].length >= this.config.intake.queueLimit) return false;
    this.enqueue(candidate, false);
    return true;
  }

  /** Not queued or in hand already, and not waiting for its backoff. */
  private isOfferable(candidate: Candidate): boolean {
    const key = keyOf(candidate);
    if (this.known.has(key)) return false;
    const deferred = this.deferred.get(key);
    return !deferred || deferred.due <= Date.now();
  }

  /** `front`: work that was due before anything queued now (a due retry, a dead engine's claim). */
  private enqueue(candidate: Candidate, front: boolean): void {
    if (this.stopping || !this.isOfferable(candidate)) return; // what is not queued stays in the spool
    const key = keyOf(candidate);
    this.deferred.delete(key);
    this.known.add(key);
    if (front) this.queues[candidate.stage].unshift(candidate);
    else this.queues[candidate.stage].push(candidate);
    this.pump(candidate.stage);
  }

  /** Downloads pause while the originals set down in downloaded/ pile up (the CPU is behind). */
  private mayStart(stage: Stage): boolean {
    if (stage === 'downloaded') return true;
    if (this.downloadsPaused) return false;
    return this.queues.downloaded.length + this.active.downloaded < this.config.intake.queueLimit;
  }

  private pump(stage: Stage): void {
    const queue = this.queues[stage];
    // downloads: hosts in turn, and none beyond its perHost (it would only wait in the downloader,
    // holding a slot another host could use); the thumbnail stage has one line
    const { perHost } = this.config.download;
    const hostMayStart = (host: string): boolean => stage !== 'incoming' || host === '' || (this.activeByHost.get(host) ?? 0) < perHost;
    while (!this.stopping && this.active[stage] < this.limits[stage] && queue.length > 0 && this.mayStart(stage)) {
      const candidate = queue.take(hostMayStart);
      if (!candidate) break;
      this.active[stage]++;
      if (stage === 'incoming' && candidate.host) this.activeByHost.set(candidate.host, (this.activeByHost.get(candidate.host) ?? 0) + 1);
      void this.work(candidate);
    }
    if (queue.length < this.config.intake.queueLimit) this.wakeScanners();
    this.checkIdle();
  }

  private async work(candidate: Candidate): Promise<void> {
    const attempt: Attempt = { candidate, lastProgress: Date.now(), waiting: false, controller: new AbortController(), abandoned: false };
    this.attempts.add(attempt);
    let outcome: Outcome;
    try {
      outcome = await this.processor.process(candidate.stage, candidate.country, candidate.name, candidate.fresh, {
        signal: attempt.controller.signal,
        progress: (waiting) => {
          attempt.lastProgress = Date.now();
          attempt.waiting = waiting;
        },
      });
    } catch (error) {
      // outside any job's error handling (a file that cannot be claimed or read): back off, and after
      // retry.maxAttempts leave it alone until the next start, so that a drain can finish
      const key = keyOf(candidate);
      const count = (this.unexpected.get(key) ?? 0) + 1;
      this.unexpected.set(key, count);
      const delay = Math.min(this.config.retry.maxMs, 1_000 * 2 ** count);
      this.log.error({ err: error, ...candidate, count }, count >= this.config.retry.maxAttempts ? 'unexpected error; file left alone until restart' : 'unexpected error; the file stays where it is');
      outcome = { kind: 'deferred', until: Date.now() + delay };
      if (count >= this.config.retry.maxAttempts) outcome = { kind: 'gone' };
    }
    if (!attempt.abandoned) this.settle(attempt, outcome);
  }

  /** An attempt is over: its outcome is recorded and its slot goes to the next job. */
  private settle(attempt: Attempt, outcome: Outcome): void {
    const { candidate } = attempt;
    this.attempts.delete(attempt);
    this.record(candidate, outcome);
    this.known.delete(keyOf(candidate));
    this.active[candidate.stage]--;
    if (candidate.stage === 'incoming' && candidate.host) {
      const left = (this.activeByHost.get(candidate.host) ?? 1) - 1;
      if (left > 0) this.activeByHost.set(candidate.host, left);
      else this.activeByHost.delete(candidate.host);
    }
    this.pump('downloaded');
    this.pump('incoming');
  }

  /** A job came to rest in failed/. */
  private countFailed(country: string, code: string): void {
    this.progressed = true;
    this.stats.failed++;
    this.stats.failuresByCode[code] = (this.stats.failuresByCode[code] ?? 0) + 1;
    this.minutes.count('failed', Date.now(), code);
    this.observer.job(country, 'failed');
  }

  private record(offered: Candidate, outcome: Outcome): void {
    // what was fresh is stale after an attempt: read it from disk next time
    const { fresh: _fresh, ...candidate } = offered;
    switch (outcome.kind) {
      case 'thumbed':
        this.progressed = true;
        if (outcome.skipped) this.stats.skipped++;
        else this.stats.thumbed++;
        this.minutes.count(outcome.skipped ? 'skipped' : 'thumbed', Date.now());
        this.observer.job(candidate.country, outcome.skipped ? 'skipped' : 'thumbed');
        if (outcome.made) {
          this.latest.unshift(outcome.made);
          this.latest.length = Math.min(this.latest.length, LATEST_SHOWN);
        }
        return;
      case 'failed':
        this.countFailed(candidate.country, outcome.code);
        return;
      case 'retry':
        this.progressed = true;
        this.stats.retries++;
        this.minutes.count('retries', Date.now());
        this.observer.job(candidate.country, 'retried');
        if (outcome.until > Date.now()) this.deferred.set(keyOf(candidate), { candidate, due: outcome.until });
        return;
      case 'deferred':
        this.deferred.set(keyOf(candidate), { candidate, due: outcome.until });
        return;
      case 'paused':
        // spread over a tenth of the wait, so that a source's jobs do not all come back at once
        this.deferred.set(keyOf(candidate), { candidate, due: outcome.until + Math.random() * Math.max(0, outcome.until - Date.now()) * 0.1 });
        return;
      case 'spilled':
        this.progressed = true;
        this.stats.spilled++;
        void this.offer({ stage: 'downloaded', country: candidate.country, name: candidate.name }, false);
        return;
      case 'busy':
        // another engine holds it: if that engine is dead, its claim goes stale; look again then
        this.deferred.set(keyOf(candidate), { candidate, due: Date.now() + this.config.claims.staleMs + 100 });
        return;
      case 'gone':
        return;
    }
  }

  /**
   * Due retries go back into the queues, at the front (they were due before anything queued now), as
   * far as there is room; the rest stay due for the next tick.
   */
  private releaseDue(): void {
    const now = Date.now();
    for (const { candidate, due } of [...this.deferred.values()]) {
      if (due > now) continue;
      if (this.queues[candidate.stage].length >= this.config.intake.queueLimit) continue;
      this.enqueue(candidate, true);
    }
  }

  private nextWakeMs(): number {
    let next = 1_000;
    for (const { due } of this.deferred.values()) next = Math.min(next, due - Date.now());
    return Math.max(50, next);
  }

  /** A plain-written batch is read once it stopped changing for settleMs. */
  private async noteBatch(country: string, name: string): Promise<void> {
    try {
      await this.scheduleBatch(country, name);
    } catch (error) {
      this.intakeLog.error({ err: error, country, batch: name }, 'batch could not be looked at; the next scan tries again');
    }
  }

  private async scheduleBatch(country: string, name: string): Promise<void> {
    const key = `${country}/${name}`;
    if (this.batchLooks.has(key) || this.batchTimers.has(key) || this.batchQueue.some((b) => b.country === country && b.name === name)) return;
    let mtimeMs: number;
    this.batchLooks.add(key);
    try {
      // lstat: a link is judged as itself (and refused when read), never by what it points to
      mtimeMs = (await lstat(join(stateDir(this.config.spool, 'incoming', country), name))).mtimeMs;
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    } finally {
      this.batchLooks.delete(key);
    }
    if (this.stopping) return;
    const wait = mtimeMs + this.config.intake.settleMs - Date.now();
    if (wait > 0) {
      this.batchTimers.set(key, setTimeout(() => {
        this.batchTimers.delete(key);
        void this.noteBatch(country, name);
      }, wait + 10));
      return;
    }
    this.batchQueue.push({ country, name });
    void this.runBatches();
  }

  /** A batch left in place (it grew, or a job's claim was held) is read again once claims could go stale. */
  private retryBatchLater(country: string, name: string): void {
    const key = `${country}/${name}`;
    if (this.batchTimers.has(key) || this.stopping) return;
    const wait = Math.min(this.config.claims.staleMs, this.config.intake.rescanMs);
    this.batchTimers.set(key, setTimeout(() => {
      this.batchTimers.delete(key);
      void this.noteBatch(country, name);
    }, wait));
  }

  private async runBatches(): Promise<void> {
    if (this.batchesRunning > 0) return;
    this.batchesRunning++;
    try {
      while (this.batchQueue.length > 0 && !this.stopping) {
        const { country, name } = this.batchQueue[0]!;
        try {
          const began = performance.now();
          const result = await ingestBatch(this.spool, this.config.tree, country, name, (job) => this.takeFresh(country, job), this.config.intake);
          if (result?.refused) {
            this.progressed = true;
            this.intakeLog.warn({ country, batch: name, reason: result.refused }, 'batch set aside in failed/');
          } else if (result) {
            const { queued, in_tree: inTree, invalid } = result.counts;
            // a batch read again (it grew, or a claim was busy) meets its earlier lines as duplicates,
            // or as already in the tree: those are counted at its first reading only; an invalid line
            // is a job that failed at once
            const key = `${country}/${name}`;
            const counted = queued + (this.batchesReadBefore.has(key) ? 0 : inTree);
            if (result.removed) this.batchesReadBefore.delete(key);
            else this.batchesReadBefore.add(key);
            this.observer.done('intake', { seconds: (performance.now() - began) / 1000, count: counted });
            for (let i = 0; i < invalid; i++) this.countFailed(country, 'invalid_url');
            if (invalid > 0) this.observer.failed('intake', 'invalid_url', { count: invalid });
            if (result.removed || queued + inTree + invalid > 0) this.progressed = true;
            if (result.removed) this.stats.batches++;
            else this.retryBatchLater(country, name);
            this.intakeLog.info({ country, batch: name, ...result.counts, complete: result.removed }, 'batch read');
          }
        } catch (error) {
          this.intakeLog.error({ err: error, country, batch: name }, 'batch could not be read; it stays for the next scan');
        }
        this.batchQueue.shift();
      }
    } finally {
      this.batchesRunning--;
      this.checkIdle();
    }
  }

  private wakeScanners(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const wake of waiters) wake();
  }

  private isIdle(): boolean {
    return this.active.incoming + this.active.downloaded === 0 && this.queues.incoming.length + this.queues.downloaded.length === 0 && this.batchesRunning === 0 && this.batchQueue.length === 0;
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

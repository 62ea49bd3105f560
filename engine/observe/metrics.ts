/**
 * The daemon's Prometheus metrics. Stages report through the small StageObserver interface (they do
 * not know prom-client); gauges are read when scraped, from the engine (`live`) and from the spool
 * (`spool`, counted in the background and cached, since a state directory may hold a million jobs).
 * Labels are bounded: stage, outcome, error code, country (configured), state, target (configured),
 * disk role, and source for at most SOURCE_LIMIT hosts and datasources. Never a URL or a hash.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { State } from '../../spool/layout.js';
import type { DiskFree } from '../health/disk.js';
import { isErrorCode } from '../core/errors.js';
import type { SourceFigures } from '../health/health.js';
import type { TargetStatus } from '../sweep/target-status.js';
import type { TargetCanary } from '../canary/record.js';
import { CanaryMetrics } from './canary-metrics.js';
import type { PoolFigures } from '../thumbnails/thumbnail-pool.js';

export type Stage = 'intake' | 'download' | 'thumbnail';

/** What the stages tell the metrics. */
export interface StageObserver {
  /** One item through a stage: a download, an image's thumbnails, a batch's URLs. */
  /** `seconds` is left undefined when the item never really started (a download refused before its request). */
  done(stage: Stage, options?: { seconds?: number | undefined; bytesIn?: number; bytesOut?: number; count?: number }): void;
  failed(stage: Stage, code: string, options?: { seconds?: number | undefined; count?: number }): void;
  /** A job came to rest, or was put back for a retry. */
  job(country: string, outcome: 'thumbed' | 'skipped' | 'failed' | 'retried'): void;
}

export const NO_OBSERVER: StageObserver = { done: () => {}, failed: () => {}, job: () => {} };

/** What the engine knows of itself when scraped. */
export interface LiveFigures {
  /** Jobs held in memory: waiting for a slot, in progress, waiting for a retry or a paused source. */
  queue: { queued: number; active: number; deferred: number };
  pool: PoolFigures;
  downloads: { inUse: number; limit: number };
  sources: SourceFigures[];
  disks: DiskFree[];
  downloadsPaused: boolean;
  /** The spool file system's clock minus this host's, in ms (absent until measured). */
  clockOffsetMs?: number;
}

/** What the spool holds, as last counted. */
export interface SpoolFigures {
  counts: Record<string, Record<State, number>>;
  batches: number;
  targets: TargetStatus[];
  canary: TargetCanary[];
}

/** Hosts and datasources shown, paused ones first, then the busiest. */
export const SOURCE_LIMIT = 50;

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Error codes come from one table; anything else (a bug) is counted as `other`, not as a new label. */
const boundedCode = (code: string): string => (isErrorCode(code) ? code : 'other');

export class Metrics implements StageObserver {
  readonly registry = new Registry();
  private readonly stageDone: Counter<'stage'>;
  private readonly stageFailures: Counter<'stage' | 'code'>;
  private readonly stageSeconds: Histogram<'stage'>;
  private readonly stageBytes: Counter<'stage' | 'direction'>;
  private readonly jobs: Counter<'country' | 'outcome'>;
  private readonly countries: Set<string>;
  /** Hears the canaries this engine checks. */
  readonly canary: CanaryMetrics;

  constructor(options: { countries: readonly string[]; live: () => LiveFigures; spool: () => Promise<SpoolFigures> }) {
    const registers = [this.registry];
    const { live, spool } = options;
    this.countries = new Set(options.countries);
    collectDefaultMetrics({ register: this.registry, prefix: 'imagesys_' });
    this.canary = new CanaryMetrics(registers, async () => (await spool()).canary);
    this.stageDone = new Counter({ name: 'imagesys_stage_done_total', help: 'Items through a stage: downloads, images thumbnailed, URLs taken from batches', labelNames: ['stage'], registers });
    this.stageFailures = new Counter({ name: 'imagesys_stage_failures_total', help: 'Failed attempts at a stage, by error code (a retried job counts each attempt)', labelNames: ['stage', 'code'], registers });
    this.stageSeconds = new Histogram({ name: 'imagesys_stage_duration_seconds', help: 'Time an item spent in a stage (a download, a thumbnail task, reading a batch)', labelNames: ['stage'], buckets: DURATION_BUCKETS, registers });
    this.stageBytes = new Counter({ name: 'imagesys_stage_bytes_total', help: 'Bytes into and out of a stage: originals downloaded, originals thumbnailed and thumbnails written', labelNames: ['stage', 'direction'], registers });
    this.jobs = new Counter({ name: 'imagesys_jobs_total', help: 'Jobs that came to rest (thumbed, skipped: already in the tree, failed) or were put back to retry', labelNames: ['country', 'outcome'], registers });

    // every known series starts at 0, so that rate() sees the first increase
    for (const stage of ['intake', 'download', 'thumbnail'] as const) {
      this.stageDone.inc({ stage }, 0);
      this.stageBytes.inc({ stage, direction: 'in' }, 0);
    }
    this.stageBytes.inc({ stage: 'thumbnail', direction: 'out' }, 0);
    for (const country of this.countries) for (const outcome of ['thumbed', 'skipped', 'failed', 'retried']) this.jobs.inc({ country, outcome }, 0);

    new Gauge({
      name: 'imagesys_queue_jobs',
      help: 'Jobs in each spool state per country, as last counted (every http.refreshSeconds at most)',
      labelNames: ['state', 'country'],
      registers,
      async collect() {
        const figures = await spool();
        this.reset();
        for (const [country, row] of Object.entries(figures.counts)) for (const [state, n] of Object.entries(row)) this.set({ state, country }, n);
      },
    });
    new Gauge({ name: 'imagesys_batches_waiting', help: 'Batch files in incoming/ not yet read', registers, async collect() { this.set((await spool()).batches); } });
    new Gauge({
      name: 'imagesys_engine_jobs',
      help: "Jobs in this engine's hands: queued for a slot, active, deferred (backoff or a paused source)",
      labelNames: ['phase'],
      registers,
      collect() {
        const { queue } = live();
        for (const [phase, n] of Object.entries(queue)) this.set({ phase }, n);
      },
    });
    new Gauge({ name: 'imagesys_pool_threads', help: 'sharp worker threads', registers, collect() { this.set(live().pool.threads); } });
    new Gauge({ name: 'imagesys_pool_active_tasks', help: 'Thumbnail tasks running now', registers, collect() { this.set(live().pool.active); } });
    new Gauge({ name: 'imagesys_pool_task_slots', help: 'Thumbnail tasks that may run at once (threads x pool.tasksPerThread)', registers, collect() { this.set(live().pool.capacity); } });
    new Gauge({
      name: 'imagesys_pool_busy_ratio',
      help: 'Share of the task slots in use now (over time: rate of imagesys_stage_duration_seconds_sum{stage="thumbnail"} / slots)',
      registers,
      collect() {
        const { pool } = live();
        this.set(pool.capacity > 0 ? pool.active / pool.capacity : 0);
      },
    });
    new Gauge({ name: 'imagesys_pool_waiting_tasks', help: 'Thumbnail tasks waiting for a thread', registers, collect() { this.set(live().pool.waiting); } });
    new Gauge({
      name: 'imagesys_download_slots',
      help: 'Download slots in use and their limit (download.concurrency)',
      labelNames: ['kind'],
      registers,
      collect() {
        const { downloads } = live();
        this.set({ kind: 'in_use' }, downloads.inUse);
        this.set({ kind: 'limit' }, downloads.limit);
      },
    });
    const sourceLabels = (s: SourceFigures): { kind: string; source: string } => {
      const colon = s.source.indexOf(':');
      return { kind: s.source.slice(0, colon), source: s.source.slice(colon + 1) };
    };
    const perSource = (name: string, help: string, value: (s: SourceFigures) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['kind', 'source'],
        registers,
        collect() {
          this.reset(); // a source that left the window leaves the metrics too
          for (const s of live().sources) this.set(sourceLabels(s), value(s));
        },
      });
    };
    perSource('imagesys_source_failure_ratio', `Share of recent attempts that failed transiently, per host and datasource (the ${SOURCE_LIMIT} busiest, paused ones first)`, (s) => (s.attempts > 0 ? s.failures / s.attempts : 0));
    perSource('imagesys_source_attempts', 'Attempts in the health window, per host and datasource', (s) => s.attempts);
    perSource('imagesys_source_paused', '1 while a host or datasource is paused for failing too often (or for its Retry-After)', (s) => (s.paused ? 1 : 0));
    new Gauge({
      name: 'imagesys_spool_clock_offset_seconds',
      help: "The spool file system's clock minus this host's (negative: this host is ahead), measured at start and every disk check",
      registers,
      collect() {
        const offset = live().clockOffsetMs;
        if (offset === undefined) this.reset();
        else this.set(offset / 1000);
      },
    });
    new Gauge({ name: 'imagesys_downloads_paused', help: '1 while downloads are paused for low disk space', registers, collect() { this.set(live().downloadsPaused ? 1 : 0); } });
    new Gauge({
      name: 'imagesys_disk_free_bytes',
      help: 'Free space for ImageSys on the file system of the spool and of the tree',
      labelNames: ['role'],
      registers,
      collect() {
        for (const d of live().disks) this.set({ role: d.role }, d.freeMiB * 1024 * 1024);
      },
    });
    new Gauge({
      name: 'imagesys_disk_size_bytes',
      help: 'Size of the file system of the spool and of the tree',
      labelNames: ['role'],
      registers,
      collect() {
        for (const d of live().disks) this.set({ role: d.role }, d.totalMiB * 1024 * 1024);
      },
    });
    const perTarget = (name: string, help: string, value: (t: TargetStatus) => number | null): void => {
      new Gauge({
        name,
        help,
        labelNames: ['target'],
        registers,
        async collect() {
          this.reset();
          for (const t of (await spool()).targets) {
            const v = value(t);
            if (v !== null) this.set({ target: t.target }, v);
          }
        },
      });
    };
    perTarget('imagesys_sync_lag_seconds', 'Seconds since the start of the last sweep that left the target level (absent until it once was: see the timestamp)', (t) => t.lagSeconds);
    perTarget('imagesys_sync_last_level_timestamp_seconds', 'When the last sweep that left the target level started (0: never), for alerts on time() minus it', (t) => (t.lastLevelAt ? Date.parse(t.lastLevelAt) / 1000 : 0));
    perTarget('imagesys_sync_last_duration_seconds', 'How long the last sweep spent on the target (its rsync runs included)', (t) => t.lastSeconds);
    perTarget('imagesys_sync_backlog', 'Images and deletions the last sweep left waiting for the target', (t) => t.backlog);
    // the sweeper is a cron job: its totals come from its records, kept across its runs
    new Counter({
      name: 'imagesys_sync_images_total',
      help: 'Images sent to and deleted from each target, over all sweeps',
      labelNames: ['target', 'action'],
      registers,
      async collect() {
        this.reset();
        for (const t of (await spool()).targets) {
          this.inc({ target: t.target, action: 'sent' }, t.sentTotal);
          this.inc({ target: t.target, action: 'deleted' }, t.deletedTotal);
        }
      },
    });
    new Counter({
      name: 'imagesys_sync_behind_total',
      help: 'Sweeps that left the target behind (it was down, or too slow)',
      labelNames: ['target'],
      registers,
      async collect() {
        this.reset();
        for (const t of (await spool()).targets) this.inc({ target: t.target }, t.behindTotal);
      },
    });
  }

  done(stage: Stage, options: { seconds?: number | undefined; bytesIn?: number; bytesOut?: number; count?: number } = {}): void {
    this.stageDone.inc({ stage }, options.count ?? 1);
    if (options.seconds !== undefined) this.stageSeconds.observe({ stage }, options.seconds);
    if (options.bytesIn) this.stageBytes.inc({ stage, direction: 'in' }, options.bytesIn);
    if (options.bytesOut) this.stageBytes.inc({ stage, direction: 'out' }, options.bytesOut);
  }

  failed(stage: Stage, code: string, options: { seconds?: number | undefined; count?: number } = {}): void {
    this.stageFailures.inc({ stage, code: boundedCode(code) }, options.count ?? 1);
    if (options.seconds !== undefined) this.stageSeconds.observe({ stage }, options.seconds);
  }

  job(country: string, outcome: 'thumbed' | 'skipped' | 'failed' | 'retried'): void {
    this.jobs.inc({ country: this.countries.has(country) ? country : 'other', outcome });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

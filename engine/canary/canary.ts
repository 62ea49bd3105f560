/**
 * The canary: live continuous testing of the whole path. Every `canary.intervalMinutes` one engine
 * of the spool (the first to claim the interval's slot) drops a batch with one fresh URL into
 * incoming/<canary country>/, the same door as ETL's; any engine downloads and thumbnails it as any
 * job; the cron'd sweeper sends it. This engine looks where it got to until it is in the local tree
 * and on every target (listed with rsync), or its deadline passes: then the verdict is recorded,
 * counted, logged, and its image removed everywhere.
 */
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Spool } from '../../spool/spool.js';
import { isOwnerDead, ownerTag, SELF } from '../../spool/owner.js';
import { entryPath } from '../../spool/layout.js';
import { discard } from '../../spool/transitions.js';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import { hashForUrl } from '../core/hash.js';
import { removeImage } from '../sweep/purge.js';
import { canaryBatchName, canaryPath } from '../core/canary-path.js';
import { RsyncLister } from './lister.js';
import { probe, type Listing, type ProbeContext } from './probe.js';
import { advance, CANARY_DATASOURCE, latencyOf, LOCAL_TARGET, newRecord, timingsOf, type CanaryRecord, type CanaryStage } from './record.js';
import { claimSlot, pruneRecords, readRecords, saveRecord } from './store.js';

/** What the metrics hear of each decided canary. */
export interface CanaryObserver {
  canaryArrived(target: string, seconds: number): void;
  canaryFailed(stage: CanaryStage, target: string): void;
}

/** How often a pending canary is looked at: often enough to time it, rarely enough to cost nothing. */
export function checkEveryMs(deadlineMs: number): number {
  return Math.min(10_000, Math.max(250, Math.round(deadlineMs / 30)));
}

export interface CanaryOptions {
  config: Config;
  spool: Spool;
  clock: Clock;
  log: Logger;
  observer: CanaryObserver;
  /** The origin canaries are downloaded from (`http://127.0.0.1:9464`): this daemon's server or `canary.source`. */
  origin: string;
}

export class CanaryRunner {
  private readonly intervalMs: number;
  private readonly deadlineMs: number;
  private readonly probeContext: ProbeContext;
  private readonly lister = new RsyncLister();
  private readonly targetNames: string[];
  /**
   * The canaries this engine checks, by slot (its own, and those it took over), each with its last
   * listing per target (a target is listed again only after a sweep of it).
   */
  private readonly pending = new Map<number, { record: CanaryRecord; listed: Map<string, Listing> }>();
  private stopping = false;
  private lastSlot: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: CanaryOptions) {
    const { canary, sweep, spool, tree } = options.config;
    this.intervalMs = canary.intervalMinutes * 60_000;
    this.deadlineMs = canary.deadlineMinutes * 60_000;
    this.probeContext = { spool, tree, rsync: { rsync: sweep.rsync, timeoutSeconds: sweep.timeoutSeconds, connectTimeoutSeconds: sweep.connectTimeoutSeconds, bwlimitKiB: 0 }, lister: this.lister, jobs: options.spool };
    this.targetNames = sweep.targets.map((t) => t.name);
  }

  /** Takes over the canaries left unfinished by engines that are gone, then looks every checkEveryMs. */
  async start(): Promise<void> {
    await this.adoptOrphans();
    this.timer = setInterval(() => void this.tick(), checkEveryMs(this.deadlineMs));
    this.timer.unref();
    void this.tick();
  }

  /** Stops looking; a listing of a stalled target in progress is cut short, not waited for. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.lister.close();
    await this.running;
  }

  /** One round: send this interval's canary if no engine has, then look at those pending. */
  tick(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    try {
      await this.maybeSend();
    } catch (error) {
      this.options.log.error({ err: error }, 'canary not sent; the next interval tries again');
    }
    for (const { record, listed } of [...this.pending.values()]) {
      if (this.stopping) return;
      try {
        await this.check(record, listed);
      } catch (error) {
        this.options.log.warn({ err: error, slot: record.slot, id: record.id }, 'canary could not be checked or removed; the next round tries again');
      }
    }
  }

  /** Canaries whose sender is gone: a dead process of this host, or any engine once twice its deadline has passed. */
  private async adoptOrphans(): Promise<void> {
    const now = this.options.clock();
    for (const record of await readRecords(this.options.config.spool)) {
      if (record.purged || this.pending.has(record.slot) || record.by === ownerTag(SELF)) continue;
      const [host = '', pid = ''] = record.by.split('~');
      const overdue = now > Date.parse(record.deadlineAt) + this.deadlineMs;
      if (isOwnerDead({ host, pid: Number(pid) }) || overdue) this.pending.set(record.slot, { record, listed: new Map() });
    }
  }

  private async maybeSend(): Promise<void> {
    const { config, spool, clock, log } = this.options;
    const now = clock();
    const slot = Math.floor(now / this.intervalMs);
    if (slot === this.lastSlot) return;
    if (this.lastSlot !== undefined) await this.adoptOrphans();
    this.lastSlot = slot;
    const id = randomBytes(8).toString('hex');
    const url = `${this.options.origin}${canaryPath({ slot, id })}`;
    const record = newRecord({ slot, id, url, hash: hashForUrl(url), country: config.canary.country, by: ownerTag(SELF), now, deadlineMs: this.deadlineMs });
    if (!(await claimSlot(spool.writer, spool.root, record))) return; // another engine sent this interval's
    // checked from now on: a batch that cannot be written (a full disk) fails at intake by the deadline
    this.pending.set(slot, { record, listed: new Map() });
    await spool.ensureLayout([record.country]);
    // through the same door as ETL's URLs: a batch, written whole
    await spool.writer.write(entryPath(spool.root, 'incoming', record.country, canaryBatchName(id)), `${url}\t${CANARY_DATASOURCE}\n`);
    log.info({ slot, id, hash: record.hash, url }, 'canary sent');
    await pruneRecords(spool.root);
  }

  /** One look; the verdict, once there is one, is saved and reported before the canary is removed. */
  private async check(record: CanaryRecord, listed: Map<string, Listing>): Promise<void> {
    const { config, spool, clock } = this.options;
    let next = record;
    if (!record.result) {
      const pending = config.sweep.targets.filter((t) => record.arrived[t.name] === undefined);
      const seen = await probe(this.probeContext, record, pending, listed);
      if (this.stopping) return; // a listing the stop cut short says nothing of the target
      next = advance(record, seen, this.targetNames, clock());
      if (JSON.stringify(next) !== JSON.stringify(record)) await saveRecord(spool.writer, spool.root, next);
      this.pending.set(next.slot, { record: next, listed });
      if (next.result) this.report(next);
    }
    if (!next.result || !(await this.removeCanary(next))) return;
    await saveRecord(spool.writer, spool.root, { ...next, purged: true });
    this.pending.delete(next.slot);
  }

  private report(record: CanaryRecord): void {
    const { observer, log } = this.options;
    for (const target of [LOCAL_TARGET, ...this.targetNames]) {
      const seconds = latencyOf(record, target);
      if (seconds !== undefined) observer.canaryArrived(target, seconds);
    }
    for (const failure of record.result!.failures) observer.canaryFailed(failure.stage, failure.target);
    const about = { slot: record.slot, id: record.id, hash: record.hash, timings: timingsOf(record) };
    if (record.result!.ok) log.info(about, 'canary arrived everywhere');
    else log.error({ ...about, failures: record.result!.failures }, 'canary failed: it did not arrive everywhere by its deadline');
  }

  /** Its job out of the spool and its image out of the tree and every target; false while its job is busy. */
  private async removeCanary(record: CanaryRecord): Promise<boolean> {
    const { spool, config } = this.options;
    const name = canaryBatchName(record.id);
    const [batchClaim, claim] = await Promise.all([spool.claimBatch(record.country, name), spool.claimJob(record.country, record.hash)]);
    try {
      if (!batchClaim || !claim) return false; // being worked on: the next round
      await unlink(entryPath(spool.root, 'incoming', record.country, name)).catch(() => {}); // an unread batch
      await discard(spool, record.country, record.hash, claim);
      await removeImage({ spool, tree: config.tree, targets: this.targetNames }, record.country, record.hash);
      return true;
    } finally {
      await Promise.all([batchClaim?.release(), claim?.release()]);
    }
  }
}

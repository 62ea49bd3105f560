import type { Job } from '../../spool/job.js';
import type { WorkState } from '../../spool/transitions.js';
import type { Clock } from '../core/clock.js';
import { HostQueue } from './host-queue.js';

/** The states an engine works on: a job in incoming/ is downloaded, one in downloaded/ thumbnailed. */
export const WORK_STATES: readonly WorkState[] = ['incoming', 'downloaded'];

/** One job file the engine may work on. */
export interface Candidate {
  state: WorkState;
  country: string;
  name: string;
  /** Content of a job this engine has just made (saves reading it back). */
  fresh?: Job;
  /** The host its URL is fetched from, when known (fresh jobs, arrival log lines): downloads are served per host in turn. */
  host?: string;
}

export interface QueueLimits {
  /** Downloads at once (download.concurrency). */
  downloads: number;
  /** Images in the thumbnail state at once (threads x (tasksPerThread + 1)). */
  thumbnails: number;
  /** Downloads at once from one host (download.perHost). */
  perHost: number;
  /** Candidates waiting per state (intake.queueLimit). */
  queueLimit: number;
}

export const keyOf = (c: Candidate): string => `${c.state}/${c.country}/${c.name}`;

/**
 * The engine's queues, in memory and without I/O: what waits per state (hosts in turn), what is in hand
 * (per state and per host), and what waits for its due time (a backoff, a paused source, a busy claim).
 * A candidate is in at most one of these at once, so a scan or an event never queues it twice. The
 * engine asks `startable` for work and tells `finish` when an attempt is over.
 */
export class Queues {
  private readonly waiting: Record<WorkState, HostQueue<Candidate>> = { incoming: new HostQueue(), downloaded: new HostQueue() };
  private readonly active: Record<WorkState, number> = { incoming: 0, downloaded: 0 };
  private readonly activeByHost = new Map<string, number>();
  /** Candidates queued or in hand. */
  private readonly known = new Set<string>();
  /** Candidates waiting for their due time: key -> due time. */
  private readonly deferred = new Map<string, { candidate: Candidate; due: number }>();
  private roomWaiters: Array<() => void> = [];
  private closed = false;

  /** `onQueued`: a candidate was queued in a state (the engine starts what may start). */
  constructor(
    private readonly limits: QueueLimits,
    private readonly clock: Clock,
    private readonly onQueued: (state: WorkState) => void = () => {},
  ) {}

  queued(state: WorkState): number {
    return this.waiting[state].length;
  }

  inHand(state: WorkState): number {
    return this.active[state];
  }

  get deferredCount(): number {
    return this.deferred.size;
  }

  /** Queued per state, in hand (both states), waiting for a due time. */
  figures(): { incoming: number; downloaded: number; active: number; deferred: number } {
    return { incoming: this.waiting.incoming.length, downloaded: this.waiting.downloaded.length, active: this.active.incoming + this.active.downloaded, deferred: this.deferred.size };
  }

  get limitOf(): Readonly<Record<WorkState, number>> {
    return { incoming: this.limits.downloads, downloaded: this.limits.thumbnails };
  }

  hasRoom(state: WorkState): boolean {
    return this.waiting[state].length < this.limits.queueLimit;
  }

  /** The jobs one host may have waiting in the download queue: a quarter of it, and at least four times its perHost. */
  hostShare(): number {
    return Math.max(4 * this.limits.perHost, Math.ceil(this.limits.queueLimit / 4));
  }

  /** Jobs of one host waiting for a download. */
  hostWaiting(host: string): number {
    return this.waiting.incoming.lengthOf(host);
  }

  /** Whether a host already has its share of the download queue waiting; jobs of unknown host have no line of their own. */
  hostLineFull(candidate: Candidate): boolean {
    if (!candidate.host || candidate.state !== 'incoming') return false;
    return this.hostWaiting(candidate.host) >= this.hostShare();
  }

  /** Not queued or in hand already, and not waiting for its due time. */
  isOfferable(candidate: Candidate): boolean {
    const key = keyOf(candidate);
    if (this.known.has(key)) return false;
    const deferred = this.deferred.get(key);
    return !deferred || deferred.due <= this.clock();
  }

  /** Queues at once if there is room (or it is queued already); false when the queue is full. */
  offerNow(candidate: Candidate): boolean {
    if (this.known.has(keyOf(candidate))) return true;
    if (!this.hasRoom(candidate.state)) return false;
    return this.add(candidate, false); // refused (closing, or waiting for its due time): the caller logs it
  }

  /**
   * Queues a candidate unless it is known or not due; `wait`: until there is room (scans), else gives
   * up. False when it was not queued now (known or not due, full, or closing): a rescan will find it.
   */
  async offer(candidate: Candidate, wait: boolean): Promise<boolean> {
    if (!this.isOfferable(candidate)) return false;
    while (!this.hasRoom(candidate.state)) {
      if (!wait || this.closed) return false;
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    return this.add(candidate, false);
  }

  /** Closing: nothing is queued any more. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** `front`: work that was due before anything queued now (a due retry, a dead engine's claim). False when not queued. */
  add(candidate: Candidate, front: boolean): boolean {
    if (this.closed || !this.isOfferable(candidate)) return false; // what is not queued stays in the spool
    const key = keyOf(candidate);
    this.deferred.delete(key);
    this.known.add(key);
    if (front) this.waiting[candidate.state].unshift(candidate);
    else this.waiting[candidate.state].push(candidate);
    this.onQueued(candidate.state);
    return true;
  }

  /**
   * The candidates that may start now, marked in hand: up to the state's limit; downloads take hosts in
   * turn and none beyond its perHost (it would only wait in the downloader, holding a slot another host
   * could use). `mayStart` says whether the state may start anything at all.
   */
  startable(state: WorkState, mayStart: () => boolean): Candidate[] {
    const started: Candidate[] = [];
    const queue = this.waiting[state];
    const hostMayStart = (host: string): boolean => state !== 'incoming' || host === '' || (this.activeByHost.get(host) ?? 0) < this.limits.perHost;
    while (!this.closed && this.active[state] < this.limitOf[state] && queue.length > 0 && mayStart()) {
      const candidate = queue.take(hostMayStart);
      if (!candidate) break;
      this.active[state]++;
      if (state === 'incoming' && candidate.host) this.activeByHost.set(candidate.host, (this.activeByHost.get(candidate.host) ?? 0) + 1);
      started.push(candidate);
    }
    if (queue.length < this.limits.queueLimit) this.wakeWaiters();
    return started;
  }

  /** Downloads wait while the originals set down in downloaded/ pile up (the CPU is behind). */
  thumbnailsBehind(): boolean {
    return this.waiting.downloaded.length + this.active.downloaded >= this.limits.queueLimit;
  }

  /** An attempt is over: its slot is free and the candidate may be offered again. */
  finish(candidate: Candidate): void {
    this.known.delete(keyOf(candidate));
    this.active[candidate.state]--;
    if (candidate.state === 'incoming' && candidate.host) {
      const left = (this.activeByHost.get(candidate.host) ?? 1) - 1;
      if (left > 0) this.activeByHost.set(candidate.host, left);
      else this.activeByHost.delete(candidate.host);
    }
  }

  /** Waits until `due` before it may be queued again (kept apart from what is queued). */
  defer(candidate: Candidate, due: number): void {
    this.deferred.set(keyOf(candidate), { candidate, due });
  }

  /** Due candidates back at the front of their queues, as far as there is room; the rest stay due. */
  releaseDue(): Candidate[] {
    const now = this.clock();
    const released: Candidate[] = [];
    for (const { candidate, due } of [...this.deferred.values()]) {
      if (due > now || !this.hasRoom(candidate.state)) continue;
      if (this.add(candidate, true)) released.push(candidate);
    }
    return released;
  }

  /** How long a drain sleeps when nothing moved: until the next due time, between 50 ms and 1 s. */
  nextWakeMs(): number {
    const now = this.clock();
    let next = 1_000;
    for (const { due } of this.deferred.values()) next = Math.min(next, due - now);
    return Math.max(50, next);
  }

  /** Incoming candidates queued or waiting for their due time (what a stop writes back to the arrival log). */
  waitingIncoming(): Candidate[] {
    return [...this.waiting.incoming, ...[...this.deferred.values()].map((d) => d.candidate)].filter((c) => c.state === 'incoming');
  }

  /** Stops queueing and starting; those waiting for room give up (what they offered stays in the spool). */
  close(): void {
    this.closed = true;
    this.wakeWaiters();
  }

  /** After close: what is only queued is dropped (it stays in the spool for the next start). */
  dropQueued(): void {
    for (const state of WORK_STATES) for (const candidate of this.waiting[state].drain()) this.known.delete(keyOf(candidate));
    this.wakeWaiters();
  }

  /** Nothing queued or in hand (deferred candidates wait in the spool). */
  isEmpty(): boolean {
    return this.active.incoming + this.active.downloaded === 0 && this.waiting.incoming.length + this.waiting.downloaded.length === 0;
  }

  private wakeWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }
}

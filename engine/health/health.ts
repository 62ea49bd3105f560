/**
 * Which sources are paused: a circuit breaker per host and per datasource. Pure (time is passed in),
 * so its rules are tested without waiting.
 *
 * - closed: attempts and transient failures are counted over a sliding window (in buckets, so
 *   memory per source is fixed); once the window holds `minSamples` attempts and the share of
 *   failures reaches `failureRate`, the source is paused for `coolOffMs`;
 * - paused: its jobs wait (they are not attempted, nor failed);
 * - probing: after the cool-off one job is let through; success closes the breaker, failure pauses
 *   the source again for twice as long (up to `maxCoolOffMs`).
 */
import type { Config } from '../config/config.js';

export type HealthPolicy = Pick<Config['health'], 'windowMs' | 'minSamples' | 'failureRate' | 'coolOffMs' | 'maxCoolOffMs'>;

const BUCKETS = 10;

interface Breaker {
  /** Attempts and failures per bucket of windowMs / BUCKETS, indexed by bucket number modulo BUCKETS. */
  attempts: number[];
  failures: number[];
  bucketOf: number[];
  pausedUntil: number;
  /** Pauses in a row without a successful probe: the next cool-off is coolOffMs * 2^strikes. */
  strikes: number;
  /** When the probe in flight was let through (0: none): a probe that never reports expires. */
  probeAt: number;
  lastFailure?: string;
}

/** A paused source, as status and the state file report it. */
export interface PausedSource {
  source: string;
  until: string;
  failures: number;
  attempts: number;
  strikes: number;
  lastFailure?: string;
}

/** A source's recent record, for /metrics. */
export interface SourceFigures {
  source: string;
  attempts: number;
  failures: number;
  paused: boolean;
}

/** What a job's sources allow now: go, go as the probe of a paused source, or wait until a time. */
export type Admission = { go: true; probes: string[] } | { go: false; until: number };


export class SourceHealth {
  private readonly breakers = new Map<string, Breaker>();
  private readonly bucketMs: number;

  constructor(private readonly policy: HealthPolicy) {
    this.bucketMs = Math.max(1, Math.floor(policy.windowMs / BUCKETS));
  }

  /** May a job whose sources are `sources` be attempted at `now`? */
  admit(sources: readonly string[], now: number): Admission {
    let until = 0;
    const probes: string[] = [];
    for (const source of sources) {
      const breaker = this.breakers.get(source);
      if (!breaker || breaker.pausedUntil === 0) continue;
      if (now < breaker.pausedUntil) until = Math.max(until, breaker.pausedUntil);
      // while the probe is out, the others wait half a cool-off (not a tight loop of claims and reads)
      else if (breaker.probeAt > 0 && now - breaker.probeAt < this.policy.windowMs) until = Math.max(until, now + this.policy.coolOffMs / 2);
      else probes.push(source);
    }
    if (until > 0) return { go: false, until };
    for (const source of probes) this.breakers.get(source)!.probeAt = now;
    return { go: true, probes };
  }

  /**
   * Records an attempt's outcome for each of its sources; `failure` is a transient error's code.
   * `probes` are the sources this attempt was let through to probe (from admit): only its outcome
   * lifts or renews their pause; a late outcome of an attempt begun before the pause does not.
   */
  record(sources: readonly string[], failure: string | undefined, now: number, probes: readonly string[] = []): void {
    for (const source of sources) {
      const breaker = this.breakerFor(source);
      if (probes.includes(source) && breaker.probeAt > 0) {
        breaker.probeAt = 0;
        if (failure === undefined) {
          this.reset(breaker);
        } else {
          breaker.lastFailure = failure;
          this.pause(breaker, now);
        }
        continue;
      }
      const bucket = Math.floor(now / this.bucketMs);
      const slot = bucket % BUCKETS;
      if (breaker.bucketOf[slot] !== bucket) {
        breaker.bucketOf[slot] = bucket;
        breaker.attempts[slot] = 0;
        breaker.failures[slot] = 0;
      }
      breaker.attempts[slot]!++;
      if (failure !== undefined) {
        breaker.failures[slot]!++;
        breaker.lastFailure = failure;
      }
      if (breaker.pausedUntil !== 0) continue; // a late outcome of a job begun before the pause
      const { attempts, failures } = this.window(breaker, now);
      if (attempts >= this.policy.minSamples && failures / attempts >= this.policy.failureRate) this.pause(breaker, now);
    }
  }

  /**
   * The source asked for a pause itself (429 or 503 with Retry-After): every job of it waits until
   * then, and the first one after is its probe.
   */
  pauseUntil(source: string, until: number, reason: string, now: number): void {
    const breaker = this.breakerFor(source);
    breaker.pausedUntil = Math.max(breaker.pausedUntil, Math.min(until, now + this.policy.maxCoolOffMs));
    breaker.lastFailure = reason;
  }

  /** A probe that ended without a verdict (aborted, claim lost): the next job may probe at once. */
  abandonProbes(probes: readonly string[]): void {
    for (const source of probes) {
      const breaker = this.breakers.get(source);
      if (breaker) breaker.probeAt = 0;
    }
  }

  /** Sources paused now (or waiting for their probe). */
  paused(now: number): PausedSource[] {
    const out: PausedSource[] = [];
    for (const [source, breaker] of this.breakers) {
      if (breaker.pausedUntil === 0) continue;
      const { attempts, failures } = this.window(breaker, now);
      const item: PausedSource = { source, until: new Date(breaker.pausedUntil).toISOString(), failures, attempts, strikes: breaker.strikes };
      if (breaker.lastFailure) item.lastFailure = breaker.lastFailure;
      out.push(item);
    }
    return out.sort((a, b) => a.source.localeCompare(b.source));
  }

  /**
   * The busiest `limit` sources' attempts and transient failures in the window, paused ones first:
   * what /metrics shows, bounded so that a feed of a million hosts cannot flood it.
   */
  sources(now: number, limit: number): SourceFigures[] {
    const all: SourceFigures[] = [];
    for (const [source, breaker] of this.breakers) all.push({ source, ...this.window(breaker, now), paused: breaker.pausedUntil !== 0 });
    return all.sort((a, b) => Number(b.paused) - Number(a.paused) || b.attempts - a.attempts || a.source.localeCompare(b.source)).slice(0, limit);
  }

  /** Forgets healthy sources with nothing in their window, so that memory follows the active sources. */
  prune(now: number): void {
    for (const [source, breaker] of this.breakers) {
      if (breaker.pausedUntil === 0 && this.window(breaker, now).attempts === 0) this.breakers.delete(source);
    }
  }

  private window(breaker: Breaker, now: number): { attempts: number; failures: number } {
    const current = Math.floor(now / this.bucketMs);
    let attempts = 0;
    let failures = 0;
    for (let slot = 0; slot < BUCKETS; slot++) {
      if (current - breaker.bucketOf[slot]! >= BUCKETS) continue;
      attempts += breaker.attempts[slot]!;
      failures += breaker.failures[slot]!;
    }
    return { attempts, failures };
  }

  private pause(breaker: Breaker, now: number): void {
    const coolOff = Math.min(this.policy.maxCoolOffMs, this.policy.coolOffMs * 2 ** breaker.strikes);
    breaker.pausedUntil = now + coolOff;
    breaker.strikes++;
  }

  private reset(breaker: Breaker): void {
    breaker.pausedUntil = 0;
    breaker.strikes = 0;
    breaker.attempts.fill(0);
    breaker.failures.fill(0);
  }

  private breakerFor(source: string): Breaker {
    let breaker = this.breakers.get(source);
    if (!breaker) {
      breaker = { attempts: new Array<number>(BUCKETS).fill(0), failures: new Array<number>(BUCKETS).fill(0), bucketOf: new Array<number>(BUCKETS).fill(-BUCKETS), pausedUntil: 0, strikes: 0, probeAt: 0 };
      this.breakers.set(source, breaker);
    }
    return breaker;
  }
}

/** The sources a job's health is counted under: its host and, if it has one, its datasource. Pure. */
export function sourcesOf(url: string, country: string, datasource: string | undefined): string[] {
  let host: string;
  try {
    host = new URL(url).host;
  } catch {
    host = 'invalid';
  }
  return datasource === undefined ? [`host:${host}`] : [`host:${host}`, `datasource:${country}/${datasource}`];
}

import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Outcome } from '../job/processor.js';
import { keyOf, type Candidate } from './queues.js';

/**
 * Errors outside any job's error handling (a file that cannot be claimed or read): the file stays
 * where it is and is tried again after a doubling delay (1 s, 2 s, 4 s ... up to retry.maxMs); after
 * retry.maxAttempts it is left alone until the next start, so that a drain can finish.
 */
export class UnexpectedErrors {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly policy: { maxAttempts: number; maxMs: number },
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Left alone until restart: scans pass it by. */
  leftAlone(candidate: Candidate): boolean {
    return (this.counts.get(keyOf(candidate)) ?? 0) >= this.policy.maxAttempts;
  }

  /** Counts the error, logs it, and says what becomes of the candidate. */
  outcomeOf(candidate: Candidate, error: unknown): Outcome {
    const key = keyOf(candidate);
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    const { fresh: _fresh, ...where } = candidate;
    const givenUp = count >= this.policy.maxAttempts;
    this.log.error({ err: error, ...where, count }, givenUp ? 'unexpected error; file left alone until restart' : 'unexpected error; the file stays where it is');
    return givenUp ? { kind: 'gone' } : { kind: 'deferred', until: this.clock() + Math.min(this.policy.maxMs, 1_000 * 2 ** count) };
  }
}

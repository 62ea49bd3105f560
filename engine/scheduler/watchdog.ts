import type { Candidate } from './queues.js';

/** An aborted attempt that has not ended after this long is abandoned (its slot freed). */
export const ABANDON_AFTER_MS = 30_000;

/** One job being worked on, as the stuck-job watchdog sees it. */
export interface Attempt {
  candidate: Candidate;
  /** When it last moved on (claimed, began a download, got a thread, ...). */
  lastProgress: number;
  /** Waiting for a download slot or a thread: not a lack of progress. */
  waiting: boolean;
  controller: AbortController;
  /** Given up on (it ignored the abort): its slot is free, whatever it does later is ignored. */
  abandoned: boolean;
}

export type Verdict = 'fine' | 'abort' | 'abandon';

/**
 * What the watchdog does with an attempt at `now`. Pure. No progress for stuckMs (waits for a slot do
 * not count): abort it (its download or thumbnail is cancelled, the job retried later with code
 * `stuck`). Still running min(stuckMs, ABANDON_AFTER_MS) after the abort: abandon it (its slot is
 * freed, its claim kept until the process ends, since it may still wake up and move the job).
 */
export function verdictOn(attempt: Attempt, now: number, stuckMs: number): Verdict {
  const age = now - attempt.lastProgress;
  const aborted = attempt.controller.signal.aborted;
  if (age < stuckMs || attempt.abandoned || (attempt.waiting && !aborted)) return 'fine';
  if (!aborted) return 'abort';
  return age >= stuckMs + Math.min(stuckMs, ABANDON_AFTER_MS) ? 'abandon' : 'fine';
}

/** The attempts in progress, and the checks on them. */
export class Watchdog {
  private readonly attempts = new Set<Attempt>();

  constructor(
    private readonly stuckMs: number,
    private readonly clock: () => number,
  ) {}

  begin(candidate: Candidate): Attempt {
    const attempt: Attempt = { candidate, lastProgress: this.clock(), waiting: false, controller: new AbortController(), abandoned: false };
    this.attempts.add(attempt);
    return attempt;
  }

  /** The attempt moved on; `waiting`: it now waits for a slot. */
  progress(attempt: Attempt, waiting: boolean): void {
    attempt.lastProgress = this.clock();
    attempt.waiting = waiting;
  }

  end(attempt: Attempt): void {
    this.attempts.delete(attempt);
  }

  /** Aborts attempts that made no progress and abandons those that ignored their abort; says which. */
  check(onAbort: (attempt: Attempt, ageMs: number) => void, onAbandon: (attempt: Attempt, ageMs: number) => void): void {
    const now = this.clock();
    for (const attempt of this.attempts) {
      const verdict = verdictOn(attempt, now, this.stuckMs);
      if (verdict === 'abort') {
        onAbort(attempt, now - attempt.lastProgress);
        attempt.controller.abort();
      } else if (verdict === 'abandon') {
        attempt.abandoned = true;
        onAbandon(attempt, now - attempt.lastProgress);
      }
    }
  }
}

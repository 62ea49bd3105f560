import type { Outcome } from '../job/processor.js';

/** After a claim held by another engine: look again once that claim could have gone stale. */
export const BUSY_MARGIN_MS = 100;

/**
 * When a candidate may be tried again after an attempt, or undefined when it is not to wait (it came
 * to rest, left, moved on to downloaded/, or its retry is due already). Pure.
 * - retry, deferred: at the due time the processor chose (its backoff);
 * - paused (its host or datasource): at the end of the pause, spread over a tenth of the wait so
 *   that a source's jobs do not all come back at once;
 * - busy (another engine holds its claim): when that claim would be stale, if that engine is dead.
 */
export function dueAfter(outcome: Outcome, now: number, staleMs: number, random: () => number = Math.random): number | undefined {
  switch (outcome.kind) {
    case 'retry':
      return outcome.until > now ? outcome.until : undefined;
    case 'deferred':
      return outcome.until;
    case 'paused':
      return outcome.until + random() * Math.max(0, outcome.until - now) * 0.1;
    case 'busy':
      return now + staleMs + BUSY_MARGIN_MS;
    case 'thumbed':
    case 'failed':
    case 'spilled':
    case 'gone':
      return undefined;
  }
}

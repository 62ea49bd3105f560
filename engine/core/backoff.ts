export interface BackoffPolicy {
  /** Delay before the second attempt. */
  baseMs: number;
  /** Ceiling for any delay. */
  maxMs: number;
  /** Growth per attempt. */
  factor: number;
  /** Fraction of the delay that is randomised (0: none, 0.5: delay x [0.5, 1.5)). */
  jitter: number;
}

/**
 * Delay before the next attempt after `attempts` failed ones: base x factor^(attempts-1), capped,
 * then spread by jitter so that an outage does not make every job due at the same instant.
 * `random` is injected so tests can pin it.
 */
export function backoffDelay(attempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempts - 1);
  const raw = Math.min(policy.maxMs, policy.baseMs * policy.factor ** exponent);
  const spread = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.round(Math.min(policy.maxMs, raw * spread));
}

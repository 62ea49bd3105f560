/** Figures for reports: rounding that turns "no figure" into null, ratios, medians, elapsed seconds. */

/** `value` to `digits` decimals; null when there is no finite figure (so a JSON line shows null, not NaN). */
export function round(value: number | null | undefined, digits = 2): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** a / b, or null when either is missing or b is 0. */
export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/** Which of the two middle items a median of an even count takes. */
export type EvenMiddle = 'lower' | 'upper';

/**
 * The item whose key is the median. No averaging of the two middles: the figure stays one real run,
 * so an even count takes the lower or the upper one, as the caller says.
 */
export function medianBy<T>(items: readonly T[], key: (item: T) => number, even: EvenMiddle): T {
  if (items.length === 0) throw new RangeError('no median of nothing');
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[even === 'lower' ? Math.floor((items.length - 1) / 2) : Math.floor(items.length / 2)]!;
}

export const median = (values: readonly number[], even: EvenMiddle): number => medianBy(values, (v) => v, even);

/** Seconds between two `performance.now()` readings. */
export const secondsBetween = (fromMs: number, toMs: number): number => (toMs - fromMs) / 1000;

/** Seconds since a `performance.now()` reading. */
export const secondsSince = (startedMs: number): number => secondsBetween(startedMs, performance.now());

export const MIB = 1024 * 1024;

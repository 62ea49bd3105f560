/**
 * The one clock. Everything in engine/ and spool/ that needs the time takes a `Clock` (milliseconds
 * since the epoch), so tests choose the time; `systemClock` is the only place that reads the real one.
 */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

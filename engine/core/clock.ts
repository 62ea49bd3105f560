/**
 * The one clock. Everything in engine/ and spool/ that needs the time takes a `Clock` (milliseconds
 * since the epoch), so tests choose the time; `systemClock` is the only place that reads the real one.
 * A clock given to an engine or a spool must keep wall time: it is compared with the times of files
 * (claims, temporaries, arrival segments) that the file system stamps. A test that moves time by hand
 * does so for the pure parts (queues, watchdog, settling) or for a spool no other process shares.
 */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

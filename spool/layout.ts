/**
 * Every path under the spool root, built here and nowhere else:
 *   <state>/<cc>/<hash>.job        a job; the directory it sits in is its state
 *   downloaded/<cc>/<hash>.orig    an original waiting beside its job for a thread
 *   .tmp/                          temporaries, renamed into place (atomic.ts); clock probes (fs-time.ts)
 *   .locks/                        claims, one lock directory per job or batch (claims.ts)
 *   .arrivals/<cc>/[@<host>/]      the arrival log (arrivals.ts)
 *   .expiry/<yyyy-mm-dd>/<cc>/     the expiry index (expiry.ts)
 *   .state/                        each engine's last state; .state/history/ its per-minute counts
 *   .canary/<slot>.json            one record per canary sent (engine/canary/); <slot>.served: when its picture was served
 * The sweeper's backlog (.sweep/, .sweep.lock) is laid out in sweep-layout.ts.
 */
import { join } from 'node:path';

/** The four states of a job; the directory a job file sits in is its state. */
export const STATES = ['incoming', 'downloaded', 'thumbed', 'failed'] as const;
export type State = (typeof STATES)[number];

export const JOB_SUFFIX = '.job';
export const BATCH_SUFFIX = '.urls';
export const ORIGINAL_SUFFIX = '.orig';

export function stateDir(spool: string, state: State, country: string): string {
  return join(spool, state, country);
}

/** Any entry of a state directory by its file name (a batch, a misnamed job, something set aside). */
export function entryPath(spool: string, state: State, country: string, name: string): string {
  return join(stateDir(spool, state, country), name);
}

export function jobPath(spool: string, state: State, country: string, hash: string): string {
  return entryPath(spool, state, country, `${hash}${JOB_SUFFIX}`);
}

/** The downloaded original waits beside its job in downloaded/ until its thumbnails are safe. */
export function originalPath(spool: string, country: string, hash: string): string {
  return entryPath(spool, 'downloaded', country, `${hash}${ORIGINAL_SUFFIX}`);
}

/** Temporary files are written here and renamed into place: same file system, one place to clean. */
export function spoolTmpDir(spool: string): string {
  return join(spool, '.tmp');
}

/** Claims (one lock directory per job being worked on) live apart from the state directories. */
export function locksDir(spool: string): string {
  return join(spool, '.locks');
}

/** A country's arrival log, or (`overflowDir`, a directory name `@<host>`) one host's overflow log in it. */
export function arrivalLogDir(spool: string, country: string, overflowDir?: string): string {
  const main = join(spool, '.arrivals', country);
  return overflowDir === undefined ? main : join(main, overflowDir);
}

export function expiryDir(spool: string): string {
  return join(spool, '.expiry');
}

/** One day of the expiry index, or with `country` that day's markers of one country. */
export function expiryDayDir(spool: string, day: string, country?: string): string {
  return country === undefined ? join(expiryDir(spool), day) : join(expiryDir(spool), day, country);
}

export function markerPath(spool: string, day: string, country: string, hash: string): string {
  return join(expiryDayDir(spool, day, country), hash);
}

/** Where every engine keeps its last state (`<owner>.json`), refreshed while it runs. */
export function daemonStatesDir(spool: string): string {
  return join(spool, '.state');
}

/** One engine's state file by its name (`<owner tag>.json`). */
export function daemonStatePath(spool: string, name: string): string {
  return join(daemonStatesDir(spool), name);
}

/** Per-minute counts of every engine process (`<process key>.jsonl`). */
export function historyDir(spool: string): string {
  return join(daemonStatesDir(spool), 'history');
}

/** One process's history file by its name. */
export function historyPath(spool: string, name: string): string {
  return join(historyDir(spool), name);
}

/** The canaries' records: one per interval, claimed by the engine that sends it. */
export function canaryDir(spool: string): string {
  return join(spool, '.canary');
}

export function canaryRecordPath(spool: string, slot: number): string {
  return join(canaryDir(spool), `${slot}.json`);
}

/** When a daemon first served the canary's picture: the end of its download stage. */
export function canaryServedPath(spool: string, slot: number): string {
  return join(canaryDir(spool), `${slot}.served`);
}

/** A batch or job file name that a reader should look at: not hidden, with the right suffix. */
export function isVisible(name: string, suffix: string): boolean {
  return !name.startsWith('.') && name.endsWith(suffix) && name.length > suffix.length;
}

export function stripSuffix(name: string, suffix: string): string {
  return name.slice(0, -suffix.length);
}

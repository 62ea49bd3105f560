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

export function jobPath(spool: string, state: State, country: string, hash: string): string {
  return join(spool, state, country, `${hash}${JOB_SUFFIX}`);
}

/** The downloaded original waits beside its job in downloaded/ until its thumbnails are safe. */
export function originalPath(spool: string, country: string, hash: string): string {
  return join(spool, 'downloaded', country, `${hash}${ORIGINAL_SUFFIX}`);
}

/** Temporary files are written here and renamed into place: same file system, one place to clean. */
export function spoolTmpDir(spool: string): string {
  return join(spool, '.tmp');
}

/** Claims (one lock directory per job being worked on) live apart from the state directories. */
export function locksDir(spool: string): string {
  return join(spool, '.locks');
}

/** A batch or job file name that a reader should look at: not hidden, with the right suffix. */
export function isVisible(name: string, suffix: string): boolean {
  return !name.startsWith('.') && name.endsWith(suffix) && name.length > suffix.length;
}

export function stripSuffix(name: string, suffix: string): string {
  return name.slice(0, -suffix.length);
}

/** A batch of URLs ETL dropped into incoming/<country>/. */
export function batchPath(spool: string, country: string, name: string): string {
  return join(spool, 'incoming', country, name);
}

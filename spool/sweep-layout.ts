/**
 * What each target still has to receive, kept in the spool as files:
 *   .sweep/<target>/<cc>/<hash>.job    a hard link to the thumbed job: send this image
 *   .sweep/<target>/<cc>/<hash>.purge  the image's paths (JSON): delete them there
 *   .sweep/<target>/<cc>/.seeded       the target was sent the whole tree of this country once
 *   .sweep/.fanned/<cc>/<hash>.job     a hard link marking the thumbed job as handed to every target
 *   .sweep/.status/<target>.json       how the target's last sweeps went
 *   .sweep/.lists/                     rsync's file lists, while a sync runs
 *   .sweep.lock                        one sweep at a time
 * The paths only; engine/sweep/ does the work.
 */
import { join } from 'node:path';
import { JOB_SUFFIX } from './layout.js';

export const PURGE_SUFFIX = '.purge';

export function sweepDir(spool: string): string {
  return join(spool, '.sweep');
}

export function sweepLockPath(spool: string): string {
  return join(spool, '.sweep.lock');
}

export function outboxDir(spool: string, target: string, country: string): string {
  return join(sweepDir(spool), target, country);
}

/** An entry of a target's backlog by its file name. */
export function outboxEntryPath(spool: string, target: string, country: string, name: string): string {
  return join(outboxDir(spool, target, country), name);
}

export function purgeNotePath(spool: string, target: string, country: string, hash: string): string {
  return outboxEntryPath(spool, target, country, `${hash}${PURGE_SUFFIX}`);
}

export function seededMarkPath(spool: string, target: string, country: string): string {
  return outboxEntryPath(spool, target, country, '.seeded');
}

export function fannedDir(spool: string, country: string): string {
  return join(sweepDir(spool), '.fanned', country);
}

/** The mark of a thumbed job handed to every target, by the job's file name. */
export function fannedMarkPath(spool: string, country: string, name: string): string {
  return join(fannedDir(spool, country), name);
}

export function fannedMarkOf(spool: string, country: string, hash: string): string {
  return fannedMarkPath(spool, country, `${hash}${JOB_SUFFIX}`);
}

export function targetStatusDir(spool: string): string {
  return join(sweepDir(spool), '.status');
}

export function targetStatusPath(spool: string, target: string): string {
  return join(targetStatusDir(spool), `${target}.json`);
}

export function sweepListsDir(spool: string): string {
  return join(sweepDir(spool), '.lists');
}

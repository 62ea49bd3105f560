/**
 * bench:sweep's world: the frontends' rsync daemons, the spool and the tree of fake images it sweeps,
 * and the names of image i's files (image i is http://bench.example/<i>.jpg).
 */
import type { Clock } from '../../engine/core/clock.js';
import { progressLines } from '../lib/output.js';
import type { RsyncDaemon } from '../../test/support/rsyncd.js';

export const COUNTRY = 'uk';
/** Images each sync delivers, and each purge expires. */
export const NEW_IMAGES = 1_000;
export const PURGED_IMAGES = 1_000;

export const progress = progressLines('bench:sweep');

export interface Bench {
  dir: string;
  spool: string;
  tree: string;
  daemons: RsyncDaemon[];
  /** Indices of the images in the tree (image i is http://bench.example/<i>.jpg). */
  present: number[];
  next: number;
  /** Directories known to exist, per root (tree and every daemon's data). */
  made: Set<string>;
  /** When images are made, and how long ago the purged ones were last refreshed. */
  clock: Clock;
}

export const urlOf = (i: number): string => `http://bench.example/${i}.jpg`;
export const dirOf = (hash: string): string => `${COUNTRY}/${hash.slice(0, 2)}/${hash.slice(2, 4)}`;
export const manifestRel = (hash: string): string => `${dirOf(hash)}/${hash}.json`;
export const thumbRel = (hash: string): string => `${dirOf(hash)}/${hash}.thumb.webp`;

/** bench:canary's command line: its options, checked, and the order of its rounds. */
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { progressLines } from '../lib/output.js';


export const progress = progressLines('bench:canary');
/** The corpus when none is given, if it is there (the 248 listing photos). */
export const FIXTURE_PHOTOS = '../shared/fixtures/photos';
/** The country the bench's batches go to; the canary has its own (canary.country, `zz`). */
export const COUNTRY = 'uk';
/** A round whose batch has not come to rest by then is given up (something is wrong, not slow). */
export const ROUND_TIMEOUT_MS = 600_000;
/** The first argument that makes this file the sweeper's process. */
export const SWEEPER_CHILD = '--sweeper-child';

export type Mode = 'off' | 'on';

export interface Options {
  corpus: string | undefined;
  images: number | undefined;
  copies: number;
  rounds: number;
  intervalMinutes: number;
  deadlineMinutes: number;
  targets: number;
  sweepEveryMs: number;
  fsync: boolean;
  tmp: string;
  keep: boolean;
}

export function usage(message: string): never {
  throw new Error(message);
}

export function numberOption(name: string, text: string, min: number, integer: boolean): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) usage(`--${name} takes ${integer ? 'an integer' : 'a number'} of at least ${min}, not ${JSON.stringify(text)}`);
  return value;
}

export function optionsOf(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      corpus: { type: 'string' },
      images: { type: 'string' },
      copies: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '4' },
      interval: { type: 'string', default: '0.05' },
      deadline: { type: 'string', default: '0.5' },
      targets: { type: 'string', default: '2' },
      'sweep-every': { type: 'string', default: '2' },
      fsync: { type: 'string', default: 'true' },
      tmp: { type: 'string', default: tmpdir() },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.fsync !== 'true' && values.fsync !== 'false') usage(`--fsync takes true or false, not ${JSON.stringify(values.fsync)}`);
  return {
    corpus: values.corpus,
    images: values.images === undefined ? undefined : numberOption('images', values.images, 1, true),
    copies: numberOption('copies', values.copies, 1, true),
    rounds: numberOption('rounds', values.rounds, 1, true),
    intervalMinutes: numberOption('interval', values.interval, 0.05, false),
    deadlineMinutes: numberOption('deadline', values.deadline, 0.05, false),
    targets: numberOption('targets', values.targets, 0, true),
    sweepEveryMs: numberOption('sweep-every', values['sweep-every'], 0, false) * 1000,
    fsync: values.fsync === 'true',
    tmp: values.tmp,
    keep: values.keep,
  };
}

/**
 * off, on, on, off, off, on, on, off, ...: pairs in alternating order, so that a drift of the machine
 * through the run (this VM's file system slows new inodes as more are freed, bench/README.md) falls
 * on both modes alike; with an even count of rounds a mode, a linear drift cancels exactly. Pure.
 */
export function roundOrder(roundsPerMode: number): Mode[] {
  return Array.from({ length: roundsPerMode * 2 }, (_, i): Mode => ((i % 2 === 0) === (Math.floor(i / 2) % 2 === 0) ? 'off' : 'on'));
}

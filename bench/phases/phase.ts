/** What every phase of `npm run bench` is given and gives back, and how its timed rounds are kept. */
import type { Config, Processing } from '../../engine/config/config.js';
import type { CorpusImage } from '../lib/corpus.js';
import type { Progress } from '../lib/output.js';

export interface PhaseContext {
  corpus: readonly CorpusImage[];
  config: Config;
  /** The outputs every phase makes: the default sizes, formats and encoder settings. */
  processing: Processing;
  threads: number;
  /** Images run before timing (starts workers and processes, touches the code paths). */
  warmCount: number;
  rounds: number;
  /** A temporary directory of this run, removed after it. */
  workDir: string;
  progress: Progress;
  /** Where CPU profiles of the engine's timed rounds go (--cpu-prof), if anywhere. */
  cpuProf?: string;
}

export interface PhaseResult {
  imgPerSec: number | null;
  seconds: number | null;
  images: number;
  failures: number;
  note: string;
}

/** A phase that could not run (its tool missing, say): null figures and why. */
export const skipped = (images: number, note: string): PhaseResult => ({ imgPerSec: null, seconds: null, images, failures: 0, note });

interface Round {
  imgPerSec: number;
  seconds: number;
  cpu: string;
}

/** Timed rounds of one phase: the best round is reported (least disturbed by other work), all are listed. */
export class Rounds {
  private readonly runs: Round[] = [];

  constructor(private readonly images: number) {}

  /** Records a round; returns its images per second. */
  add(seconds: number, cpu: string): number {
    const imgPerSec = this.images / seconds;
    this.runs.push({ imgPerSec, seconds, cpu });
    return imgPerSec;
  }

  get best(): Round | undefined {
    return this.runs.reduce<Round | undefined>((a, b) => (a && a.imgPerSec >= b.imgPerSec ? a : b), undefined);
  }

  /** "rounds 41.2/45.0/44.1 img/s; " when there was more than one. */
  get note(): string {
    return this.runs.length > 1 ? `rounds ${this.runs.map((r) => r.imgPerSec.toFixed(1)).join('/')} img/s; ` : '';
  }
}

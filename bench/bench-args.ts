/** `npm run bench`'s command line: its phases, flags and usage, parsed once (pure but for resolving paths). */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../scripts/cli-config.js';

export const PHASES = ['pipeline', 'raw', 'vipsthumbnail', 'imagemagick', 'e2e', 'bookkeeping'] as const;
export type Phase = (typeof PHASES)[number];
const PHASE_ALIASES: Record<string, Phase> = { vips: 'vipsthumbnail', im: 'imagemagick', convert: 'imagemagick', sharp: 'raw' };

/** Images generated when no --corpus is given. */
export const DEFAULT_SAMPLE_COUNT = 120;

export const usage = (tmpDefault: string): string => `usage: npm run bench -- [--corpus DIR] [--images N] [--phases ${PHASES.join(',')}] [--rounds N] [--tmp DIR] [--fsync BOOL] [--mixed] [--keep]
  --corpus DIR   images to use (default: ${DEFAULT_SAMPLE_COUNT} generated sample JPEGs in a temp dir)
  --images N     use at most N images (the first N by name; or generate N samples)
  --phases LIST  run only these phases (aliases: vips, im, sharp)
  --tmp DIR      where temporary files go: e2e spool and tree, tool outputs (default ${tmpDefault})
  --rounds N     time every phase N times and report its best round (default 1; helps on a busy machine)
  --fsync BOOL   e2e with fsync true (default, as deployed) or false (to see what fsync costs)
  --mixed        a mixed corpus: small photos (--corpus, else generated) with 24-40 Mpx grainy JPEGs and
                 4000x3000 PNGs made from them (cached under --tmp); prints mixed_peak_rss_mb for e2e
  --cpu-prof DIR write a CPU profile of the main thread over each timed e2e and bookkeeping round to DIR
  --keep         keep the temporary directory`;


export interface BenchArgs {
  corpus?: string;
  images?: number;
  phases: Set<Phase>;
  tmp: string;
  keep: boolean;
  fsync: boolean;
  rounds: number;
  /** The mixed corpus (large camera-like photos among the small ones). */
  mixed: boolean;
  /** --cpu-prof: where the main thread's profiles of the timed engine rounds go. */
  cpuProf?: string;
}

/** The flags, checked; 'help' for --help (whatever else is given). */
export function parseBenchArgs(argv: string[], tmpDefault: string): BenchArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        corpus: { type: 'string' },
        images: { type: 'string' },
        phases: { type: 'string' },
        tmp: { type: 'string' },
        fsync: { type: 'string' },
        rounds: { type: 'string' },
        'cpu-prof': { type: 'string' },
        keep: { type: 'boolean', default: false },
        mixed: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  let images: number | undefined;
  if (values.images !== undefined) {
    images = Number(values.images);
    if (!Number.isInteger(images) || images < 1) throw new UsageError(`--images expects a positive integer, not ${values.images}`);
  }
  const rounds = values.rounds === undefined ? 1 : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new UsageError(`--rounds expects an integer from 1 to 100, not ${values.rounds}`);
  if (values.fsync !== undefined && values.fsync !== 'true' && values.fsync !== 'false') throw new UsageError(`--fsync expects true or false, not ${values.fsync}`);
  const phases = new Set<Phase>();
  for (const raw of (values.phases ?? PHASES.join(',')).split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    const phase = (PHASES as readonly string[]).includes(name) ? (name as Phase) : PHASE_ALIASES[name];
    if (!phase) throw new UsageError(`unknown phase ${JSON.stringify(name)}; phases are ${PHASES.join(', ')}`);
    phases.add(phase);
  }
  if (phases.size === 0) throw new UsageError('--phases names no phase');
  return {
    ...(values.corpus ? { corpus: resolve(values.corpus) } : {}),
    ...(images !== undefined ? { images } : {}),
    ...(values['cpu-prof'] ? { cpuProf: resolve(values['cpu-prof']) } : {}),
    phases,
    tmp: resolve(values.tmp ?? tmpDefault),
    keep: values.keep ?? false,
    fsync: values.fsync !== 'false',
    rounds,
    mixed: values.mixed ?? false,
  };
}

import { readFileSync } from 'node:fs';
import type { Config } from '../../engine/config/config.js';
import { enqueueUrl, noCounts, type EnqueueOutcome } from '../../spool/intake.js';
import { parseBatchLine } from '../../spool/job.js';
import { Spool } from '../../spool/spool.js';
import { announce } from '../../spool/transitions.js';
import { systemClock, type Clock } from '../../engine/core/clock.js';
import { treeToucher } from '../../engine/tree/tree.js';
import { UsageError } from '../cli-config.js';

export interface EnqueueArgs {
  urls: string[];
  file?: string;
  country: string;
  datasource?: string;
  refresh: boolean;
}

/** `imagesys enqueue`: URLs from the arguments or a file (`-` for stdin) become jobs at once. */
export async function enqueueCommand(config: Config, args: EnqueueArgs, clock: Clock = systemClock): Promise<number> {
  const lines = [...args.urls];
  // yargs turns `--file -` into an empty string: both mean stdin
  if (args.file !== undefined) lines.push(...readFileSync(args.file === '-' || args.file === '' ? 0 : args.file, 'utf8').split('\n'));
  const entries = lines.map(parseBatchLine).filter((e) => e !== undefined);
  if (entries.length === 0) throw new UsageError('enqueue: no URL given (arguments, or --file PATH, or --file - for stdin)');
  const spool = new Spool({ root: config.spool, fsync: config.fsync, staleMs: config.claims.staleMs, clock });
  const tree = treeToucher(config.tree);
  await spool.ensureLayout([args.country]);
  const counts: Record<EnqueueOutcome, number> = noCounts();
  let done = 0;
  let pending = entries;
  // a job whose claim is held is asked again until the claim would have gone stale
  const deadline = clock() + config.claims.staleMs + 2_000;
  try {
    while (pending.length > 0) {
      const busy: typeof entries = [];
      for (const entry of pending) {
        const datasource = entry.datasource ?? args.datasource;
        const result = await enqueueUrl(spool, tree, { url: entry.url, country: args.country, refresh: args.refresh, ...(datasource ? { datasource } : {}) }, { policy: config.intake });
        if (result.outcome === 'busy' && clock() < deadline) {
          busy.push(entry);
          continue;
        }
        counts[result.outcome]++;
        // the engine works through a backlog in the order jobs arrived
        if (result.job) await announce(spool, result.job);
        if (++done % 1000 === 0) process.stderr.write(`progress: ${done}/${entries.length}\n`);
      }
      pending = busy;
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await spool.arrivals.close();
  }
  const busyNote = counts.busy > 0 ? `, ${counts.busy} busy (held by another process: enqueue them again)` : '';
  const invalid = counts.invalid + counts.invalid_again; // invalid the second time too: it says so and exits 1
  console.log(`enqueue: ${counts.queued} queued, ${counts.duplicate} already queued, ${counts.in_tree} already in tree (touched), ${invalid} invalid (see failed/${args.country})${busyNote}`);
  return invalid > 0 || counts.busy > 0 ? 1 : 0;
}

import type { Config } from '../../engine/config/config.js';
import { hashForUrl, isHash } from '../../engine/core/hash.js';
import { forRetry } from '../../spool/job.js';
import { JOB_SUFFIX, stripSuffix } from '../../spool/layout.js';
import { Spool } from '../../spool/spool.js';
import { requeue } from '../../spool/transitions.js';

export interface RetryArgs {
  countries: string[];
  targets: string[];
  code?: string;
}

/**
 * `imagesys retry`: failed jobs back to incoming/ with their attempts reset. All failed jobs of the
 * selected countries, or those named (hash or URL), optionally only those with one error code.
 */
export async function retryCommand(config: Config, args: RetryArgs): Promise<number> {
  const spool = new Spool({ root: config.spool, fsync: config.fsync, staleMs: config.claims.staleMs });
  const wanted = new Set(args.targets.map((t) => (isHash(t) ? t : hashForUrl(t))));
  let moved = 0;
  let skipped = 0;
  for (const country of args.countries) {
    const names: string[] = [];
    for await (const entry of spool.entries('failed', country)) names.push(entry.name);
    for (const name of names) {
      const hash = stripSuffix(name, JOB_SUFFIX);
      if (wanted.size > 0 && !wanted.has(hash)) continue;
      const claim = await spool.claimJob(country, hash);
      if (!claim) {
        skipped++;
        continue;
      }
      try {
        const job = await spool.readJob('failed', country, hash);
        if (!job || (args.code && job.errorCode !== args.code)) continue;
        await requeue(spool, 'failed', forRetry(job, spool.now()), claim);
        moved++;
        if (moved % 1000 === 0) process.stderr.write(`progress: ${moved} moved\n`);
      } finally {
        await claim.release();
      }
    }
  }
  await spool.arrivals.close();
  console.log(`retry: ${moved} failed job(s) moved back to incoming/${skipped ? `, ${skipped} busy` : ''}`);
  return 0;
}

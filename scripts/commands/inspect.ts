import type { Config } from '../../engine/config/config.js';
import { hashForUrl, isHash, pathForHash } from '../../engine/core/hash.js';
import { thumbnailsForHash } from '../../engine/interface.js';
import { readDaemonStates } from '../../engine/observe/daemon-state.js';
import { minutesInProgress, readHistory } from '../../engine/observe/history.js';
import { buildReport, formatReport } from '../../engine/observe/report.js';
import { formatStatus, gatherStatus, statusSource } from '../../engine/observe/status.js';
import { Spool } from '../../spool/spool.js';
import { STATES } from '../../spool/layout.js';
import { UsageError } from '../cli-config.js';
import { systemClock, type Clock } from '../../engine/core/clock.js';

/** `imagesys status`: counts per state and country, oldest job, top failures, disk. */
export async function statusCommand(config: Config, countries: string[], json: boolean): Promise<number> {
  const report = await gatherStatus(statusSource(config, countries));
  console.log(json ? JSON.stringify(report, null, 2) : formatStatus(report));
  return 0;
}

/** `imagesys report`: what every engine of this spool did, per process, host and hour. */
export async function reportCommand(config: Config, hours: number, json: boolean, clock: Clock = systemClock): Promise<number> {
  const now = clock();
  const engines = await readDaemonStates(config.spool, now);
  const report = buildReport(await readHistory(config.spool, now - hours * 3_600_000, minutesInProgress(engines), now), now, hours);
  console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}

export function hashCommand(urls: string[]): number {
  for (const url of urls) console.log(hashForUrl(url));
  return 0;
}

export function pathCommand(config: Config, hashes: string[], country: string | undefined): number {
  for (const hash of hashes) {
    if (!isHash(hash)) throw new UsageError(`path: ${JSON.stringify(hash)} is not a hash (32 hex digits); use 'imagesys hash URL'`);
    console.log(country ? `${config.tree}/${country}/${pathForHash(hash)}` : pathForHash(hash));
  }
  return 0;
}

/** `imagesys show <url|hash>`: where the job is, what it says, and the thumbnails with public URLs. */
export async function showCommand(config: Config, countries: string[], target: string): Promise<number> {
  const hash = isHash(target) ? target : hashForUrl(target);
  const spool = new Spool({ root: config.spool, fsync: false, staleMs: config.claims.staleMs });
  const found: Array<Record<string, unknown>> = [];
  for (const country of countries) {
    for (const state of STATES) {
      const job = await spool.readJob(state, country, hash);
      if (job) found.push({ country, state, path: spool.jobPath(state, country, hash), job });
    }
    const thumbnails = await thumbnailsForHash({ tree: config.tree, baseUrl: config.baseUrl }, country, hash);
    if (thumbnails) found.push({ country, state: 'tree', thumbnails });
  }
  if (found.length === 0) {
    console.log(`show: nothing known about ${hash} in ${countries.join(', ')}`);
    return 1;
  }
  console.log(JSON.stringify({ hash, found }, null, 2));
  return 0;
}

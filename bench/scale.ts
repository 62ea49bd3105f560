/**
 * `npm run bench:scale [-- --big 1000000 --small 10000 --seconds 15 --tmp DIR]`
 *
 * The spool at scale: a spool holding `small` and then `big` queued jobs (job files in incoming/uk,
 * as ETL or an outage leaves them), an engine started on it, downloads from a local HTTP server and
 * the thumbnail stage stubbed out (only in this bench: it measures the spool, not sharp). Prints:
 *   start_<n>_s     from engine start to the first job claimed
 *   rss_<n>_mb      peak RSS of the engine's process (a child of the bench) while it works
 *   claim_rate_<n>  jobs claimed per second over `seconds` of steady work
 * and, last, one JSON line with start_1m_s, rss_1m_mb, claim_rate_10k, claim_rate_1m (named after
 * the default sizes) and their ratio. Progress goes to stderr. The small spool goes first: on an ext4
 * without a journal (this project's VM) new inodes are slow for minutes after a million were freed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseConfig } from '../engine/config/config.js';
import { systemClock, type Clock } from '../engine/core/clock.js';
import { Engine } from '../engine/engine.js';
import { hashForUrl } from '../engine/core/hash.js';
import { createLogger } from '../engine/log/logger.js';
import { startSourceServer, type Route, type SourceServer } from '../scripts/source-server.js';
import { makeSample } from '../scripts/sample-images.js';
import { ArrivalWriter } from '../spool/arrivals.js';
import { arrivalOf } from '../spool/job.js';
import { table } from './lib/format.js';
import { printJsonLine, printLines, progressLines } from './lib/output.js';
import { RssSampler } from './lib/rss.js';
import { stubPool } from './lib/stub-pool.js';
import { MIB, round, secondsBetween, secondsSince } from './lib/stats.js';
import { execFileAsync } from './lib/tool.js';

const progress = progressLines('bench:scale');

/**
 * Writes `count` job files straight into incoming/uk and records their arrival in the arrival log,
 * as `imagesys enqueue` would (without its per-URL claim and duplicate checks, to fill a million in
 * minutes rather than an hour).
 */
async function fillSpool(spool: string, count: number, urlOf: (i: number) => string, clock: Clock): Promise<void> {
  const dir = join(spool, 'incoming', 'uk');
  mkdirSync(dir, { recursive: true });
  const arrivals = new ArrivalWriter(spool);
  const at = new Date(clock()).toISOString();
  const started = performance.now();
  let names: Array<{ name: string; host?: string }> = [];
  for (let i = 0; i < count; i++) {
    const url = urlOf(i);
    const hash = hashForUrl(url);
    writeFileSync(join(dir, `${hash}.job`), `{"url":"${url}","hash":"${hash}","country":"uk","attempts":0,"createdAt":"${at}","updatedAt":"${at}"}\n`);
    names.push(arrivalOf({ hash, url })); // as enqueue writes them: with the host
    if (names.length === 1_000) {
      await arrivals.append('uk', names);
      names = [];
    }
    if (i > 0 && i % 100_000 === 0) progress(`  ${i} jobs written (${secondsSince(started).toFixed(0)} s)`);
  }
  await arrivals.append('uk', names);
  await arrivals.close();
}

interface ScaleResult {
  jobs: number;
  startSeconds: number;
  claimRate: number;
  peakRssMb: number;
}

function configFor(root: string): ReturnType<typeof parseConfig> {
  return parseConfig({
    spool: join(root, 'spool'),
    tree: join(root, 'tree'),
    countries: ['uk'],
    download: { perHost: 32, perHostRate: 0, allow: ['127.0.0.1'], proxy: 'none' },
    disk: { minFreeMiB: 0 },
    log: { level: 'silent', dir: join(root, 'log') },
  });
}

/**
 * In a child process of its own (so that its RSS is the engine's alone, not what filling or removing
 * a million files left in the parent): an engine on the spool under `root`, measured.
 */
async function runEngine(root: string, seconds: number): Promise<Omit<ScaleResult, 'jobs'>> {
  const engine = new Engine({ config: configFor(root), countries: ['uk'], log: createLogger({ level: 'silent', component: 'bench' }), pool: stubPool() });
  // count claims where they are made
  let claims = 0;
  let firstClaimAt = 0;
  const claimRegistry = engine.spool.claims;
  const tryClaim = claimRegistry.tryClaim.bind(claimRegistry);
  claimRegistry.tryClaim = async (key) => {
    const claim = await tryClaim(key);
    if (claim && !key.startsWith('batch.') && !key.startsWith('arrivals.')) {
      claims++;
      if (firstClaimAt === 0) firstClaimAt = performance.now();
    }
    return claim;
  };
  // sampled only (no kernel high-water mark), as this bench has always measured
  const sampler = new RssSampler({ kernelHighWater: false });
  sampler.start();
  const started = performance.now();
  await engine.start();
  while (firstClaimAt === 0) await new Promise((r) => setTimeout(r, 5));
  // steady state: skip the first second, then count
  await new Promise((r) => setTimeout(r, 1_000));
  const from = claims;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const claimRate = (claims - from) / secondsSince(t0);
  sampler.stop();
  await engine.stop();
  return { startSeconds: secondsBetween(started, firstClaimAt), claimRate, peakRssMb: sampler.peakBytes / MIB };
}

async function measure(queued: number, seconds: number, workDir: string, server: SourceServer): Promise<ScaleResult> {
  const root = await mkdtemp(join(workDir, `scale-${queued}-`));
  try {
    progress(`filling a spool with ${queued} jobs ...`);
    // every job its own URL (the hash names the job); the server answers all with one photo
    await fillSpool(configFor(root).spool, queued, (i) => server.url(`/p.jpg?i=${i}`), systemClock);
    const child = await execFileAsync(process.execPath, [fileURLToPath(import.meta.url), '--engine', root, '--seconds', String(seconds)], { maxBuffer: 1 << 20 });
    const result = JSON.parse(child.stdout.trim().split('\n').pop()!) as Omit<ScaleResult, 'jobs'>;
    progress(`  first claim ${result.startSeconds.toFixed(2)} s after start; ${result.claimRate.toFixed(0)} claims/s; engine peak RSS ${result.peakRssMb.toFixed(0)} MiB`);
    return { jobs: queued, ...result };
  } finally {
    progress('  removing the spool ...');
    await rm(root, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    engine: { type: 'string' },
    big: { type: 'string', default: '1000000' },
    small: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '15' },
    tmp: { type: 'string', default: tmpdir() },
  },
});
if (values.engine) {
  printJsonLine(await runEngine(values.engine, Number(values.seconds)));
  process.exit(0);
}
const image = await makeSample({ width: 320, height: 240, seed: 7 });
const server = await startSourceServer(new Map<string, Route>([['/p.jpg', { kind: 'image', bytes: image }]]));
const small = await measure(Number(values.small), Number(values.seconds), values.tmp, server);
const big = await measure(Number(values.big), Number(values.seconds), values.tmp, server);
await server.close();
const rows = [['queued', 'start to first claim', 'claims/s', 'peak RSS']];
for (const r of [small, big]) rows.push([String(r.jobs), `${r.startSeconds.toFixed(2)} s`, r.claimRate.toFixed(0), `${r.peakRssMb.toFixed(0)} MiB`]);
const ratio = big.claimRate / small.claimRate;
printLines([table(rows), `targets: start_1m_s <= 5: ${big.startSeconds <= 5 ? 'met' : 'NOT MET'}; rss_1m_mb <= 400: ${big.peakRssMb <= 400 ? 'met' : 'NOT MET'}; claim_rate_1m >= 0.8 x claim_rate_10k: ${ratio.toFixed(2)} ${ratio >= 0.8 ? 'met' : 'NOT MET'}`]);
printJsonLine({
  start_1m_s: round(big.startSeconds),
  rss_1m_mb: round(big.peakRssMb, 1),
  claim_rate_10k: round(small.claimRate, 1),
  claim_rate_1m: round(big.claimRate, 1),
  claim_rate_ratio: round(ratio, 3),
  start_10k_s: round(small.startSeconds),
  rss_10k_mb: round(small.peakRssMb, 1),
  jobs_small: small.jobs,
  jobs_big: big.jobs,
  seconds: Number(values.seconds),
  tmp: values.tmp,
});

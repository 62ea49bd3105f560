/**
 * `npm run bench:status [-- --jobs 200000 --failed 20000 --rounds 3 --tmp DIR]`
 *
 * What the status page, /metrics and `imagesys status` cost on a big spool: a spool holding `jobs`
 * queued jobs and `failed` failed ones (in uk), read by gatherStatus, against the baseline of a bare
 * count of the same directories (one readdir stream each) in the same run. Prints per round:
 *   status_s        gatherStatus wall time
 *   count_s         the bare count's wall time
 *   loop_max_ms     the longest the event loop was held while gatherStatus ran (what a daemon's
 *                   downloads and HTTP answers would wait)
 * and, last, one JSON line with the medians and status_s / count_s. Progress goes to stderr.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, opendir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { systemClock, type Clock } from '../engine/core/clock.js';
import { hashForUrl } from '../engine/core/hash.js';
import { gatherStatus } from '../engine/observe/status.js';
import { STATES } from '../spool/layout.js';
import { fmt } from './lib/format.js';
import { printJsonLine, printLines, progressLines } from './lib/output.js';
import { median, round, secondsSince } from './lib/stats.js';

const progress = progressLines('bench:status');
const CODES = ['http_not_found', 'not_image', 'decode_failed', 'body_timeout'];

function fill(spool: string, state: 'incoming' | 'failed', count: number, clock: Clock): void {
  const dir = join(spool, state, 'uk');
  mkdirSync(dir, { recursive: true });
  const at = new Date(clock()).toISOString();
  for (let i = 0; i < count; i++) {
    const url = `http://img.example.com/${state}/${i}.jpg`;
    const hash = hashForUrl(url);
    const job = { url, hash, country: 'uk', attempts: state === 'failed' ? 1 : 0, createdAt: at, updatedAt: at, ...(state === 'failed' ? { errorCode: CODES[i % CODES.length], error: 'as measured' } : {}) };
    writeFileSync(join(dir, `${hash}.job`), JSON.stringify(job));
    if (i % 50_000 === 49_999) progress(`${state}: ${i + 1} of ${count} jobs written`);
  }
}

async function bareCount(spool: string): Promise<number> {
  let n = 0;
  for (const state of STATES) {
    const dir = await opendir(join(spool, state, 'uk')).catch(() => undefined);
    if (!dir) continue;
    for await (const _entry of dir) n++;
  }
  return n;
}

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '200000' }, failed: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' }, tmp: { type: 'string' } } });
const jobs = Number(values.jobs);
const failed = Number(values.failed);
const rounds = Number(values.rounds);
const root = await mkdtemp(join(values.tmp ?? tmpdir(), 'imagesys-bench-status-'));
try {
  const spool = join(root, 'spool');
  fill(spool, 'incoming', jobs, systemClock);
  fill(spool, 'failed', failed, systemClock);
  const source = { spool, tree: join(root, 'tree'), countries: ['uk'], targets: [], refreshSeconds: 10, canaries: false };
  const figures = { status_s: [] as number[], count_s: [] as number[], loop_max_ms: [] as number[] };
  for (let pass = 1; pass <= rounds; pass++) {
    let started = performance.now();
    const counted = await bareCount(spool);
    figures.count_s.push(secondsSince(started));
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    started = performance.now();
    const report = await gatherStatus(source);
    figures.status_s.push(secondsSince(started));
    loop.disable();
    figures.loop_max_ms.push(loop.max / 1e6);
    if (report.totals.incoming !== jobs || report.totals.failed !== failed || counted !== jobs + failed) throw new Error(`counted ${JSON.stringify(report.totals)} / ${counted}, expected ${jobs} + ${failed}`);
    printLines([`round ${pass}: status_s ${fmt(figures.status_s.at(-1), 2)}  count_s ${fmt(figures.count_s.at(-1), 2)}  loop_max_ms ${fmt(figures.loop_max_ms.at(-1), 0)}`]);
  }
  // the upper middle of an even count of rounds
  const status = median(figures.status_s, 'upper');
  const count = median(figures.count_s, 'upper');
  printJsonLine({ jobs, failed, status_s: round(status, 3), count_s: round(count, 3), ratio: round(status / count, 2), loop_max_ms: round(median(figures.loop_max_ms, 'upper'), 1) });
} finally {
  await rm(root, { recursive: true, force: true });
}

import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StatusReport } from '../engine/observe/status.js';
import type { WorkReport } from '../engine/observe/report.js';
import { kill, runCli, startDaemon, statusPageOf as pageOf, waitUntil, writeTestConfig, type Daemon } from './support/cli.js';
import { freePort } from './support/ports.js';
import { labelValues, parsePrometheus, present, sample } from './support/prometheus.js';
import { programMissing, testsNeeding } from './support/needs.js';
import { dropBatches, listJobs, startScenario } from './support/scenario.js';
import { tempDir } from './support/temp.js';

async function scrape(page: string): Promise<Map<string, number>> {
  const response = await fetch(`${page}/metrics`);
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  return parsePrometheus(await response.text());
}

/** Sizes of every thumbnail file under `dir` (manifests excluded). */
async function thumbnailBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && !entry.name.endsWith('.json')) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

const withRsync = testsNeeding(test, programMissing('rsync'));

withRsync('metrics scraped during a daemon run add up to what the run did; status, sweep lag and report agree', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 3 });
  let daemon: Daemon | undefined;
  try {
    const { expectations, server } = scenario;
    const closedPort = await freePort(); // n2: nothing listens there
    const config = await writeTestConfig(dir, {
      countries: ['uk'],
      sweep: { targets: [{ name: 'n1', dest: join(dir, 'n1') }, { name: 'n2', dest: `rsync://127.0.0.1:${closedPort}/tree` }], connectTimeoutSeconds: 2, timeoutSeconds: 5 },
    });
    await mkdir(join(dir, 'n1'));
    const spool = join(dir, 'spool');
    daemon = startDaemon(['--config', config]);
    let page: string | undefined;
    await waitUntil('the daemon announces its status page', async () => (page = await pageOf(spool)) !== undefined, 15_000);
    const before = await scrape(page!);
    assert.is(sample(before, 'imagesys_jobs_total', { country: 'uk', outcome: 'thumbed' }), 0);
    assert.is(present(before, 'imagesys_pool_threads'), 2);

    await dropBatches(spool, 'uk', expectations.map((e) => e.url));
    const finished = async (): Promise<number> => (await listJobs(spool, 'thumbed', 'uk')).length + (await listJobs(spool, 'failed', 'uk')).length;
    // a scrape in the middle of the run: its counters are on their way, never ahead of the end
    await waitUntil('some jobs are done', async () => (await finished()) >= 20, 30_000);
    const during = await scrape(page!);
    const atRest = (m: Map<string, number>): number => sample(m, 'imagesys_jobs_total', { country: 'uk', outcome: 'thumbed' }) + sample(m, 'imagesys_jobs_total', { country: 'uk', outcome: 'failed' });
    await waitUntil('every job is thumbed or failed', async () => (await finished()) === expectations.length, 60_000);
    // a job is moved in the spool a moment before its outcome is counted: the last scrape waits for the counters
    let metrics = await scrape(page!);
    await waitUntil('the counters have every job at rest', async () => atRest((metrics = await scrape(page!))) === expectations.length, 10_000);

    const count = (end: string, code?: string): number => expectations.filter((e) => e.end === end && (code === undefined || e.code === code)).length;
    const thumbed = count('thumbed');
    assert.is(thumbed, 165);
    assert.is(sample(metrics, 'imagesys_jobs_total', { country: 'uk', outcome: 'thumbed' }), thumbed);
    assert.is(sample(metrics, 'imagesys_jobs_total', { country: 'uk', outcome: 'failed' }), count('failed'));
    // every flaky URL was retried once, every truncated one twice (maxAttempts 3)
    const flaky = expectations.filter((e) => e.kind === 'flaky').length;
    const truncated = count('failed', 'body_incomplete');
    assert.is(sample(metrics, 'imagesys_jobs_total', { country: 'uk', outcome: 'retried' }), flaky + 2 * truncated);
    assert.ok(atRest(during) > 0 && atRest(during) < expectations.length, `the mid-run scrape saw the run under way (${atRest(during)} at rest)`);

    // per stage: done and failed by code
    assert.is(sample(metrics, 'imagesys_stage_done_total', { stage: 'intake' }), expectations.length);
    assert.is(sample(metrics, 'imagesys_stage_done_total', { stage: 'download' }), thumbed);
    assert.is(sample(metrics, 'imagesys_stage_done_total', { stage: 'thumbnail' }), thumbed);
    assert.is(sample(metrics, 'imagesys_stage_failures_total', { stage: 'download', code: 'http_not_found' }), count('failed', 'http_not_found'));
    assert.is(sample(metrics, 'imagesys_stage_failures_total', { stage: 'download', code: 'not_image' }), count('failed', 'not_image'));
    assert.is(sample(metrics, 'imagesys_stage_failures_total', { stage: 'download', code: 'body_incomplete' }), 3 * truncated);
    assert.is(sample(metrics, 'imagesys_stage_failures_total', { stage: 'download', code: 'http_server_error' }), flaky);
    // latency histograms: one observation per attempt that reached the source, per thumbnail task
    const downloadAttempts = thumbed + count('failed', 'http_not_found') + count('failed', 'not_image') + 3 * truncated + flaky;
    assert.is(sample(metrics, 'imagesys_stage_duration_seconds_count', { stage: 'download' }), downloadAttempts);
    assert.is(sample(metrics, 'imagesys_stage_duration_seconds_count', { stage: 'thumbnail' }), thumbed);
    assert.ok(sample(metrics, 'imagesys_stage_duration_seconds_bucket', { stage: 'download', le: '0.25' }) < downloadAttempts, 'the slow downloads (0.4 s) are above 0.25 s');
    // bytes: originals in exactly as served, thumbnails out exactly as written to the tree
    const servedBytes = expectations.filter((e) => e.end === 'thumbed').reduce((sum, e) => {
      const route = server.routes.get(e.path) as { bytes: Buffer };
      return sum + route.bytes.length;
    }, 0);
    assert.is(sample(metrics, 'imagesys_stage_bytes_total', { stage: 'download', direction: 'in' }), servedBytes);
    assert.is(sample(metrics, 'imagesys_stage_bytes_total', { stage: 'thumbnail', direction: 'in' }), servedBytes);
    assert.is(sample(metrics, 'imagesys_stage_bytes_total', { stage: 'thumbnail', direction: 'out' }), await thumbnailBytes(join(dir, 'tree', 'uk')));

    // gauges: the spool's counts (cached for http.refreshSeconds), pool, sources, disk
    // (a scrape is answered from the last count at once, and a new count is made behind it)
    let settled = new Map<string, number>();
    await waitUntil('the queue gauges show the final spool', async () => {
      settled = await scrape(page!);
      return present(settled, 'imagesys_queue_jobs', { state: 'thumbed', country: 'uk' }) === thumbed && present(settled, 'imagesys_queue_jobs', { state: 'failed', country: 'uk' }) === count('failed');
    }, 10_000);
    assert.is(present(settled, 'imagesys_queue_jobs', { state: 'incoming', country: 'uk' }), 0);
    assert.is(present(settled, 'imagesys_batches_waiting'), 0);
    assert.is(present(metrics, 'imagesys_pool_task_slots'), 4, '2 threads, 2 tasks each');
    assert.ok(present(during, 'imagesys_pool_active_tasks') <= 4);
    assert.is(present(metrics, 'imagesys_pool_active_tasks'), 0, 'nothing runs once the run is over');
    assert.is(present(metrics, 'imagesys_pool_busy_ratio'), 0);
    assert.ok(sample(metrics, 'imagesys_stage_duration_seconds_sum', { stage: 'thumbnail' }) > 0, 'the threads did work');
    const host = new URL(server.url('/')).host;
    assert.ok(sample(metrics, 'imagesys_source_attempts', { kind: 'host', source: host }) > 0);
    assert.is(present(metrics, 'imagesys_source_paused', { kind: 'host', source: host }), 0);
    assert.ok(present(metrics, 'imagesys_disk_free_bytes', { role: 'spool' }) > 0);
    assert.is(present(metrics, 'imagesys_download_slots', { kind: 'limit' }), 16);
    // bounded labels: never a URL or a hash
    for (const value of labelValues(metrics)) assert.not.match(value, /^https?:|[0-9a-f]{32}/, `label value ${value}`);

    // the frontends: n1 level, n2 down; the lag is in status and in /metrics
    const swept = await runCli(['sweep', '--sync', '--config', config]);
    assert.is(swept.code, 1, 'n2 is behind');
    // the minute in progress reaches status through the engine's state file, rewritten every 2 s
    let status = {} as StatusReport;
    await waitUntil('status shows the whole run', async () => {
      status = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as StatusReport;
      return status.throughput.lastHour.thumbed + status.throughput.lastHour.failed === expectations.length;
    }, 10_000);
    const [n1, n2] = status.targets;
    assert.ok(n1?.target === 'n1' && n1.backlog === 0 && n1.lagSeconds !== null && n1.lagSeconds < 60, JSON.stringify(n1));
    assert.ok(n2?.target === 'n2' && n2.backlog === thumbed && n2.lagSeconds === null && n2.lastError?.includes('rsync'), JSON.stringify(n2));
    await waitUntil('/metrics shows each target\'s lag and backlog', async () => {
      const m = await scrape(page!);
      return sample(m, 'imagesys_sync_backlog', { target: 'n2' }) === thumbed && sample(m, 'imagesys_sync_images_total', { target: 'n1', action: 'sent' }) === thumbed;
    }, 10_000);
    const synced = await scrape(page!);
    assert.ok(!synced.has('imagesys_sync_lag_seconds{target="n2"}'), 'n2 was never level: no lag, and a last-level time of 0');
    assert.is(present(synced, 'imagesys_sync_last_level_timestamp_seconds', { target: 'n2' }), 0);
    assert.ok(present(synced, 'imagesys_sync_lag_seconds', { target: 'n1' }) < 60);
    assert.ok(Math.abs(present(synced, 'imagesys_sync_last_level_timestamp_seconds', { target: 'n1' }) - Date.now() / 1000) < 60);
    assert.is(present(synced, 'imagesys_sync_images_total', { target: 'n2', action: 'sent' }), 0);
    assert.is(present(synced, 'imagesys_sync_behind_total', { target: 'n2' }), 1);
    assert.is(present(synced, 'imagesys_sync_behind_total', { target: 'n1' }), 0);
    for (const target of ['n1', 'n2']) assert.ok(present(synced, 'imagesys_sync_last_duration_seconds', { target }) > 0, `${target}: how long its sweep took`);

    // status has the same facts as the page: throughput, latest thumbnails, where the page is
    assert.is(status.throughput.lastHour.thumbed, thumbed);
    assert.is(status.throughput.lastHour.failed, count('failed'));
    assert.is(status.throughput.lastHour.bytesIn, servedBytes);
    assert.is(status.throughput.minutes.reduce((sum, m) => sum + m.thumbed, 0), thumbed);
    assert.equal(status.pages, [page]);
    assert.is(status.latest.length, 12);
    const newest = status.latest[0]!;
    assert.ok(expectations.some((e) => e.url === newest.url && e.end === 'thumbed'));
    const thumb = await fetch(`${page}/tree/${newest.sizes[0]!.path}`);
    assert.is(thumb.status, 200);
    assert.is(thumb.headers.get('content-type'), 'image/webp');
    assert.is(Buffer.from(await thumb.arrayBuffer()).subarray(8, 12).toString(), 'WEBP');
    for (const path of ['/tree/../config.json', '/tree/uk/../../config.json', '/tree/uk%2F..%2F..%2Fconfig.json', '/nothing']) {
      assert.is((await fetch(`${page}${path}`)).status, 404, path);
    }
    const text = await runCli(['status', '--config', config]);
    assert.match(text.stdout, new RegExp(`last hour ${thumbed} thumbed`));
    assert.match(text.stdout, /n2 +seeding \(receives the whole tree once\), 165 waiting/);
    assert.ok(text.stdout.includes(`status page and /metrics: ${page}`));

    await kill(daemon, 'SIGTERM');
    assert.is(daemon.exitCode, 0, daemon.output());
    // report: the run, per process and host, from the history files (the daemon is gone)
    const report = JSON.parse((await runCli(['report', '--json', '--config', config])).stdout) as WorkReport;
    assert.is(report.processes.length, 1);
    assert.is(report.processes[0]!.pid, daemon.pid);
    assert.is(report.processes[0]!.total.thumbed, thumbed);
    assert.is(report.processes[0]!.total.failed, count('failed'));
    assert.equal(report.processes[0]!.total.codes, { http_not_found: count('failed', 'http_not_found'), not_image: count('failed', 'not_image'), body_incomplete: truncated });
    assert.is(report.hosts.length, 1);
    assert.is(report.total.thumbed, thumbed);
    const reportText = await runCli(['report', '--config', config]);
    assert.is(reportText.code, 0);
    assert.match(reportText.stdout, new RegExp(`process [^\\n]+~${daemon.pid} `));
    assert.match(reportText.stdout.trim().split('\n').at(-1)!, new RegExp(`^report: ${thumbed} thumbed, 0 already in tree, ${count('failed')} failed, ${flaky + 2 * truncated} retries by 1 process\\(es\\) on 1 host\\(s\\) in 24 h`));
  } finally {
    if (daemon) await kill(daemon);
    await scenario.server.close();
    await cleanup();
  }
});

test('a daemon whose status address is taken keeps working without its page, and says why', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 2, kinds: { good: 3, missing: 0, flaky: 0, slow: 0, truncated: 0, html: 0, rotated: 0, cmyk: 0 } });
  let first: Daemon | undefined;
  let second: Daemon | undefined;
  try {
    const port = await freePort();
    const config = await writeTestConfig(dir, { countries: ['uk'], http: { listen: `127.0.0.1:${port}` }, log: { level: 'info', dir: join(dir, 'log') } });
    const spool = join(dir, 'spool');
    first = startDaemon(['--config', config]);
    await waitUntil('the first daemon serves its page', async () => (await pageOf(spool)) === `http://127.0.0.1:${port}`, 15_000);
    second = startDaemon(['--config', config]);
    await waitUntil('the second daemon says it cannot listen', () => second!.output().includes('status page and /metrics not served'), 15_000);
    await dropBatches(spool, 'uk', scenario.expectations.map((e) => e.url));
    await waitUntil('the images are thumbed', async () => (await listJobs(spool, 'thumbed', 'uk')).length === 3, 30_000);
    assert.ok(second.exitCode === null, 'the second daemon still runs');
  } finally {
    if (first) await kill(first);
    if (second) await kill(second);
    await scenario.server.close();
    await cleanup();
  }
});

test.run();

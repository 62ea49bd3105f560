/**
 * The canary through the whole path, for real: the daemon sends it (a batch in incoming/zz, its
 * picture from the daemon's own HTTP server, which the SSRF guard lets through with download.allow
 * empty), the pool thumbnails it, the sweeper (run as cron would, in a loop) sends it to three rsync
 * daemons, and the daemon lists it there with rsync. Then one target is stopped: the canary fails
 * there at the sync stage, and its metrics and /api/status say so; the target returns, the next passes.
 */
import { existsSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir } from 'node:fs/promises';
import { stateDir } from '../spool/layout.js';
import { readRecords } from '../engine/canary/store.js';
import type { CanaryRecord } from '../engine/canary/record.js';
import type { StatusReport } from '../engine/observe/status.js';
import { manifestPath } from '../engine/tree/tree.js';
import { join } from 'node:path';
import { kill, runCli, startDaemon, statusPageOf, waitUntil, writeTestConfig, type Daemon } from './support/cli.js';
import { programMissing, testsNeeding } from './support/needs.js';
import { rsyncDaemon, type RsyncDaemon } from './support/rsyncd.js';
import { tempDir } from './support/temp.js';

interface Context {
  dir: string;
  cleanup: () => Promise<void>;
  config: string;
  spool: string;
  tree: string;
  targets: RsyncDaemon[];
  daemon: Daemon;
  page: string;
  sweeping: boolean;
  sweeper: Promise<void>;
}

const test = testsNeeding(suite<Context>('canary'), programMissing('rsync'));

const INTERVAL_MINUTES = 0.1; // a canary every 6 s
const DEADLINE_MINUTES = 0.75; // each has 45 s to arrive everywhere (a loaded machine needs it)

test.before(async (context) => {
  const { dir, cleanup } = await tempDir('imagesys-canary-');
  Object.assign(context, { dir, cleanup, spool: join(dir, 'spool'), tree: join(dir, 'tree') });
  context.targets = await Promise.all(['n1', 'n2', 'n3'].map((name) => rsyncDaemon(name, join(dir, 'frontends'))));
  context.config = await writeTestConfig(dir, {
    countries: ['uk'],
    // no exception for loopback: the canary's picture comes through the guard's own exception
    download: { allow: [] },
    sweep: { targets: context.targets.map((t) => ({ name: t.name, dest: t.url })), connectTimeoutSeconds: 2, timeoutSeconds: 10 },
    canary: { intervalMinutes: INTERVAL_MINUTES, deadlineMinutes: DEADLINE_MINUTES },
    log: { level: 'info', dir: join(dir, 'log') },
  });
  context.daemon = startDaemon(['--config', context.config]);
  await waitUntil('the daemon serves its page', async () => (await statusPageOf(context.spool)) !== undefined, 30_000);
  context.page = (await statusPageOf(context.spool))!;
  // the sweeper as cron runs it, every second here
  context.sweeping = true;
  context.sweeper = (async () => {
    while (context.sweeping) {
      await runCli(['sweep', '--sync', '--config', context.config], { timeoutMs: 60_000 }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  })();
});

test.after(async (context) => {
  context.sweeping = false;
  await context.sweeper;
  await kill(context.daemon, 'SIGTERM');
  await Promise.all(context.targets.map((t) => t.stop()));
  await context.cleanup();
});

const decided = async (spool: string, newerThan = -1): Promise<CanaryRecord[]> => (await readRecords(spool)).filter((r) => r.result && r.slot > newerThan);

async function metrics(page: string): Promise<string> {
  return (await fetch(`${page}/metrics`)).text();
}

function metric(text: string, line: RegExp): number | undefined {
  const found = text.split('\n').find((l) => line.test(l));
  return found === undefined ? undefined : Number(found.split(' ').pop());
}

test('a canary goes through the whole path and is found on every target, each stage timed, then removed', async (context) => {
  let ok: CanaryRecord | undefined;
  await waitUntil('a canary arrived everywhere', async () => {
    ok = (await decided(context.spool)).find((r) => r.result!.ok);
    return ok !== undefined;
  }, 90_000).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${context.daemon.output().slice(-3000)}`);
  });
  const record = ok!;
  assert.is(record.country, 'zz');
  assert.is(record.url, `${context.page}/canary/${record.slot}-${record.id}.png`);
  for (const target of ['local', 'n1', 'n2', 'n3']) assert.ok(record.arrived[target], `arrived on ${target}`);
  assert.ok(record.queuedAt && record.madeAt, 'intake and thumbnail times recorded');
  assert.ok(record.servedAt, 'the end of its download recorded by the server of its picture');
  const times = [record.droppedAt, record.queuedAt, record.servedAt, record.madeAt].map((t) => Date.parse(t));
  assert.equal([...times].sort((a, b) => a - b), times, `stages in order: ${JSON.stringify(record)}`);
  // the server draws a canary's picture only while its record waits for it
  assert.is((await fetch(`${context.page}/canary/${record.slot}-0000000000000000.png`)).status, 404);
  assert.is((await fetch(`${context.page}/canary/1-${record.id}.png`)).status, 404);
  assert.ok(Date.parse(record.arrived.n1!) >= Date.parse(record.madeAt));
  assert.is(record.result!.failures.length, 0);
  // then removed: from the local tree, and (through the sweeper's backlog) from every target
  await waitUntil('the canary is removed', async () => (await readRecords(context.spool)).find((r) => r.slot === record.slot)?.purged === true, 30_000);
  assert.not.ok(existsSync(manifestPath(context.tree, 'zz', record.hash)), 'gone from the local tree');
  await waitUntil('the canary is removed from the targets', () => context.targets.every((t) => !existsSync(manifestPath(t.data, 'zz', record.hash))), 30_000);
  // what the metrics and the status say of it
  const text = await metrics(context.page);
  for (const target of ['local', 'n1', 'n2', 'n3']) {
    assert.ok((metric(text, new RegExp(`^imagesys_canary_last_success_timestamp_seconds\\{target="${target}"\\}`)) ?? 0) * 1000 >= Date.parse(record.droppedAt), `last success on ${target}`);
    assert.ok((metric(text, new RegExp(`^imagesys_canary_latency_seconds_count\\{target="${target}"\\}`)) ?? 0) >= 1, `latency observed for ${target}`);
  }
  const status = (await (await fetch(`${context.page}/api/status`)).json()) as StatusReport;
  assert.equal(status.canary.map((c) => c.target), ['local', 'n1', 'n2', 'n3']);
  assert.ok(status.canary.every((c) => c.lastSuccessAt !== undefined));
  const text2 = (await runCli(['status', '--config', context.config])).stdout;
  assert.match(text2, /canary \(the last one checked, per target\):/);
  assert.match(text2, /n1 +(ok in [\d.]+ s \(intake [\d.]+ s, download [\d.]+ s, thumbnail [\d.]+ s, sync [\d.]+ s\)|FAILED)/);
  // its own country, where no job failed
  assert.match(text2, /^zz +\d+ +\d+ +\d+ +0$/m);
});

test('with one target stopped, the canary fails there at the sync stage by its deadline; after it returns, the next one passes', async (context) => {
  const n2 = context.targets[1]!;
  await n2.stop();
  const stoppedAt = Date.now();
  let failed: CanaryRecord | undefined;
  await waitUntil('a canary failed on n2', async () => {
    failed = (await decided(context.spool)).find((r) => !r.result!.ok && Date.parse(r.droppedAt) > stoppedAt);
    return failed !== undefined;
  }, DEADLINE_MINUTES * 60_000 + 60_000);
  const failures = failed!.result!.failures;
  const onN2 = failures.find((f) => f.target === 'n2');
  assert.is(onN2?.stage, 'sync', JSON.stringify(failures));
  assert.match(onN2!.reason, /rsync could not list it/);
  assert.ok(failures.every((f) => f.stage === 'sync'), JSON.stringify(failures));
  assert.ok(failed!.arrived.n1 && failed!.arrived.n3, 'the other targets had it');
  // decided at its deadline, not before
  assert.ok(Date.parse(failed!.result!.at) >= Date.parse(failed!.deadlineAt));
  // the page and the spool's gauges are counted anew every http.refreshSeconds: the next count says so
  let text = '';
  await waitUntil('the metrics say n2 failed', async () => metric((text = await metrics(context.page)), /^imagesys_canary_ok\{target="n2"\}/) === 0, 10_000);
  assert.ok((metric(text, /^imagesys_canary_failures_total\{stage="sync",target="n2"\}/) ?? 0) >= 1, 'failures by stage and target');
  assert.is(metric(text, /^imagesys_canary_ok\{target="n1"\}/), 1);
  const status = (await (await fetch(`${context.page}/api/status`)).json()) as StatusReport;
  const shown = status.canary.find((c) => c.target === 'n2')!;
  assert.is(shown.ok, false);
  assert.is(shown.failure?.stage, 'sync');
  assert.ok(Date.parse(shown.lastSuccessAt!) < stoppedAt + 5_000, 'its last success is from before it stopped');

  await n2.start();
  const backAt = Date.now();
  let passed: CanaryRecord | undefined;
  await waitUntil('a canary arrived on n2 again', async () => {
    passed = (await decided(context.spool)).find((r) => r.result!.ok && Date.parse(r.droppedAt) > backAt);
    return passed !== undefined;
  }, DEADLINE_MINUTES * 60_000 + 60_000);
  assert.ok(passed!.arrived.n2);
  await waitUntil('the page says n2 is ok again', async () => {
    const after = (await (await fetch(`${context.page}/api/status`)).json()) as StatusReport;
    return after.canary.find((c) => c.target === 'n2')?.ok === true;
  }, 20_000);
  // every canary decided is removed: no batch or job of one is left in the spool but those still on their way
  await waitUntil('the decided canaries are removed', async () => (await readRecords(context.spool)).every((r) => !r.result || r.purged), 30_000);
  const onTheirWay = new Set((await readRecords(context.spool)).filter((r) => !r.result).flatMap((r) => [`${r.hash}.job`, `${r.hash}.orig`, `canary-${r.id}.urls`]));
  for (const state of ['incoming', 'downloaded', 'failed'] as const) {
    const left = (await readdir(stateDir(context.spool, state, 'zz')).catch(() => [] as string[])).filter((n) => !n.startsWith('.') && !onTheirWay.has(n));
    assert.equal(left, [], `${state}/zz`);
  }
});

test.run();

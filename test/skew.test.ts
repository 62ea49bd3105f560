/**
 * Engines whose clocks differ, as real processes under libfaketime (Debian `faketime`): claims are
 * judged by the spool file system's time, so an engine 40 s ahead, 40 s behind or an hour ahead takes
 * over no live claim, and a dead engine's claims are taken over within claims.staleMs whatever the
 * taker's clock says. The file system's time here is the kernel's, which libfaketime does not move.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl } from '../engine/core/hash.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type Route } from '../scripts/source-server.js';
import { kill, runCli, startDaemon, statusPageOf, waitUntil, writeTestConfig } from './support/cli.js';
import { faketimeMissing, skewedClock } from './support/faketime.js';
import { testsNeeding } from './support/needs.js';
import { assertHits, assertNoLeftovers, assertOutcomes, assertThumbnails, listJobs, startScenario } from './support/scenario.js';
import { tempDir } from './support/temp.js';

const test = testsNeeding(suite('skew'), faketimeMissing());

const STALE_MS = 4_000;
/** How long the source takes to answer each of the dead engine's downloads. */
const HELD_MS = 6_000;
/** An hour's skew must not stop the engine here: what is tested is the claims, not the refusal. */
const configFor = (dir: string): Promise<string> =>
  writeTestConfig(dir, {
    claims: { staleMs: STALE_MS, clockRefuseMs: 7_200_000 },
    // the held downloads answer after HELD_MS
    download: { concurrency: 16, perHost: 8, headersTimeoutMs: HELD_MS + 4_000, bodyTimeoutMs: 3_000, totalTimeoutMs: HELD_MS + 8_000 },
  });

test('engines at +40 s, -40 s and +1 h on one spool: every URL downloaded once, every job in one state', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 3, kinds: { good: 45, missing: 8, flaky: 0, slow: 12, truncated: 0, html: 5, rotated: 0, cmyk: 0 } });
  try {
    const config = await configFor(dir);
    const spool = join(dir, 'spool');
    const tree = join(dir, 'tree');
    const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', '--file', '-'], { input: scenario.expectations.map((e) => e.url).join('\n') });
    assert.is(enqueue.code, 0, enqueue.stderr);
    const runs = await Promise.all(['+40s', '-40s', '+1h'].map((offset) => runCli(['run', '--once', '--config', config], { env: skewedClock(offset) })));
    for (const [i, run] of runs.entries()) assert.is(run.code, 0, `engine ${i}: ${run.stderr}`);
    const thumbed = runs.map((run) => Number(/run: (\d+) thumbed/.exec(run.stdout)?.[1] ?? NaN));
    console.log(`engines +40s, -40s, +1h: ${thumbed.join(', ')} thumbed`);
    // each warned about its clock: it says so rather than nothing
    for (const run of runs) assert.match(run.stderr, /clock is off the spool's/);
    assert.is(thumbed.reduce((a, b) => a + b, 0), scenario.expectations.filter((e) => e.end === 'thumbed').length, 'thumbnails made once per image');
    assertHits(scenario.server, scenario.expectations);
    await assertOutcomes(spool, 'uk', scenario.expectations);
    await assertThumbnails(tree, 'uk', scenario.expectations);
    await assertNoLeftovers(spool, tree);
    assert.equal(await readdir(join(spool, '.locks')), [], 'every claim released');
  } finally {
    await scenario.server.close();
    await cleanup();
  }
});

for (const [dead, taker] of [['none', '-40s'], ['+1h', 'none']] as const) {
  test(`a dead engine's claims are taken over within staleMs (dead engine's clock: ${dead}, its successor's: ${taker})`, async () => {
    const { dir, cleanup } = await tempDir();
    const bytes = await makeSample({ width: 640, height: 480, seed: 3 });
    const routes = new Map<string, Route>();
    // slow enough that the first engine still holds every claim when it is killed, after the checks of its offset
    for (let i = 0; i < 6; i++) routes.set(`/held/${i}.jpg`, { kind: 'slow', delayMs: HELD_MS, bytes });
    const server = await startSourceServer(routes);
    try {
      const config = await configFor(dir);
      const spool = join(dir, 'spool');
      const urls = [...routes.keys()].map((path) => server.url(path));
      const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', ...urls]);
      assert.is(enqueue.code, 0, enqueue.stderr);
      const doomed = startDaemon(['--config', config], skewedClock(dead));
      try {
        // it holds every claim once every download has started
        await waitUntil('the first engine has started every download', () => [...routes.keys()].every((path) => (server.hits.get(path) ?? 0) >= 1), 30_000);
        if (dead === '+1h') {
          // its offset from the spool's clock, as status, the page and /metrics show it
          const status = await runCli(['status', '--json', '--config', config]);
          const engines = (JSON.parse(status.stdout) as { engines: Array<{ clock?: { offsetMs: number; level: string } }> }).engines;
          assert.ok(engines.some((e) => e.clock !== undefined && Math.abs(e.clock.offsetMs + 3_600_000) < 2_000 && e.clock.level === 'warn'), status.stdout);
          assert.match((await runCli(['status', '--config', config])).stdout, /CLOCK OFF: clock 1h 0m ahead of the spool's/);
          let page: string | undefined;
          await waitUntil('the engine announced its page', async () => (page = await statusPageOf(spool)) !== undefined, 4_000);
          const metrics = await (await fetch(`${page}/metrics`)).text();
          const offset = Number(/^imagesys_spool_clock_offset_seconds (\S+)$/m.exec(metrics)?.[1]);
          assert.ok(Math.abs(offset + 3_600) < 2, `imagesys_spool_clock_offset_seconds ${offset}`);
        }
      } finally {
        await kill(doomed);
      }
      const killedAt = Date.now();
      assert.ok((await readdir(join(spool, '.locks'))).length >= 6, "the dead engine's claims are left behind (it kept its own)");
      const successor = await runCli(['run', '--once', '--config', config], { env: skewedClock(taker), timeoutMs: 90_000 });
      const tookMs = Date.now() - killedAt;
      assert.is(successor.code, 0, successor.stderr);
      assert.match(successor.stdout, /run: 6 thumbed/);
      // taken over once stale (STALE_MS after the last refresh), then HELD_MS per download: judged by a
      // clock 40 s behind against the lock's mtime, it would have waited 40 s more
      console.log(`the dead engine's 6 jobs were finished ${(tookMs / 1000).toFixed(1)} s after it was killed`);
      assert.ok(tookMs < STALE_MS + HELD_MS + 15_000, `finished ${tookMs} ms after the kill`);
      for (const path of routes.keys()) assert.is(server.hits.get(path), 2, `${path}: once by the dead engine, once by its successor`);
      assert.equal((await listJobs(spool, 'thumbed', 'uk')).sort(), urls.map((u) => `${hashForUrl(u)}.job`).sort());
      assert.equal(await readdir(join(spool, '.locks')), [], "the dead engine's claims are gone");
    } finally {
      await server.close();
      await cleanup();
    }
  });
}

test.run();

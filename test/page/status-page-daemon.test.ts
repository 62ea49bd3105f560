/**
 * The status page as a running daemon serves it, in chromium: opened during a run, it ends up showing
 * exactly what the spool holds, draws the run in its charts, shows the failures the spool has and the
 * thumbnails the tree has, and the target's lag after a sweep. Screenshot: test-output/status-page-daemon.png.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { STATES } from '../../spool/layout.js';
import { browserMissing, launchBrowser, saveScreenshot } from '../support/browser.js';
import { kill, runCli, startDaemon, statusPageOf as pageOf, waitUntil, writeTestConfig, type Daemon } from '../support/cli.js';
import { firstMissing, programMissing, testsNeeding } from '../support/needs.js';
import { dropBatches, listJobs, startScenario } from '../support/scenario.js';
import { tempDir } from '../support/temp.js';

/** What the spool holds, counted the way an operator would with ls. */
async function spoolCounts(spool: string, countries: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const country of countries) for (const state of STATES) counts[`${country}.${state}`] = (await listJobs(spool, state, country)).length;
  return counts;
}

async function failureCodes(spool: string): Promise<Record<string, number>> {
  const codes: Record<string, number> = {};
  for (const name of await listJobs(spool, 'failed', 'uk')) {
    const job = JSON.parse(await readFile(join(spool, 'failed', 'uk', name), 'utf8')) as { errorCode: string };
    codes[job.errorCode] = (codes[job.errorCode] ?? 0) + 1;
  }
  return codes;
}

// the browser, and rsync for the sweep whose lag the page shows
const withBrowser = testsNeeding(test, firstMissing(browserMissing(), programMissing('rsync')));

withBrowser('the daemon\'s status page in chromium shows what the spool holds, draws the run, refreshes itself', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 2, kinds: { good: 40, missing: 6, flaky: 4, slow: 20, truncated: 3, html: 4, rotated: 4, cmyk: 2 } });
  const browser = await launchBrowser();
  let daemon: Daemon | undefined;
  try {
    const countries = ['uk', 'de'];
    const config = await writeTestConfig(dir, {
      countries,
      download: { concurrency: 4, perHost: 4 }, // a run that lasts a few seconds: the page is looked at during it
      retry: { baseMs: 50, maxMs: 100, maxAttempts: 2, factor: 2, jitter: 0 },
      http: { listen: '127.0.0.1:0', refreshSeconds: 0.5 },
      sweep: { targets: [{ name: 'n1', dest: join(dir, 'n1') }] },
    });
    await mkdir(join(dir, 'n1'));
    const spool = join(dir, 'spool');
    daemon = startDaemon(['--config', config]);
    let url: string | undefined;
    await waitUntil('the daemon announces its page', async () => (url = await pageOf(spool)) !== undefined, 15_000);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const elsewhere: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(url!) && !request.url().startsWith('data:')) elsewhere.push(request.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url!);
    await dropBatches(spool, 'uk', scenario.expectations.map((e) => e.url));

    // during the run: the page is up and shows work in progress
    await page.waitForFunction(() => Number(document.querySelector('[data-total="thumbed"]')?.textContent ?? 0) > 0, undefined, { timeout: 30_000 });
    const total = scenario.expectations.length;
    const done = async (): Promise<number> => (await listJobs(spool, 'thumbed', 'uk')).length + (await listJobs(spool, 'failed', 'uk')).length;
    assert.ok((await done()) < total, 'the page was looked at while the run went on');
    await waitUntil('the run is over', async () => (await done()) === total, 60_000);
    const thumbed = (await listJobs(spool, 'thumbed', 'uk')).length;
    // the sweep sends the thumbnails to n1; jobs every target has leave thumbed/
    const swept = await runCli(['sweep', '--sync', '--config', config]);
    assert.is(swept.code, 0, swept.stderr);

    // after the run: once the page has refreshed past the end, its numbers are the spool's
    const expected = await spoolCounts(spool, countries);
    const finishedAt = new Date().toISOString();
    await page.waitForFunction((after) => (document.querySelector('#updated')?.getAttribute('data-updated') ?? '') > after, finishedAt, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('tr[data-target="n1"]')?.getAttribute('data-lag') !== '', undefined, { timeout: 10_000 });
    const shown = await page.$$eval('[data-count]', (cells) => Object.fromEntries(cells.map((c) => [String(c.getAttribute('data-count')), Number(c.textContent)])));
    assert.equal(shown, expected);
    for (const state of STATES) assert.is(Number(await page.textContent(`[data-total="${state}"]`)), expected[`uk.${state}`]! + expected[`de.${state}`]!, state);
    assert.is(expected['uk.thumbed'], 0, 'the sweep released every delivered job');

    // failures: the spool's codes and counts, with example URLs of that kind
    const codes = await failureCodes(spool);
    const rows = await page.$$eval('tr[data-failure-code]', (trs) => trs.map((tr) => [tr.getAttribute('data-failure-code'), Number(tr.querySelector('[data-failure-count]')?.textContent), [...tr.querySelectorAll('.example .url')].map((u) => u.textContent)] as const));
    assert.equal(Object.fromEntries(rows.map(([code, count]) => [code, count])), codes);
    const notFound = rows.find(([code]) => code === 'http_not_found')!;
    assert.ok(notFound[2].length > 0 && notFound[2].every((u) => /\/missing\/\d+\.jpg$/.test(u ?? '')), notFound[2].join(' '));

    // the charts drew the run; the last hour's figures are the run's
    const thumbedPath = await page.getAttribute('svg#chart-images path.series[data-series="thumbed"]', 'd');
    assert.ok(thumbedPath && thumbedPath.length > 0, 'the images chart drew the thumbed series');
    const bytesPath = await page.getAttribute('svg#chart-bytes path.series[data-series="bytesIn"]', 'd');
    assert.ok(bytesPath && bytesPath.length > 0, 'the bytes chart drew the bytes downloaded');
    // (the minute in progress reaches the page through the engine's state file, rewritten every 2 s)
    const rate = (field: string) => `[data-rate="lastHour.${field}"]`;
    // both figures may arrive a refresh apart: wait until both have (or time out, failing)
    const shows = (pairs: Array<[string, string]>): Promise<unknown> =>
      page.waitForFunction((wanted) => wanted.every(([selector, value]) => document.querySelector(selector)?.getAttribute('data-value') === value), pairs, { timeout: 10_000 }).catch(() => undefined);
    await shows([[rate('failed'), String(expected['uk.failed'])], [rate('thumbed'), String(thumbed)]]);
    assert.is(Number(await page.getAttribute(rate('failed'), 'data-value')), expected['uk.failed']);
    assert.is(Number(await page.getAttribute(rate('thumbed'), 'data-value')), thumbed);

    // the target, the engine, the latest thumbnails (loaded from the daemon)
    assert.is(await page.textContent('tr[data-target="n1"] [data-backlog]'), '0');
    assert.ok(Number(await page.getAttribute('tr[data-target="n1"]', 'data-lag')) < 60);
    assert.is(await page.getAttribute(`tr[data-engine$="~${daemon.pid}"]`, 'data-alive'), 'true');
    assert.is(await page.getAttribute('#state', 'data-state'), 'running');
    const thumbs = await page.$$eval('#latest img', (imgs) => imgs.map((img) => ({ width: (img as HTMLImageElement).naturalWidth, title: img.getAttribute('title') })));
    assert.is(thumbs.length, 12);
    for (const thumb of thumbs) {
      assert.ok(thumb.width > 0 && thumb.width <= 120, `thumbnail ${thumb.title} loaded at its smallest size (${thumb.width} px)`);
      assert.ok(scenario.expectations.some((e) => e.url === thumb.title && e.end === 'thumbed'), `${thumb.title} is a thumbed image`);
    }
    assert.is(await page.getAttribute('#error', 'hidden'), '', 'no fetch failed');
    assert.equal(elsewhere, [], 'the page asked nothing of any other address');
    assert.equal(errors, [], 'no script error');
    console.log(`screenshot: ${await saveScreenshot(page, 'status-page-daemon.png')}`);

    // the daemon stops: the page says it cannot reach it and keeps the last numbers
    await kill(daemon, 'SIGTERM');
    await page.waitForSelector('#error:not([hidden])', { timeout: 10_000 });
    assert.is(Number(await page.textContent('[data-count="uk.failed"]')), expected['uk.failed']);
  } finally {
    await browser.close();
    if (daemon) await kill(daemon);
    await scenario.server.close();
    await cleanup();
  }
});

test.run();

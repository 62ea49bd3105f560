import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl } from '../engine/core/hash.js';
import { manifestPath } from '../engine/tree/tree.js';
import { makeSample } from '../scripts/sample-images.js';
import { runCli, writeTestConfig } from './support/cli.js';
import { assertHits, assertNoLeftovers, assertOutcomes, assertThumbnails, dropBatches, listJobs, mtimeOf, startScenario } from './support/scenario.js';
import { tempDir } from './support/temp.js';

test('200 URLs from a misbehaving server: every job ends thumbed or failed with the right code', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 3 });
  try {
    // no grace for a busy pool: many originals go through downloaded/ on disk
    const config = await writeTestConfig(dir, { pool: { threads: 2, spillAfterMs: 0 } });
    const spool = join(dir, 'spool');
    const tree = join(dir, 'tree');
    const { expectations, server } = scenario;
    assert.is(expectations.length, 200);
    await dropBatches(spool, 'uk', expectations.map((e) => e.url));
    // a job written by hand, with nothing but a URL, under a made-up name
    const handUrl = server.url('/good/0.jpg');
    await mkdir(join(spool, 'incoming', 'de'), { recursive: true });
    await writeFile(join(spool, 'incoming', 'de', 'by-hand.job'), JSON.stringify({ url: handUrl }));

    const run = await runCli(['run', '--once', '--config', config]);
    assert.is(run.code, 0, run.stderr);
    const summary = run.stdout.trim().split('\n').at(-1)!;
    console.log(summary);
    assert.match(summary, /^run: 166 thumbed, 0 already in tree, 35 failed \(http_not_found 15, body_incomplete 10, not_image 10\), \d+ retries, \d+ via downloaded\/, 2 batches read in [\d.]+s$/);
    assert.ok(Number(/(\d+) via downloaded/.exec(summary)![1]) > 0, 'the disk path between the stages was used');
    assert.match(run.stderr, /progress: /);

    await assertOutcomes(spool, 'uk', expectations);
    await assertThumbnails(tree, 'uk', expectations);
    assertHits(server, expectations.map((e) => (e.path === '/good/0.jpg' ? { ...e, hits: 2 } : e)));
    assert.equal(await listJobs(spool, 'thumbed', 'de'), [`${hashForUrl(handUrl)}.job`]);
    await assertNoLeftovers(spool, tree);
    assert.equal(await readdir(join(spool, '.locks')), [], 'every claim was released');
  } finally {
    await scenario.server.close();
    await cleanup();
  }
});

test('a failed job moved back to incoming/ by mv is processed again', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 2, kinds: { good: 2, missing: 1, flaky: 0, slow: 0, truncated: 0, html: 0, rotated: 0, cmyk: 0 } });
  try {
    const config = await writeTestConfig(dir, { retry: { baseMs: 50, maxMs: 100, maxAttempts: 2 } });
    const spool = join(dir, 'spool');
    const missing = scenario.expectations.find((e) => e.kind === 'missing')!;
    await dropBatches(spool, 'uk', scenario.expectations.map((e) => e.url));
    assert.is((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.equal(await listJobs(spool, 'failed', 'uk'), [`${missing.hash}.job`]);

    // the source puts the photo up; the operator retries with mv
    scenario.server.routes.set(missing.path, { kind: 'image', bytes: await makeSample({ width: 640, height: 480 }) });
    await rename(join(spool, 'failed', 'uk', `${missing.hash}.job`), join(spool, 'incoming', 'uk', `${missing.hash}.job`));
    const again = await runCli(['run', '--once', '--config', config]);
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stdout, /run: 1 thumbed/);
    assert.equal(await listJobs(spool, 'failed', 'uk'), []);
    assert.ok((await listJobs(spool, 'thumbed', 'uk')).includes(`${missing.hash}.job`));

    // a job that spent its attempts on a flaky source gets a fresh set when moved back by hand
    const flaky = scenario.expectations.find((e) => e.kind === 'good')!;
    await rm(join(dir, 'tree', 'uk'), { recursive: true });
    const spent = { url: flaky.url, attempts: 2, errorCode: 'http_server_error', error: 'HTTP 500' };
    await rm(join(spool, 'thumbed', 'uk', `${flaky.hash}.job`));
    await writeFile(join(spool, 'incoming', 'uk', `${flaky.hash}.job`), JSON.stringify(spent));
    scenario.server.routes.set(flaky.path, { kind: 'flaky', failures: 1, status: 500, bytes: await makeSample({ width: 300, height: 200 }) });
    scenario.server.hits.delete(flaky.path);
    const third = await runCli(['run', '--once', '--config', config]);
    assert.match(third.stdout, /run: 1 thumbed, 0 already in tree, 0 failed, 1 retries, 0 via downloaded/, third.stdout + third.stderr);
  } finally {
    await scenario.server.close();
    await cleanup();
  }
});

test('a URL queued twice is one job; a URL already in the tree is touched, not downloaded', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 2, kinds: { good: 3, missing: 0, flaky: 0, slow: 0, truncated: 0, html: 0, rotated: 0, cmyk: 0 } });
  try {
    const config = await writeTestConfig(dir);
    const spool = join(dir, 'spool');
    const tree = join(dir, 'tree');
    const urls = scenario.expectations.map((e) => e.url);
    const first = await runCli(['enqueue', '--config', config, '--country', 'uk', ...urls, urls[0]!, `  ${urls[1]!.replace('http://', 'HTTP://')}#x`]);
    assert.is(first.code, 0, first.stderr);
    assert.match(first.stdout, /enqueue: 3 queued, 2 already queued/);
    assert.is((await listJobs(spool, 'incoming', 'uk')).length, 3);
    assert.is((await runCli(['run', '--once', '--config', config])).code, 0);

    // age the files, then list the same URLs again: no download, fresh mtimes
    const old = new Date(Date.now() - 10 * 86400_000);
    const manifest = manifestPath(tree, 'uk', scenario.expectations[0]!.hash);
    await utimes(manifest, old, old);
    const before = scenario.server.totalHits();
    await dropBatches(spool, 'uk', urls);
    const again = await runCli(['run', '--once', '--config', config]);
    assert.is(again.code, 0, again.stderr);
    assert.is(scenario.server.totalHits(), before, 'nothing downloaded again');
    assert.ok((await mtimeOf(manifest)) > Date.now() - 60_000, 'the manifest was touched');
    assertHits(scenario.server, scenario.expectations);

    // a refresh asks again with the stored ETag: 304, nothing new written, files touched
    const image = scenario.expectations[0]!;
    scenario.server.routes.set(image.path, { kind: 'image', bytes: (scenario.server.routes.get(image.path) as { bytes: Buffer }).bytes, etag: '"v1"' });
    await rm(join(tree, 'uk'), { recursive: true });
    assert.match((await runCli(['enqueue', '--config', config, '--country', 'uk', image.url])).stdout, /1 queued/, 'an image gone from the tree is made again');
    assert.is((await runCli(['run', '--once', '--config', config])).code, 0);
    assert.ok(await stat(manifest), 'made again');
    await utimes(manifest, old, old);
    assert.match((await runCli(['enqueue', '--refresh', '--config', config, '--country', 'uk', image.url])).stdout, /1 queued/);
    const refreshed = await runCli(['run', '--once', '--config', config]);
    assert.match(refreshed.stdout, /run: 0 thumbed, 1 already in tree/);
    assert.is(scenario.server.hits.get(image.path), 3, 'one more request, answered 304');
    assert.ok((await mtimeOf(manifest)) > Date.now() - 60_000, 'touched by the 304');
  } finally {
    await scenario.server.close();
    await cleanup();
  }
});

test.run();

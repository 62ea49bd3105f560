import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl, pathForHash } from '../engine/core/hash.js';
import type { StatusReport } from '../engine/observe/status.js';
import { runCli, startDaemon, writeTestConfig } from './support/cli.js';
import { listJobs, startScenario } from './support/scenario.js';
import { tempDir } from './support/temp.js';

test('every command has --help', async () => {
  for (const command of ['run', 'enqueue', 'status', 'retry', 'hash', 'path', 'show', 'demo']) {
    const result = await runCli([command, '--help']);
    assert.is(result.code, 0, command);
    for (const option of ['--config', '--country', '--verbose', '--help']) assert.ok(result.stdout.includes(option), `${command} --help lists ${option}`);
  }
});

test('hash and path print the documented forms', async () => {
  const url = 'http://example.com/a.jpg';
  const hash = await runCli(['hash', url]);
  assert.is(hash.stdout.trim(), hashForUrl(url));
  const path = await runCli(['path', hashForUrl(url)]);
  assert.is(path.stdout.trim(), pathForHash(hashForUrl(url)));
  const bad = await runCli(['path', 'nope']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /not a hash/);
});

test('a bad config names the key and what was expected', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ download: { perHost: 'four' } }));
    const result = await runCli(['status', '--config', path]);
    assert.is(result.code, 2);
    assert.match(result.stderr, /expected an integer from 1 to 1024 for download.perHost but received "four"/);
    await writeFile(path, '{ not json');
    assert.match((await runCli(['status', '--config', path])).stderr, /not valid JSON/);
    assert.match((await runCli(['status', '--config', join(dir, 'missing.json')])).stderr, /cannot read config file/);
    assert.match((await runCli(['status', '--country', 'United Kingdom'])).stderr, /--country expects codes/);
  } finally {
    await cleanup();
  }
});

test('a country the config does not list is refused by run, enqueue and retry, naming the configured ones', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const config = await writeTestConfig(dir, { countries: ['uk', 'de'] });
    for (const args of [['run', '--once'], ['enqueue', 'http://127.0.0.1/a.jpg'], ['retry']]) {
      const result = await runCli([...args, '--config', config, '--country', 'zz']);
      assert.is(result.code, 2, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, /--country zz is not configured \(countries: uk, de\)/);
    }
    assert.equal(await readdir(join(dir, 'spool', 'incoming')).catch(() => []), [], 'nothing was queued');
    // looking is allowed: a country dropped from the config may still have a spool and a tree
    const status = await runCli(['status', '--config', config, '--country', 'zz']);
    assert.is(status.code, 0, status.stderr);
  } finally {
    await cleanup();
  }
});

/** The repository this test runs from (dist/test/cli.test.js is two levels down). */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('bin/imagesys before a build: without npm packages it says what to run; with them it builds, then runs', async () => {
  const { dir, cleanup } = await tempDir();
  const exec = promisify(execFile);
  try {
    for (const part of ['bin', 'engine', 'spool', 'workers', 'scripts', 'bench', 'test', 'package.json', 'tsconfig.json']) await cp(join(REPO, part), join(dir, part), { recursive: true });
    const url = 'http://example.com/a.jpg';
    const bare = await exec(join(dir, 'bin', 'imagesys'), ['hash', url]).then(() => undefined, (error: unknown) => error as { code: number; stderr: string });
    assert.ok(bare, 'refused without a build');
    assert.is(bare.code, 2);
    assert.match(bare.stderr, /not set up yet: run scripts\/setup\.sh/);
    await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'));
    const built = await exec(join(dir, 'bin', 'imagesys'), ['hash', url], { timeout: 120_000 });
    assert.match(built.stderr, /building first/);
    assert.is(built.stdout.trim(), hashForUrl(url));
  } finally {
    await cleanup();
  }
});

test('status, show and retry on a processed spool', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 2, kinds: { good: 4, missing: 3, flaky: 0, slow: 0, truncated: 0, html: 1, rotated: 0, cmyk: 0 } });
  try {
    const config = await writeTestConfig(dir, { retry: { baseMs: 50, maxMs: 100, maxAttempts: 2 } });
    const urls = scenario.expectations.map((e) => e.url);
    assert.is((await runCli(['enqueue', '--config', config, '--country', 'uk', ...urls])).code, 0);

    const waiting = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as StatusReport;
    assert.is(waiting.counts.uk!.incoming, 8);
    assert.ok(waiting.oldest?.country === 'uk' && waiting.oldest.state === 'incoming');

    assert.is((await runCli(['run', '--once', '--config', config])).code, 0);
    const report = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as StatusReport;
    assert.equal(report.counts.uk, { incoming: 0, downloaded: 0, thumbed: 4, failed: 4 });
    assert.equal(report.counts.de, { incoming: 0, downloaded: 0, thumbed: 0, failed: 0 });
    assert.equal(report.totals, { incoming: 0, downloaded: 0, thumbed: 4, failed: 4 });
    assert.is(report.oldest, null);
    assert.equal(report.failures.map((f) => [f.code, f.count]), [['http_not_found', 3], ['not_image', 1]]);
    assert.ok(report.failures[0]!.examples.length === 3 && report.failures[0]!.examples.every((e) => e.url.includes('/missing/') && e.error.includes('404')));
    assert.ok(report.disk.length === 2 && report.disk[0]!.freeBytes > 0);

    const text = await runCli(['status', '--config', config, '--country', 'uk']);
    assert.match(text.stdout, /uk\s+0\s+0\s+4\s+4/);
    assert.match(text.stdout, /http_not_found/);
    assert.not.match(text.stdout, /\nde /);

    const good = scenario.expectations.find((e) => e.kind === 'good')!;
    const show = JSON.parse((await runCli(['show', good.url, '--config', config])).stdout) as { found: Array<{ state: string; thumbnails?: { sizes: Array<{ url: string }> } }> };
    assert.equal(show.found.map((f) => f.state), ['thumbed', 'tree']);
    assert.ok(show.found[1]!.thumbnails!.sizes[0]!.url.startsWith(`https://img.example.com/t/uk/${good.hash.slice(0, 2)}/`));
    assert.is((await runCli(['show', 'http://nowhere.example/x.jpg', '--config', config])).code, 1);

    const retry = await runCli(['retry', '--config', config, '--code', 'http_not_found']);
    assert.match(retry.stdout, /retry: 3 failed job\(s\) moved back to incoming/);
    assert.is((await listJobs(join(dir, 'spool'), 'incoming', 'uk')).length, 3);
    assert.is((await listJobs(join(dir, 'spool'), 'failed', 'uk')).length, 1);
  } finally {
    await scenario.server.close();
    await cleanup();
  }
});

test('the daemon picks up a batch dropped while it runs, and stops cleanly on SIGTERM', async () => {
  const { dir, cleanup } = await tempDir();
  let daemon: ReturnType<typeof startDaemon> | undefined;
  const scenario = await startScenario({ maxAttempts: 2, kinds: { good: 5, missing: 0, flaky: 0, slow: 0, truncated: 0, html: 0, rotated: 0, cmyk: 0 } });
  try {
    // a long rescan interval: only the watcher can notice the batch in time
    const config = await writeTestConfig(dir, { intake: { settleMs: 200, rescanMs: 600_000 } });
    const spool = join(dir, 'spool');
    daemon = startDaemon(['--config', config, '--country', 'uk']);
    const until = async (check: () => Promise<boolean>, ms: number): Promise<boolean> => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (await check()) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    };
    assert.ok(await until(async () => (await readdir(join(spool, 'incoming')).catch(() => [] as string[])).includes('uk'), 10_000), 'layout made');
    await new Promise((r) => setTimeout(r, 500));
    await mkdir(join(spool, 'incoming', 'uk'), { recursive: true });
    await writeFile(join(spool, 'incoming', 'uk', 'late.urls'), scenario.expectations.map((e) => e.url).join('\n'));
    const done = await until(async () => (await listJobs(spool, 'thumbed', 'uk')).length === 5, 15_000);
    assert.ok(done, `the watcher saw the batch\n${daemon.output()}`);
    const running = daemon;
    daemon = undefined;
    running.kill('SIGTERM');
    const code = await new Promise((resolve) => running.once('exit', resolve));
    assert.is(code, 0);
    assert.equal(await readdir(join(spool, '.locks')), []);
  } finally {
    daemon?.kill('SIGKILL'); // a failed check must not leave a daemon holding the runner's pipes
    await scenario.server.close();
    await cleanup();
  }
});

test('SIGTERM in the middle of a busy run: work in hand finishes, the rest stays queued, nothing held', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 2, kinds: { good: 0, slow: 60, missing: 0, flaky: 0, truncated: 0, html: 0, rotated: 0, cmyk: 0 } });
  try {
    const config = await writeTestConfig(dir, { download: { concurrency: 4, perHost: 4 } });
    const spool = join(dir, 'spool');
    assert.is((await runCli(['enqueue', '--config', config, '--country', 'uk', ...scenario.expectations.map((e) => e.url)])).code, 0);
    const daemon = startDaemon(['--config', config]);
    const deadline = Date.now() + 20_000;
    while ((await listJobs(spool, 'thumbed', 'uk')).length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const stoppedAt = Date.now();
    daemon.kill('SIGTERM');
    const code = await new Promise((resolve) => daemon.once('exit', resolve));
    assert.is(code, 0, daemon.output());
    assert.ok(Date.now() - stoppedAt < 5_000, 'stopped promptly');
    const thumbed = (await listJobs(spool, 'thumbed', 'uk')).length;
    const waiting = (await listJobs(spool, 'incoming', 'uk')).length + (await listJobs(spool, 'downloaded', 'uk')).length;
    assert.ok(thumbed < 60 && thumbed + waiting === 60, `${thumbed} thumbed + ${waiting} waiting`);
    assert.equal(await readdir(join(spool, '.locks')), [], 'no claim left behind');
  } finally {
    await scenario.server.close();
    await cleanup();
  }
});

test.run();

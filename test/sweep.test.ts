import { spawn, execFileSync } from 'node:child_process';
import { link, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl } from '../engine/core/hash.js';
import type { Manifest } from '../engine/tree/tree.js';
import { manifestPath } from '../engine/tree/tree.js';
import { makeSample } from '../scripts/sample-images.js';
import { CLI, runCli, writeTestConfig } from './support/cli.js';
import { rsyncDaemon, snapshot, type RsyncDaemon } from './support/rsyncd.js';
import { programMissing, testsNeeding } from './support/needs.js';
import { freePort } from './support/ports.js';
import { signalMatching } from './support/processes.js';
import { listJobs, startScenario, type Scenario } from './support/scenario.js';
import { tempDir } from './support/temp.js';

interface Context {
  dir: string;
  cleanup: () => Promise<void>;
  scenario: Scenario;
  daemons: RsyncDaemon[];
  local: string;
  config: string;
  spool: string;
  tree: string;
  photo: Buffer;
  added: number;
}

// every test here sweeps to rsync daemons, which the suite's `before` starts
const test = testsNeeding(suite<Context>('sweep'), programMissing('rsync'));

/**
 * The four targets (and `extra` ones); `slowN1` throttles n1 alone (KiB/s) so that a test can catch
 * it at work.
 */
async function configure(context: Context, slowN1 = 0, extra: Array<{ name: string; dest: string }> = []): Promise<void> {
  context.config = await writeTestConfig(context.dir, {
    countries: ['uk'],
    sweep: {
      targets: [
        ...context.daemons.map((d) => ({ name: d.name, dest: d.url, ...(d.name === 'n1' && slowN1 > 0 ? { bwlimitKiB: slowN1 } : {}) })),
        { name: 'local', dest: context.local },
        ...extra,
      ],
      timeoutSeconds: 10,
      connectTimeoutSeconds: 2,
    },
  });
}

/** New listing photos for the engine to make: URLs served by the scenario's server. */
async function addImages(context: Context, count: number): Promise<string[]> {
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = `/more/${context.added++}.jpg`;
    context.scenario.server.routes.set(path, { kind: 'image', bytes: context.photo });
    urls.push(context.scenario.server.url(path));
  }
  const enqueue = await runCli(['enqueue', '--config', context.config, '--country', 'uk', '--file', '-'], { input: urls.join('\n') });
  assert.is(enqueue.code, 0, enqueue.stderr);
  const run = await runCli(['run', '--once', '--config', context.config]);
  assert.is(run.code, 0, run.stderr);
  return urls;
}

async function assertLevel(context: Context, targets: Array<RsyncDaemon | 'local'>): Promise<void> {
  const tree = await snapshot(join(context.tree, 'uk'));
  for (const target of targets) {
    const dir = target === 'local' ? join(context.local, 'uk') : join(target.data, 'uk');
    const copy = await snapshot(dir);
    const name = target === 'local' ? 'local' : target.name;
    const missing = [...tree.keys()].filter((p) => copy.get(p) !== tree.get(p));
    const extra = [...copy.keys()].filter((p) => !tree.has(p));
    assert.equal([missing.slice(0, 3), extra.slice(0, 3)], [[], []], `${name}: ${missing.length} missing or different, ${extra.length} extra`);
  }
}

const sweepCli = (context: Context, ...args: string[]) => runCli(['sweep', '--config', context.config, ...args]);

test.before(async (context) => {
  const { dir, cleanup } = await tempDir();
  context.dir = dir;
  context.cleanup = cleanup;
  context.spool = join(dir, 'spool');
  context.tree = join(dir, 'tree');
  context.local = join(dir, 'local-target');
  context.added = 0;
  context.photo = await makeSample({ width: 640, height: 480, seed: 99 });
  await mkdir(context.local, { recursive: true });
  context.daemons = [await rsyncDaemon('n1', dir), await rsyncDaemon('n2', dir), await rsyncDaemon('n3', dir)];
  context.scenario = await startScenario({ maxAttempts: 2, kinds: { good: 500, missing: 0, flaky: 0, slow: 0, truncated: 0, html: 0, rotated: 0, cmyk: 0 } });
  await configure(context);
  const enqueue = await runCli(['enqueue', '--config', context.config, '--country', 'uk', '--file', '-'], { input: context.scenario.expectations.map((e) => e.url).join('\n') });
  assert.is(enqueue.code, 0, enqueue.stderr);
  const run = await runCli(['run', '--once', '--config', context.config]);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /run: 500 thumbed/);
});

test.after(async (context) => {
  for (const daemon of context.daemons) await daemon.stop();
  await context.scenario.server.close();
  await context.cleanup();
});

test('500 images, then sweep --sync: all four copies equal the tree, silently, and the jobs leave thumbed/', async (context) => {
  assert.is((await listJobs(context.spool, 'thumbed', 'uk')).length, 500);
  const result = await sweepCli(context, '--sync');
  assert.is(result.code, 0, result.stderr);
  assert.is(result.stdout + result.stderr, '', 'silent on success');
  await assertLevel(context, [...context.daemons, 'local']);
  assert.is((await listJobs(context.spool, 'thumbed', 'uk')).length, 0, 'every target has them: the jobs leave the spool');
  for (const daemon of context.daemons) assert.is((await daemon.received()).length, 2000, `${daemon.name} received 4 files per image once`);
});

test('an image only refreshed, long after it was made, is not sent again', async (context) => {
  const image = context.scenario.expectations[7]!;
  const manifest = JSON.parse(await readFile(manifestPath(context.tree, 'uk', image.hash), 'utf8')) as Manifest;
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  for (const path of [...manifest.sizes.map((s) => join(context.tree, s.path)), manifestPath(context.tree, 'uk', image.hash)]) await utimes(path, twoHoursAgo, twoHoursAgo);
  // a job for it dropped by hand: the engine finds the image in the tree and only refreshes it
  await writeFile(join(context.spool, 'incoming', 'uk', 'again.job'), JSON.stringify({ url: image.url }));
  const run = await runCli(['run', '--once', '--config', context.config]);
  assert.match(run.stdout, /run: 0 thumbed, 1 already in tree/);
  assert.equal(await listJobs(context.spool, 'thumbed', 'uk'), [`${image.hash}.job`]);
  const before = (await context.daemons[0]!.received()).length;
  const result = await sweepCli(context, '--sync', '--verbose');
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout, /0 handed out/);
  assert.is((await context.daemons[0]!.received()).length, before, 'nothing sent');
  assert.equal(await listJobs(context.spool, 'thumbed', 'uk'), [], 'the job left the spool');
});

test('a target that is down does not block the others and catches up later; nothing is sent twice', async (context) => {
  const [n1, n2, n3] = context.daemons as [RsyncDaemon, RsyncDaemon, RsyncDaemon];
  await n2.stop();
  await addImages(context, 20);
  const behind = await sweepCli(context, '--sync');
  assert.is(behind.code, 1, 'the exit code says a target is behind');
  assert.match(behind.stderr, /n2 is behind: 20 image\(s\) waiting/);
  await assertLevel(context, [n1, n3, 'local']);
  assert.is((await listJobs(context.spool, 'thumbed', 'uk')).length, 20, 'the jobs wait for n2');
  await n2.start();
  const again = await sweepCli(context, '--sync', '--verbose');
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /n2 level \(20 sent/);
  assert.match(again.stdout, /n1 level \(0 sent/);
  await assertLevel(context, [n1, n2, n3, 'local']);
  for (const daemon of [n1, n3]) {
    const received = await daemon.received();
    assert.is(new Set(received).size, received.length, `${daemon.name} received no file twice`);
  }
  assert.is((await listJobs(context.spool, 'thumbed', 'uk')).length, 0);
});

test('an rsync killed in the middle of a transfer: the next run converges and leaves no temporary files', async (context) => {
  await addImages(context, 150);
  // n1 slow enough to be caught in the middle: 150 images at 20 KiB/s take minutes
  await configure(context, 20);
  const sweep = spawn(process.execPath, [CLI, 'sweep', '--sync', '--config', context.config], { stdio: 'ignore' });
  const port = new URL(context.daemons[0]!.url).port;
  const deadline = Date.now() + 10_000;
  let killed = false;
  const exited = new Promise((resolve) => sweep.once('exit', resolve));
  try {
    await new Promise((r) => setTimeout(r, 1500));
    while (!killed && Date.now() < deadline) {
      killed = signalMatching(new RegExp(`rsync .*127\\.0\\.0\\.1:${port}/tree`)) > 0;
      if (!killed) await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    if (!killed) sweep.kill('SIGKILL'); // no sweep left holding the lock for the next tests
  }
  assert.ok(killed, 'caught an rsync at work');
  const code = await exited;
  assert.is(code, 1, 'n1 is behind after its rsync was killed');
  await configure(context);
  const again = await sweepCli(context, '--sync');
  assert.is(again.code, 0, again.stderr);
  await assertLevel(context, [...context.daemons, 'local']);
  // the countries' trees: the local one also holds .index/ (image classes), which is never sent
  const leftovers = (await snapshot(join(context.daemons[0]!.data, 'uk'))).size - (await snapshot(join(context.tree, 'uk'))).size;
  assert.is(leftovers, 0, 'no temporary files on n1');
  const hidden = execFileSync('find', [context.daemons[0]!.data, '-name', '.*']).toString().trim();
  assert.is(hidden, '', 'no hidden temporaries or .~tmp~ directories');
});

test('purge: old images disappear everywhere, newer ones stay, a target down during the purge loses them later', async (context) => {
  const [n1, n2, n3] = context.daemons as [RsyncDaemon, RsyncDaemon, RsyncDaemon];
  const old = context.scenario.expectations.slice(0, 30);
  const longAgo = new Date(Date.now() - 60 * 86_400_000);
  // time passes for 30 images: their files were last refreshed 60 days ago, and the index says so
  for (const e of old) {
    const manifest = JSON.parse(await readFile(manifestPath(context.tree, 'uk', e.hash), 'utf8')) as Manifest;
    for (const path of [...manifest.sizes.map((s) => join(context.tree, s.path)), manifestPath(context.tree, 'uk', e.hash)]) await utimes(path, longAgo, longAgo);
  }
  // ...and the index says so: their markers move to that day (a fresh image's marker is put there too,
  // as a marker left behind would be: purge must look at its mtime and keep it)
  const oldDay = join(context.spool, '.expiry', '2000-01-01', 'uk');
  await mkdir(oldDay, { recursive: true });
  for (const e of [...old, context.scenario.expectations[40]!]) await writeFile(join(oldDay, e.hash), '');
  for (const day of await readdir(join(context.spool, '.expiry'))) {
    if (day !== '2000-01-01') for (const e of old) await rm(join(context.spool, '.expiry', day, 'uk', e.hash), { force: true });
  }
  await n3.stop();
  const result = await sweepCli(context, '--purge', '--verbose');
  assert.is(result.code, 1, 'n3 is behind');
  assert.match(result.stderr, /purge read 1 day\(s\), checked 31, purged 30/);
  for (const e of old) assert.is(await readFile(manifestPath(context.tree, 'uk', e.hash)).catch(() => 'gone'), 'gone');
  assert.ok(await readFile(manifestPath(context.tree, 'uk', context.scenario.expectations[40]!.hash)), 'a fresh image stays');
  await assertLevel(context, [n1, n2, 'local']);
  const onN3 = await snapshot(join(n3.data, 'uk'));
  assert.ok(onN3.has(`${old[0]!.hash.slice(0, 2)}/${old[0]!.hash.slice(2, 4)}/${old[0]!.hash}.json`), 'n3 still has them while down');
  await n3.start();
  const later = await sweepCli(context, '--sync');
  assert.is(later.code, 0, later.stderr);
  await assertLevel(context, [n1, n2, n3, 'local']);
  assert.equal(await readdir(join(context.spool, '.expiry')).then((d) => d.filter((x) => x === '2000-01-01')), [], 'the expired day is done');
});

test('fs-check finds a file deleted on n3 and a corrupted manifest here; --repair fixes both', async (context) => {
  const n3 = context.daemons[2]!;
  const image = context.scenario.expectations[100]!;
  const victim = context.scenario.expectations[200]!;
  const stem = `uk/${victim.hash.slice(0, 2)}/${victim.hash.slice(2, 4)}/${victim.hash}`;
  await rm(join(n3.data, `${stem}.thumb.webp`));
  const manifest = manifestPath(context.tree, 'uk', image.hash);
  const good = await readFile(manifest);
  await writeFile(manifest, '{"url": "truncated');
  const check = await sweepCli(context, '--fs-check');
  assert.is(check.code, 4, check.stdout + check.stderr);
  assert.match(check.stderr, /fs-check: local\/uk: 0 missing, 0 extra, 0 differs, 1 corrupt/);
  assert.match(check.stderr, /fs-check: n3\/uk: 1 missing, 0 extra, 1 differs, 0 corrupt/);
  const repair = await sweepCli(context, '--fs-check', '--repair');
  assert.is(repair.code, 0, repair.stderr);
  assert.ok((await readFile(manifest)).equals(good), 'the manifest came back from a target');
  const clean = await sweepCli(context, '--fs-check', '--verbose');
  assert.is(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /fs-check: n3\/uk: no differences/);
  await assertLevel(context, [...context.daemons, 'local']);
});

test('two sweeps at once: one runs, the other exits at once with the lock message', async (context) => {
  await addImages(context, 10);
  await configure(context, 40);
  const first = spawn(process.execPath, [CLI, 'sweep', '--sync', '--config', context.config], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!(await readdir(context.spool)).includes('.sweep.lock') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const started = Date.now();
  const second = await sweepCli(context, '--sync');
  assert.is(second.code, 3);
  assert.match(second.stderr, /another sweep is running/);
  assert.ok(Date.now() - started < 5_000, 'at once');
  assert.is(await new Promise((resolve) => first.once('exit', resolve)), 0);
  await configure(context);
  await assertLevel(context, [...context.daemons, 'local']);
});

test('#6 (issue 12) a poison pill in thumbed/, even one handed out already, is set aside with its reason; the sweep goes on', async (context) => {
  const thumbed = join(context.spool, 'thumbed', 'uk');
  await writeFile(join(thumbed, 'evil.job'), '{}\n');
  // as the sweeper before this fix left it: already linked into a target's backlog
  await mkdir(join(context.spool, '.sweep', 'n1', 'uk'), { recursive: true });
  await link(join(thumbed, 'evil.job'), join(context.spool, '.sweep', 'n1', 'uk', 'evil.job'));
  await addImages(context, 5);
  await writeFile(join(thumbed, 'evil2.job'), '{}\n');
  const result = await sweepCli(context, '--sync');
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stderr, /set aside thumbed\/uk\/evil2\.job: not a job of the tree: its name is not <32 hex digits>\.job/);
  await assertLevel(context, [...context.daemons, 'local']);
  assert.ok(await stat(join(context.spool, 'failed', 'uk', 'evil2.job.refused')));
  assert.match(await readFile(join(context.spool, 'failed', 'uk', 'evil2.job.error'), 'utf8'), /its name is not/);
  assert.equal((await readdir(join(context.spool, '.sweep', 'n1', 'uk'))).filter((n) => n.startsWith('evil')), [], 'no poison left in a backlog');
  await rm(join(thumbed, 'evil.job'), { force: true });
});

test('#8 (issue 12) a target new to the sweeper receives the whole tree once, reported as seeding until it is level', async (context) => {
  const n4 = join(context.dir, 'n4');
  const closed = await freePort();
  await configure(context, 0, [{ name: 'n4', dest: n4 }, { name: 'n5', dest: `rsync://127.0.0.1:${closed}/tree` }]);
  const status = async (): Promise<Record<string, { seeding: boolean; lagSeconds: number | null }>> => {
    const run = await runCli(['status', '--json', '--config', context.config]);
    assert.is(run.code, 0, run.stderr);
    return Object.fromEntries((JSON.parse(run.stdout) as { targets: Array<{ target: string; seeding: boolean; lagSeconds: number | null }> }).targets.map((t) => [t.target, t]));
  };
  assert.is((await status()).n4!.seeding, true, 'never swept: seeding');
  // a purge alone does not seed, and does not call a target that was never seeded level
  const purgeOnly = await sweepCli(context, '--purge');
  assert.is(purgeOnly.code, 1, purgeOnly.stderr);
  assert.is((await status()).n4!.seeding, true, 'still seeding after a purge');
  await addImages(context, 3);
  const result = await sweepCli(context, '--sync');
  assert.is(result.code, 1, 'n5 is down: behind');
  assert.match(result.stderr, /n5 is behind: .*seeding n5 failed/);
  const copy = await snapshot(join(n4, 'uk'));
  const tree = await snapshot(join(context.tree, 'uk'));
  assert.ok(tree.size > 2000, `${tree.size} files in the tree`);
  assert.equal([...tree.keys()].filter((p) => copy.get(p) !== tree.get(p)), [], 'n4 has everything handed out before it existed');
  const after = await status();
  assert.is(after.n4!.seeding, false);
  assert.is(after.n4!.lagSeconds !== null, true, 'n4 is level');
  assert.is(after.n5!.seeding, true, 'n5 could not be seeded: still seeding, not level');
  assert.is(after.n5!.lagSeconds, null);
  assert.match((await runCli(['status', '--config', context.config])).stdout, /n5 +seeding \(receives the whole tree once\)/);
  await configure(context);
});

test('sweep needs something to do and targets to do it with', async (context) => {
  const none = await sweepCli(context);
  assert.is(none.code, 2);
  assert.match(none.stderr, /--sync, --purge, --fs-check or --all/);
  assert.is(hashForUrl(context.scenario.expectations[0]!.url), context.scenario.expectations[0]!.hash);
});

test.run();

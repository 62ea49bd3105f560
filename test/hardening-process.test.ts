/**
 * Issue 12, the process: libuv's pool really has the threads bin/imagesys asks for, `run --once` stops
 * gracefully on a signal, and a spool directory it cannot read holds up no other country.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer } from '../scripts/source-server.js';
import { BIN, kill, runCli, waitUntil, writeTestConfig, type Daemon } from './support/cli.js';
import { listJobs } from './support/scenario.js';
import { tempDir } from './support/temp.js';

/** Threads of a live process (Linux). */
async function threadsOf(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/task`)).length;
}

function startWith(args: string[], env: NodeJS.ProcessEnv, prefix: string[] = []): Daemon {
  const [command, ...rest] = prefix.length > 0 ? [...prefix, BIN] : [BIN];
  const child = spawn(command, [...rest, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return Object.assign(child, { output: () => output });
}

test('#9 libuv runs the 16 pool threads bin/imagesys sets (12 more than node\'s 4), and none is asked for in vain', async () => {
  const { dir, cleanup } = await tempDir();
  const daemons: Daemon[] = [];
  try {
    const config = await writeTestConfig(dir, { countries: ['uk'], pool: { threads: 1 } });
    const counts: number[] = [];
    for (const env of [{ ...process.env, UV_THREADPOOL_SIZE: undefined }, { ...process.env, UV_THREADPOOL_SIZE: '4' }]) {
      const daemon = startWith(['run', '--config', config], env);
      daemons.push(daemon);
      await waitUntil('the engine started', async () => daemon.output().includes('engine started') || (await readdir(join(dir, 'spool', '.state')).catch(() => [])).length > 0, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      counts.push(await threadsOf(daemon.pid!));
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    }
    assert.ok(counts[0]! - counts[1]! >= 12, `threads with the default ${counts[0]}, with 4 pool threads ${counts[1]}`);
    assert.not.match(daemons[0]!.output(), /UV_THREADPOOL_SIZE is not set/);
  } finally {
    for (const daemon of daemons) await kill(daemon);
    await cleanup();
  }
});

test('#10 run --once stopped by SIGTERM or SIGINT finishes the work in hand, says so in its summary, exits 0, loses nothing', async () => {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 200, height: 150, seed: 5 });
  const paths = Array.from({ length: 30 }, (_, i) => `/slow/${i}.jpg`);
  const server = await startSourceServer(new Map(paths.map((p) => [p, { kind: 'slow', delayMs: 400, bytes: photo }])));
  try {
    const config = await writeTestConfig(dir, { countries: ['uk'], download: { concurrency: 2, perHost: 2 } });
    const spool = join(dir, 'spool');
    const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', ...paths.map((p) => server.url(p))]);
    assert.is(enqueue.code, 0, enqueue.stderr);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const before = (await listJobs(spool, 'thumbed', 'uk')).length;
      const run = startWith(['run', '--once', '--config', config], process.env);
      const exited = new Promise<number | null>((resolve) => run.once('exit', resolve));
      await waitUntil('a first image of this run is thumbed', async () => (await listJobs(spool, 'thumbed', 'uk')).length > before, 30_000);
      const signalled = Date.now();
      run.kill(signal);
      const code = await exited;
      assert.is(code, 0, run.output().slice(-2000));
      assert.ok(Date.now() - signalled < 15_000, 'it stopped soon');
      assert.match(run.output(), new RegExp(`^run: \\d+ thumbed.*; stopped by ${signal}: the rest stays queued$`, 'm'));
      const thumbed = (await listJobs(spool, 'thumbed', 'uk')).length;
      const waiting = (await listJobs(spool, 'incoming', 'uk')).length + (await listJobs(spool, 'downloaded', 'uk')).length;
      assert.is(thumbed + waiting, 30, 'every job is somewhere');
      assert.ok(waiting > 0, 'it stopped before the end');
      assert.equal((await readdir(join(spool, '.locks'))).filter((n) => n.endsWith('.lock')), [], 'no claim left behind');
    }
    const rest = await runCli(['run', '--once', '--config', config]);
    assert.is(rest.code, 0, rest.stderr);
    assert.is((await listJobs(spool, 'thumbed', 'uk')).length, 30, 'the rest is done by the next run');
  } finally {
    await server.close();
    await cleanup();
  }
});

test('#10 a spool directory that cannot be read (EACCES) holds up no other country: the others are done, the summary names it, exit 1', async () => {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 200, height: 150, seed: 6 });
  const server = await startSourceServer(new Map([['/a.jpg', { kind: 'image', bytes: photo }]]));
  try {
    const config = await writeTestConfig(dir, { countries: ['de', 'uk'] });
    const spool = join(dir, 'spool');
    const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', server.url('/a.jpg')]);
    assert.is(enqueue.code, 0, enqueue.stderr);
    await mkdir(join(spool, 'incoming', 'de'), { recursive: true });
    await writeFile(join(spool, 'incoming', 'de', 'feed.urls'), `${server.url('/a.jpg')}\n`);
    // nobody owns the spool but not incoming/de
    const asNobody = await unprivileged(dir, [spool, join(dir, 'tree'), join(dir, 'log')]);
    if (asNobody.length > 0) await chown(join(spool, 'incoming', 'de'), 0, 0);
    await chmod(join(spool, 'incoming', 'de'), 0o000);
    const run = startWith(['run', '--once', '--config', config], process.env, asNobody);
    const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));
    await chmod(join(spool, 'incoming', 'de'), 0o755);
    assert.is(code, 1, run.output().slice(-3000));
    assert.match(run.output(), /^run: 1 thumbed.*; could not read incoming\/de \(EACCES\)$/m);
    assert.match(run.output(), /spool directory cannot be read; the others go on/);
    assert.is((await listJobs(spool, 'thumbed', 'uk')).length, 1);
  } finally {
    await server.close();
    await cleanup();
  }
});

test('#11 a tree that takes no write pauses downloads, as low disk does: no attempt is spent, the jobs go on once it is writable', async () => {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 200, height: 150, seed: 7 });
  const paths = ['/a.jpg', '/b.jpg', '/c.jpg'];
  const server = await startSourceServer(new Map(paths.map((p) => [p, { kind: 'image', bytes: photo }])));
  let daemon: Daemon | undefined;
  try {
    const config = await writeTestConfig(dir, { countries: ['uk'], disk: { minFreeMiB: 0, checkMs: 300 }, retry: { baseMs: 50, maxMs: 100, maxAttempts: 2, factor: 2, jitter: 0 } });
    const spool = join(dir, 'spool');
    const tree = join(dir, 'tree');
    const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', ...paths.map((p) => server.url(p))]);
    assert.is(enqueue.code, 0, enqueue.stderr);
    await mkdir(tree, { recursive: true });
    // nobody owns the spool but not the tree
    const asNobody = await unprivileged(dir, [spool]);
    await chmod(tree, 0o555);
    daemon = startWith(['run', '--config', config], process.env, asNobody);
    const status = async (): Promise<{ downloadsPaused: string[] }> => JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as { downloadsPaused: string[] };
    await waitUntil('status reports the pause', async () => (await status()).downloadsPaused.some((r) => /tree .* takes no write \(EACCES\)/.test(r)), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(await listJobs(spool, 'failed', 'uk'), [], 'nothing failed');
    for (const name of await listJobs(spool, 'incoming', 'uk')) {
      const job = JSON.parse(await readFile(join(spool, 'incoming', 'uk', name), 'utf8')) as { attempts: number };
      assert.is(job.attempts, 0, 'no attempt spent');
    }
    if (asNobody.length > 0) await chownTree(tree, NOBODY, NOBODY);
    await chmod(tree, 0o755);
    await waitUntil('every job is thumbed once the tree takes writes', async () => (await listJobs(spool, 'thumbed', 'uk')).length === 3, 30_000);
    assert.ok(server.totalHits() <= 6, `${server.totalHits()} downloads for 3 images (one in flight each may be lost to the pause)`);
  } finally {
    if (daemon) await kill(daemon);
    await server.close();
    await cleanup();
  }
});

const NOBODY = 65_534;

/**
 * Root reads and writes anywhere, so a permission fault needs another user: as root, `owned` (made if
 * missing) is given to nobody and the returned prefix runs a command as nobody; otherwise the current
 * user meets the fault itself and the prefix is empty.
 */
async function unprivileged(dir: string, owned: string[]): Promise<string[]> {
  if (process.getuid?.() !== 0) return [];
  await chmod(dir, 0o755);
  for (const path of owned) {
    await mkdir(path, { recursive: true });
    await chownTree(path, NOBODY, NOBODY);
  }
  return ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await chown(child, uid, gid);
  }
}

test.run();

/**
 * Issue 12, intake: what anyone who can write the spool may drop into it (FIFOs, links, huge lines and
 * files, long names, odd job files) is set aside with its reason and never wedges, crashes or leaks
 * through the daemon; the good work beside it is done. Real FIFOs, real links, real daemons.
 */
import { execFile } from 'node:child_process';
import { copyFile, lstat, mkdir, readdir, readFile, rename, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl } from '../engine/core/hash.js';
import { LIMITS } from '../spool/limits.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type Route, type SourceServer } from '../scripts/source-server.js';
import { kill, runCli, startDaemon, waitUntil, writeTestConfig } from './support/cli.js';
import { listJobs } from './support/scenario.js';
import { tempDir } from './support/temp.js';

const exec = promisify(execFile);

interface Setup {
  dir: string;
  spool: string;
  incoming: string;
  failed: string;
  config: string;
  server: SourceServer;
  cleanup: () => Promise<void>;
}

async function setup(goodPaths: string[], config: Record<string, unknown> = {}): Promise<Setup> {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 320, height: 240, seed: 3 });
  const server = await startSourceServer(new Map(goodPaths.map((p) => [p, { kind: 'image', bytes: photo }])));
  const spool = join(dir, 'spool');
  const incoming = join(spool, 'incoming', 'uk');
  const failed = join(spool, 'failed', 'uk');
  await mkdir(incoming, { recursive: true });
  const path = await writeTestConfig(dir, { countries: ['uk'], ...config });
  return { dir, spool, incoming, failed, config: path, server, cleanup: async () => { await server.close(); await cleanup(); } };
}

/** A batch as ETL writes it (dotfile, then rename). */
async function dropBatch(s: Setup, name: string, lines: string[]): Promise<void> {
  await writeFile(join(s.incoming, `.${name}.tmp`), `${lines.join('\n')}\n`);
  await rename(join(s.incoming, `.${name}.tmp`), join(s.incoming, name));
}

async function runOnce(s: Setup): Promise<string> {
  const run = await runCli(['run', '--once', '--config', s.config], { timeoutMs: 120_000 });
  assert.is(run.code, 0, run.stderr);
  return run.stdout;
}

async function reasonFor(s: Setup, name: string): Promise<string> {
  return readFile(join(s.failed, `${name}.error`), 'utf8');
}

interface FailedJob { url: string; errorCode: string; error: string; datasource?: string }

async function failedJob(s: Setup, hash: string): Promise<FailedJob> {
  return JSON.parse(await readFile(join(s.failed, `${hash}.job`), 'utf8')) as FailedJob;
}

test('#1 FIFOs as batches under a running daemon: set aside, the good batch beside them done, SIGTERM still stops it', async () => {
  const s = await setup(['/a.jpg', '/b.jpg']);
  const daemon = startDaemon(['--config', s.config]);
  try {
    await waitUntil('the daemon watches', async () => daemon.output().length > 0 || (await readdir(join(s.spool, '.state')).catch(() => [])).length > 0, 15_000);
    for (const n of [1, 2, 3, 4]) await exec('mkfifo', [join(s.incoming, `f${n}.urls`)]);
    await dropBatch(s, 'good.urls', [s.server.url('/a.jpg'), s.server.url('/b.jpg')]);
    await waitUntil('the good batch is thumbed', async () => (await listJobs(s.spool, 'thumbed', 'uk')).length === 2, 30_000);
    await waitUntil('every FIFO is set aside', async () => (await readdir(s.failed)).filter((n) => n.endsWith('.refused')).length === 4, 15_000);
    for (const n of [1, 2, 3, 4]) {
      assert.ok((await lstat(join(s.failed, `f${n}.urls.refused`))).isFIFO(), 'the FIFO itself, moved');
      assert.match(await reasonFor(s, `f${n}.urls`), /^batch refused: a FIFO: only regular files are read \(was incoming\/uk\/f\d\.urls/);
    }
    assert.equal((await readdir(s.incoming)).filter((n) => n.endsWith('.urls')), []);
    const stopped = Date.now();
    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => daemon.once('exit', resolve));
    assert.is(code, 0, daemon.output().slice(-2000));
    assert.ok(Date.now() - stopped < 15_000, 'SIGTERM honoured');
  } finally {
    await kill(daemon);
    await s.cleanup();
  }
});

test('#2 a 700 MB line and a 600 MB job file: refused by their size without being held, the daemon lives, the good URL is done', async () => {
  const s = await setup(['/a.jpg']);
  try {
    const batch = join(s.incoming, 'h.urls');
    await writeFile(batch, `${s.server.url('/a.jpg')}\n`);
    await truncate(batch, 700 * 2 ** 20); // zeros to 700 MB, no newline: one line
    const hugeJob = join(s.incoming, 'big.job');
    await writeFile(hugeJob, '{"url": "');
    await truncate(hugeJob, 600 * 2 ** 20);
    const stdout = await runOnce(s);
    assert.match(stdout, /1 thumbed/);
    assert.equal(await listJobs(s.spool, 'thumbed', 'uk'), [`${hashForUrl(s.server.url('/a.jpg'))}.job`]);
    const failed = await listJobs(s.spool, 'failed', 'uk');
    assert.is(failed.length, 1, failed.join(' '));
    const tooLong = await failedJob(s, failed[0]!.slice(0, -4));
    assert.is(tooLong.errorCode, 'invalid_url');
    assert.match(tooLong.error, new RegExp(`a line of ${700 * 2 ** 20 - s.server.url('/a.jpg').length - 1} bytes is longer than the ${LIMITS.batchLineBytes} allowed`));
    assert.ok(tooLong.url.length <= 203, 'only the start of the line is kept');
    assert.match(await reasonFor(s, 'big.job'), /job file refused: 629145600 bytes, more than the 65536 allowed/);
    assert.ok((await readdir(s.incoming)).every((n) => !n.endsWith('.urls') && !n.endsWith('.job')), 'nothing left to read again');
  } finally {
    await s.cleanup();
  }
});

test('#4 links are not followed: a linked batch or job is set aside, no line of its target becomes a job', async () => {
  const s = await setup(['/a.jpg']);
  try {
    const secret = join(s.dir, 'secret.txt');
    await writeFile(secret, 'http://127.0.0.1/secret-line-1\nhttp://127.0.0.1/secret-line-2\n');
    await symlink(secret, join(s.incoming, 'p.urls'));
    await writeFile(join(s.dir, 'job.json'), JSON.stringify({ url: 'http://127.0.0.1/secret-job' }));
    await symlink(join(s.dir, 'job.json'), join(s.incoming, 'linked.job'));
    await dropBatch(s, 'good.urls', [s.server.url('/a.jpg')]);
    await runOnce(s);
    assert.is((await listJobs(s.spool, 'thumbed', 'uk')).length, 1);
    for (const state of ['incoming', 'downloaded', 'thumbed', 'failed']) {
      for (const name of await listJobs(s.spool, state, 'uk')) {
        assert.not.match(await readFile(join(s.spool, state, 'uk', name), 'utf8'), /secret/, `${state}/${name}`);
      }
    }
    assert.ok((await lstat(join(s.failed, 'p.urls.refused'))).isSymbolicLink());
    assert.match(await reasonFor(s, 'p.urls'), /batch refused: a symbolic link/);
    assert.ok((await lstat(join(s.failed, 'linked.job.refused'))).isSymbolicLink());
    assert.match(await reasonFor(s, 'linked.job'), /job file refused: a symbolic link/);
    assert.is(await readFile(secret, 'utf8'), 'http://127.0.0.1/secret-line-1\nhttp://127.0.0.1/secret-line-2\n', 'the target untouched');
  } finally {
    await s.cleanup();
  }
});

test('#11 file names too long for a claim are set aside once, under a short name that says what they were', async () => {
  const s = await setup(['/a.jpg']);
  try {
    const longBatch = `${'b'.repeat(240)}.urls`;
    const longJob = `${'j'.repeat(240)}.job`;
    await writeFile(join(s.incoming, longBatch), `${s.server.url('/a.jpg')}\n`);
    await writeFile(join(s.incoming, longJob), JSON.stringify({ url: s.server.url('/a.jpg') }));
    await runOnce(s);
    const refused = (await readdir(s.failed)).filter((n) => n.endsWith('.refused'));
    assert.is(refused.length, 2, refused.join(' '));
    for (const name of refused) {
      assert.match(name, /^long-name-[0-9a-f]{32}\.refused$/);
      const reason = await readFile(join(s.failed, name.replace(/\.refused$/, '.error')), 'utf8');
      assert.match(reason, /a file name of 2\d\d bytes is longer than the 200 allowed/);
    }
    assert.equal((await readdir(s.incoming)).filter((n) => !n.startsWith('.')), []);
  } finally {
    await s.cleanup();
  }
});

test('#11 odd job files: a BOM is read, an object datasource is refused, a failed job copied back under another name runs', async () => {
  const s = await setup(['/a.jpg', '/b.jpg', '/c.jpg'], { retry: { baseMs: 50, maxMs: 100, maxAttempts: 2, factor: 2, jitter: 0 } });
  try {
    await writeFile(join(s.incoming, 'bom.job'), `\ufeff${JSON.stringify({ url: s.server.url('/a.jpg') })}`);
    await writeFile(join(s.incoming, 'object.job'), JSON.stringify({ url: s.server.url('/b.jpg'), datasource: { id: 16 } }));
    // a job that spent its attempts, as `cp failed/uk/<h>.job incoming/uk/again.job` brings it back
    const url = s.server.url('/c.jpg');
    const spent = { url, hash: hashForUrl(url), country: 'uk', attempts: 2, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), errorCode: 'http_server_error', error: 'HTTP 500' };
    await mkdir(s.failed, { recursive: true });
    await writeFile(join(s.failed, `${spent.hash}.job`), JSON.stringify(spent));
    await copyFile(join(s.failed, `${spent.hash}.job`), join(s.incoming, 'again.job')); // the original stays in failed/
    await runOnce(s);
    assert.equal((await readdir(s.failed)).filter((n) => n.startsWith(spent.hash) || n.startsWith('again')), [], 'the copy took the failed job\'s place');
    const thumbed = await listJobs(s.spool, 'thumbed', 'uk');
    assert.ok(thumbed.includes(`${hashForUrl(s.server.url('/a.jpg'))}.job`), 'the job with a BOM was read');
    assert.ok(thumbed.includes(`${spent.hash}.job`), 'the copied job ran under its own hash');
    const object = JSON.parse(await readFile(join(s.failed, 'object.job'), 'utf8')) as { errorCode: string; error: string };
    assert.is(object.errorCode, 'bad_job');
    assert.match(object.error, /datasource must be an id/);
  } finally {
    await s.cleanup();
  }
});

test('#7 #11 URLs with credentials, URLs over the length limit and odd datasource ids are refused at intake, saying why, credentials never kept', async () => {
  const s = await setup(['/a.jpg']);
  try {
    const withCredentials = s.server.url('/a.jpg').replace('http://', 'http://user:s3cret@');
    const longUrl = `${s.server.url('/a.jpg')}?${'x'.repeat(1_000_000)}`;
    const overLimit = `${s.server.url('/a.jpg')}?${'y'.repeat(5_000)}`;
    await dropBatch(s, 'bad.urls', [withCredentials, longUrl, overLimit, `${s.server.url('/a.jpg')}\t${'d'.repeat(65)}`, `${s.server.url('/a.jpg')}\tbad id`]);
    await runOnce(s);
    assert.equal(await listJobs(s.spool, 'thumbed', 'uk'), []);
    const jobs = await Promise.all((await listJobs(s.spool, 'failed', 'uk')).map((n) => failedJob(s, n.slice(0, -4))));
    const reasons = jobs.map((j) => j.error).sort();
    assert.is(jobs.length, 5, reasons.join('\n'));
    assert.ok(reasons.some((r) => r === `a URL of ${overLimit.length} characters is longer than the 4096 allowed`), reasons.join('\n'));
    assert.ok(jobs.every((j) => j.errorCode === 'invalid_url'));
    assert.ok(reasons.some((r) => /carries credentials .*intake\.allowCredentials/.test(r)), reasons.join('\n'));
    assert.ok(reasons.some((r) => /a line of 10000\d\d bytes is longer than the 8192 allowed/.test(r)), reasons.join('\n'));
    assert.is(reasons.filter((r) => /datasource id .* is not 1-64 letters/.test(r)).length, 2, reasons.join('\n'));
    const everything = (await Promise.all((await readdir(s.failed)).map((n) => readFile(join(s.failed, n), 'utf8')))).join('\n');
    assert.not.match(everything, /s3cret/, 'the password is kept nowhere');
    assert.ok(jobs.every((j) => j.url.length <= 203));
    // a URL that does not parse keeps no secret either, nor does a job written by hand
    const broken = await runCli(['enqueue', '--config', s.config, '--country', 'uk', 'http://alice:s3cret@img host.example/a.jpg']);
    assert.is(broken.code, 1);
    await writeFile(join(s.incoming, 'by-hand.job'), JSON.stringify({ url: s.server.url('/a.jpg').replace('http://', 'http://bob:s3cret@') }));
    await runOnce(s);
    const everything2 = (await Promise.all((await readdir(s.failed)).map((n) => readFile(join(s.failed, n), 'utf8')))).join('\n');
    assert.not.match(everything2, /s3cret/, 'no password in failed/');
    assert.match(everything2, /img host\.example/, 'the broken URL is there, without its credentials');
    const status = await runCli(['status', '--config', s.config]);
    assert.not.match(status.stdout, /s3cret/);
    // the same invalid URL enqueued twice: invalid both times, exit 1 both times
    for (let i = 0; i < 2; i++) {
      const again = await runCli(['enqueue', '--config', s.config, '--country', 'uk', 'ftp://example.com/a.jpg']);
      assert.is(again.code, 1, `try ${i + 1}: ${again.stdout}`);
      assert.match(again.stdout, /0 already queued, 0 already in tree \(touched\), 1 invalid/);
    }
  } finally {
    await s.cleanup();
  }
});

test('#7 with intake.allowCredentials, a URL with credentials downloads with Basic auth; the manifest, the tree, status and the logs never show them', async () => {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 320, height: 240, seed: 8 });
  const server = await startSourceServer(new Map<string, Route>([['/private.jpg', { kind: 'auth', user: 'feed', password: 's3cret', bytes: photo }]]));
  try {
    const config = await writeTestConfig(dir, { countries: ['uk'], intake: { allowCredentials: true, settleMs: 300, rescanMs: 500 } });
    const url = server.url('/private.jpg').replace('http://', 'http://feed:s3cret@');
    const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', url]);
    assert.is(enqueue.code, 0, enqueue.stdout + enqueue.stderr);
    const run = await runCli(['run', '--once', '--verbose', '--config', config]);
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, /1 thumbed/);
    assert.not.match(run.stdout + run.stderr, /s3cret/, 'not in the logs');
    const manifest = JSON.parse(await readFile(join(dir, 'tree', 'uk', ...pathParts(hashForUrl(url)), `${hashForUrl(url)}.json`), 'utf8')) as { url: string };
    assert.is(manifest.url, server.url('/private.jpg'), 'the manifest names the URL without its credentials');
    const grep = await exec('grep', ['-r', '-l', 's3cret', join(dir, 'tree')]).then((r) => r.stdout, () => '');
    assert.is(grep, '', 'nothing in the tree the frontends serve holds them');
    const status = await runCli(['status', '--json', '--config', config]);
    assert.not.match(status.stdout, /s3cret/);
  } finally {
    await server.close();
    await cleanup();
  }
});

const pathParts = (hash: string): string[] => [hash.slice(0, 2), hash.slice(2, 4)];

test.run();

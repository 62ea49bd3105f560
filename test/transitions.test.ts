/**
 * The spool's state machine, each move on its own: a real spool in a temporary directory and a clock
 * the test sets. The pure rules (what a job looks like once it rests in thumbed/) first.
 */
import { lstat, readFile, stat, writeFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ImageSysError } from '../engine/core/errors.js';
import { closedSegments, segmentLines, type ArrivalLine } from '../spool/arrivals.js';
import { ClaimLost, type Claim } from '../spool/claims.js';
import { markerPath } from '../spool/expiry.js';
import { encodeJob, newJob, restsAsIs, withSuccess, type Job } from '../spool/job.js';
import { entryPath, type State } from '../spool/layout.js';
import { Spool } from '../spool/spool.js';
import { announce, refileMisnamed, release, reopen, requeue, retryLater, toDownloaded, toFailed, toThumbed, UNCHANGED_AFTER_MS } from '../spool/transitions.js';
import { tempDir } from './support/temp.js';

const START = Date.parse('2026-06-01T12:00:00.000Z');
const COUNTRY = 'uk';
const URL_A = 'http://images.example/a.jpg';

const pure = suite('transitions: pure rules');

pure('a clean job rests as it is; any retry state, a refresh or an unchanged image rewrites it', () => {
  const job = newJob({ url: URL_A, country: COUNTRY }, new Date(START));
  assert.ok(restsAsIs(job, false));
  assert.not.ok(restsAsIs(job, true));
  assert.not.ok(restsAsIs({ ...job, attempts: 1 }, false));
  assert.not.ok(restsAsIs({ ...job, errorCode: 'http_server_error' }, false));
  assert.not.ok(restsAsIs({ ...job, notBefore: new Date(START).toISOString() }, false));
  assert.not.ok(restsAsIs({ ...job, refresh: true }, false));
});

pure('withSuccess drops the retry state and says whether the image was only refreshed', () => {
  const job: Job = { ...newJob({ url: URL_A, country: COUNTRY }, new Date(START)), attempts: 2, errorCode: 'http_server_error', error: 'HTTP 503', notBefore: 'x', refresh: true };
  const done = withSuccess(job, new Date(START + 1000), false);
  assert.equal(done, { url: job.url, hash: job.hash, country: COUNTRY, attempts: 0, createdAt: job.createdAt, updatedAt: new Date(START + 1000).toISOString() });
  assert.is(withSuccess(job, new Date(START), true).unchanged, true);
  assert.not.ok('unchanged' in withSuccess({ ...job, unchanged: true }, new Date(START), false));
});

pure.run();

interface World {
  spool: Spool;
  at: number;
  cleanup: () => Promise<void>;
}

const moves = suite<World>('transitions: moves');

moves.before.each(async (world) => {
  const { dir, cleanup } = await tempDir('imagesys-transitions-');
  world.cleanup = cleanup;
  world.at = START;
  world.spool = new Spool({ root: dir, fsync: false, staleMs: 15_000, clock: () => world.at });
  await world.spool.ensureLayout([COUNTRY]);
});

moves.after.each(async (world) => {
  await world.spool.arrivals.close();
  await world.cleanup();
});

const held: Claim = { key: 'test', lost: false, verify: async () => {}, release: async () => {} };
const lost: Claim = { key: 'test', lost: true, verify: () => Promise.reject(new ClaimLost('test')), release: async () => {} };

async function put(world: World, state: State, job: Job = newJob({ url: URL_A, country: COUNTRY }, new Date(world.at))): Promise<Job> {
  await world.spool.writeJob(state, job);
  return job;
}

const exists = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);

/** Every arrival line written so far (the writer's segments closed first). */
async function arrivalLines(spool: Spool): Promise<ArrivalLine[]> {
  await spool.arrivals.close();
  const lines: ArrivalLine[] = [];
  for (const segment of await closedSegments(spool.root, COUNTRY)) for await (const line of segmentLines(spool.root, COUNTRY, segment)) lines.push(line);
  return lines;
}

moves('toDownloaded: the original beside the job, the job as updated', async (world) => {
  const job = await put(world, 'incoming');
  const downloaded: Job = { ...job, source: { bytes: 3, format: 'jpeg' } };
  await toDownloaded(world.spool, downloaded, new Uint8Array([1, 2, 3]), held);
  assert.is(await world.spool.findJob(COUNTRY, job.hash), 'downloaded');
  assert.equal(await world.spool.readJob('downloaded', COUNTRY, job.hash), downloaded);
  assert.equal([...(await readFile(world.spool.originalPath(COUNTRY, job.hash)))], [1, 2, 3]);
});

moves('toDownloaded under a lost claim: the job stays where it is', async (world) => {
  const job = await put(world, 'incoming');
  try {
    await toDownloaded(world.spool, job, new Uint8Array([1]), lost);
    assert.unreachable('a lost claim stops the move');
  } catch (error) {
    assert.instance(error, ClaimLost);
  }
  assert.is(await world.spool.findJob(COUNTRY, job.hash), 'incoming');
});

moves('requeue under a lost claim: the job stays where it is, no arrival line', async (world) => {
  const job = await put(world, 'failed');
  try {
    await requeue(world.spool, 'failed', job, lost);
    assert.unreachable('a lost claim stops the move');
  } catch (error) {
    assert.instance(error, ClaimLost);
  }
  assert.is(await world.spool.findJob(COUNTRY, job.hash), 'failed');
  assert.equal(await arrivalLines(world.spool), []);
});

moves('toThumbed from downloaded: expiry marker of the clock\'s day, original gone, a clean job only renamed', async (world) => {
  const job = await put(world, 'downloaded');
  await writeFile(world.spool.originalPath(COUNTRY, job.hash), 'original');
  const before = await readFile(world.spool.jobPath('downloaded', COUNTRY, job.hash), 'utf8');
  world.at = START + 60_000;
  await toThumbed(world.spool, 'downloaded', job, held);
  assert.is(await world.spool.findJob(COUNTRY, job.hash), 'thumbed');
  assert.is(await readFile(world.spool.jobPath('thumbed', COUNTRY, job.hash), 'utf8'), before, 'not rewritten');
  assert.not.ok(await exists(world.spool.originalPath(COUNTRY, job.hash)));
  assert.ok(await exists(markerPath(world.spool.root, '2026-06-01', COUNTRY, job.hash)));
});

moves('toThumbed of a retried job rewrites it clean; of an image refreshed long after it was made, marks it unchanged', async (world) => {
  const retried = await put(world, 'incoming', { ...newJob({ url: URL_A, country: COUNTRY }, new Date(START)), attempts: 2, errorCode: 'http_server_error', error: 'HTTP 503', notBefore: new Date(START).toISOString() });
  world.at = START + 5_000;
  await toThumbed(world.spool, 'incoming', retried, held);
  assert.equal(await world.spool.readJob('thumbed', COUNTRY, retried.hash), withSuccess(retried, new Date(START + 5_000), false));

  const old = await put(world, 'incoming', newJob({ url: 'http://images.example/b.jpg', country: COUNTRY }, new Date(START)));
  world.at = START + 86_400_000;
  await toThumbed(world.spool, 'incoming', old, held, new Date(world.at - UNCHANGED_AFTER_MS - 1));
  assert.is((await world.spool.readJob('thumbed', COUNTRY, old.hash))?.unchanged, true);
  assert.ok(await exists(markerPath(world.spool.root, '2026-06-02', COUNTRY, old.hash)), 'its marker moved to the day of the refresh');
});

moves('toFailed: code and reason recorded, the attempt counted, the original gone', async (world) => {
  const job = await put(world, 'downloaded');
  await writeFile(world.spool.originalPath(COUNTRY, job.hash), 'original');
  await toFailed(world.spool, 'downloaded', job, new ImageSysError('decode_failed', 'the image\ncould not be decoded'), held);
  const failed = await world.spool.readJob('failed', COUNTRY, job.hash);
  assert.is(failed?.errorCode, 'decode_failed');
  assert.is(failed?.error, 'the image could not be decoded', 'one line');
  assert.is(failed?.attempts, 1);
  assert.is(failed?.updatedAt, new Date(START).toISOString());
  assert.not.ok(await exists(world.spool.originalPath(COUNTRY, job.hash)));
});

moves('retryLater: the job stays, due again when told', async (world) => {
  const job = await put(world, 'incoming');
  await retryLater(world.spool, 'incoming', job, new ImageSysError('http_server_error', 'HTTP 503'), START + 30_000, held);
  const waiting = await world.spool.readJob('incoming', COUNTRY, job.hash);
  assert.is(waiting?.notBefore, new Date(START + 30_000).toISOString());
  assert.is(waiting?.attempts, 1);
  assert.is(waiting?.errorCode, 'http_server_error');
});

moves('requeue: back to incoming/ with its arrival line, its host known; reopen writes none', async (world) => {
  const failed = await put(world, 'failed');
  await requeue(world.spool, 'failed', failed, held);
  assert.is(await world.spool.findJob(COUNTRY, failed.hash), 'incoming');
  const thumbed = await put(world, 'thumbed', newJob({ url: 'http://other.example/b.jpg', country: COUNTRY }, new Date(START)));
  await reopen(world.spool, thumbed);
  assert.is(await world.spool.findJob(COUNTRY, thumbed.hash), 'incoming');
  assert.equal(await arrivalLines(world.spool), [{ name: `${failed.hash}.job`, host: 'images.example' }]);
});

moves('announce: one arrival line per job', async (world) => {
  const job = await put(world, 'incoming');
  await announce(world.spool, job);
  assert.equal(await arrivalLines(world.spool), [{ name: `${job.hash}.job`, host: 'images.example' }]);
});

moves('release: only the version delivered leaves, never one held or replaced', async (world) => {
  const job = await put(world, 'thumbed');
  const path = world.spool.jobPath('thumbed', COUNTRY, job.hash);
  const delivered = (await stat(path)).ino;
  await world.spool.writeJob('thumbed', { ...job, updatedAt: new Date(START + 1).toISOString() }); // a new version: a new inode
  assert.is(await release(world.spool, COUNTRY, job.hash, delivered), 'changed');
  assert.ok(await exists(path));

  const current = (await stat(path)).ino;
  const claim = await world.spool.claimJob(COUNTRY, job.hash);
  assert.is(await release(world.spool, COUNTRY, job.hash, current), 'busy');
  await claim?.release();
  assert.is(await release(world.spool, COUNTRY, job.hash, current), 'released');
  assert.not.ok(await exists(path));
});

moves('refileMisnamed: filed under its hash with its arrival line', async (world) => {
  const job = newJob({ url: URL_A, country: COUNTRY }, new Date(START));
  await writeFile(entryPath(world.spool.root, 'incoming', COUNTRY, 'by-hand.job'), encodeJob(job));
  assert.equal(await refileMisnamed(world.spool, 'incoming', COUNTRY, 'by-hand.job', job), { refiled: true });
  assert.is(await world.spool.findJob(COUNTRY, job.hash), 'incoming');
  assert.not.ok(await exists(entryPath(world.spool.root, 'incoming', COUNTRY, 'by-hand.job')));
  assert.equal(await arrivalLines(world.spool), [{ name: `${job.hash}.job`, host: 'images.example' }]);
});

moves('refileMisnamed: a copy of a job that exists is set aside as a duplicate; a copy of a failed one retries it', async (world) => {
  const job = await put(world, 'thumbed');
  await writeFile(entryPath(world.spool.root, 'incoming', COUNTRY, 'copy.job'), encodeJob(job));
  assert.equal(await refileMisnamed(world.spool, 'incoming', COUNTRY, 'copy.job', job), { refiled: false });
  assert.ok(await exists(entryPath(world.spool.root, 'failed', COUNTRY, 'copy.job.duplicate')));
  assert.is(await world.spool.findJob(COUNTRY, job.hash), 'thumbed');

  const other = await put(world, 'failed', newJob({ url: 'http://images.example/c.jpg', country: COUNTRY }, new Date(START)));
  await writeFile(entryPath(world.spool.root, 'incoming', COUNTRY, 'again.job'), encodeJob(other));
  assert.equal(await refileMisnamed(world.spool, 'incoming', COUNTRY, 'again.job', other), { refiled: true });
  assert.is(await world.spool.findJob(COUNTRY, other.hash), 'incoming');
  assert.not.ok(await exists(world.spool.jobPath('failed', COUNTRY, other.hash)), 'the failed copy gave way');
});

moves.run();

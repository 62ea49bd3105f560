import { createHash } from 'node:crypto';
/**
 * The processor in-process: a real spool in a temporary directory, a real HTTP source on 127.0.0.1,
 * the real sharp pool, and a clock the test sets. No child process.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig, type Config } from '../engine/config/config.js';
import { backoffDelay } from '../engine/core/backoff.js';
import type { Clock } from '../engine/core/clock.js';
import { hashForUrl } from '../engine/core/hash.js';
import { Semaphore } from '../engine/core/semaphore.js';
import { Downloader } from '../engine/download/downloader.js';
import { SourceHealth } from '../engine/health/health.js';
import { Processor } from '../engine/job/processor.js';
import { ThumbnailPool } from '../engine/thumbnails/thumbnail-pool.js';
import { manifestPath, readManifest } from '../engine/tree/tree.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type SourceServer } from '../scripts/source-server.js';
import { newJob } from '../spool/job.js';
import { Spool } from '../spool/spool.js';
import { ClaimRegistry } from '../spool/claims.js';
import { FsTime } from '../spool/fs-time.js';
import { locksDir, spoolTmpDir } from '../spool/layout.js';
import { utimes } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRed, MARKER, regionMean } from './support/images.js';
import { tempDir } from './support/temp.js';

const START = Date.parse('2026-06-01T12:00:00.000Z');
const COUNTRY = 'uk';

interface World {
  dir: string;
  cleanup: () => Promise<void>;
  server: SourceServer;
  /** What the source serves at /photo.jpg. */
  photo: Buffer;
  pool: ThumbnailPool;
  config: Config;
  spool: Spool;
  /** The injected clock: `clock()` reads it, `at` sets it. */
  at: number;
  clock: Clock;
  slots: Semaphore;
  processor: Processor;
}

const test = suite<World>('processor');

test.before(async (world) => {
  world.server = await startSourceServer();
  world.pool = new ThumbnailPool({ threads: 1, tasksPerThread: 1, threadNice: 0 });
  world.photo = await makeSample({ width: 800, height: 600, seed: 3 });
  world.server.routes.set('/photo.jpg', { kind: 'image', bytes: world.photo });
  world.server.routes.set('/missing.jpg', { kind: 'status', status: 404 });
  world.server.routes.set('/slow.jpg', { kind: 'slow', delayMs: 600, bytes: await makeSample({ width: 800, height: 600, seed: 4 }) });
});

test.after(async (world) => {
  await world.pool.close();
  await world.server.close();
});

test.before.each(async (world) => {
  const { dir, cleanup } = await tempDir('imagesys-processor-');
  world.dir = dir;
  world.cleanup = cleanup;
  world.at = START;
  world.clock = () => world.at;
  world.server.hits.clear();
  world.config = parseConfig({
    spool: join(dir, 'spool'),
    tree: join(dir, 'tree'),
    countries: [COUNTRY],
    retry: { baseMs: 10_000, maxMs: 600_000, factor: 4, jitter: 0.5, maxAttempts: 3 },
    download: { allow: ['127.0.0.1'], perHostRate: 0, proxy: 'none' },
    pool: { threads: 1, tasksPerThread: 1, spillAfterMs: 50 },
    intake: { settleMs: 0 },
    fsync: false,
  });
  world.spool = new Spool({ root: world.config.spool, fsync: false, staleMs: world.config.claims.staleMs, clock: world.clock });
  await world.spool.ensureLayout([COUNTRY]);
  world.slots = new Semaphore(2);
  world.processor = new Processor({
    config: world.config,
    spool: world.spool,
    downloader: new Downloader(world.config.download),
    pool: world.pool,
    thumbnailSlots: world.slots,
    health: new SourceHealth(world.config.health),
    log: pino({ level: 'silent' }),
    random: () => 0.5, // no jitter: the backoff is its base
  });
});

test.after.each(async (world) => {
  await world.spool.arrivals.close();
  await world.cleanup();
});

/** A job for `path` on the test server, written into incoming/ as an operator's tool would. */
async function enqueue(world: World, path: string): Promise<string> {
  const job = newJob({ url: world.server.url(path), country: COUNTRY }, new Date(world.clock()));
  await world.spool.writeJob('incoming', job);
  assert.is(job.hash, hashForUrl(job.url), 'named by its URL');
  return job.hash;
}

const fileOf = (hash: string): string => `${hash}.job`;

test('a good job goes incoming -> downloaded -> thumbed, with its manifest', async (world) => {
  const hash = await enqueue(world, '/photo.jpg');
  // every thumbnail slot taken: the original is set down in downloaded/ to wait for a thread
  await world.slots.acquire();
  await world.slots.acquire();
  const spilled = await world.processor.process('incoming', COUNTRY, fileOf(hash));
  assert.equal(spilled, { kind: 'spilled' });
  assert.is(await world.spool.findJob(COUNTRY, hash), 'downloaded');
  assert.ok((await stat(world.spool.originalPath(COUNTRY, hash))).size > 0, 'the original waits beside its job');
  const downloaded = await world.spool.readJob('downloaded', COUNTRY, hash);
  assert.is(downloaded?.source?.format, 'jpeg');
  assert.is(downloaded?.updatedAt, new Date(START).toISOString());
  world.slots.release();
  world.slots.release();

  world.at = START + 5_000;
  const done = await world.processor.process('downloaded', COUNTRY, fileOf(hash));
  assert.is(done.kind, 'thumbed');
  assert.is(await world.spool.findJob(COUNTRY, hash), 'thumbed');
  assert.not.ok(await stat(world.spool.originalPath(COUNTRY, hash)).then(() => true, () => false), 'the original is gone');

  const manifest = await readManifest(world.config.tree, COUNTRY, hash);
  assert.ok(manifest, 'the manifest is in the tree');
  assert.is(manifest.hash, hash);
  assert.is(manifest.url, world.server.url('/photo.jpg'));
  assert.is(manifest.createdAt, new Date(START + 5_000).toISOString(), 'stamped by the injected clock');
  assert.equal(manifest.source.width, 800);
  // the content digest is the served original's (hashed in the pool's thread, not here)
  assert.is(manifest.digest, `sha256:${createHash('sha256').update(world.photo).digest('hex')}`);
  assert.match(manifest.placeholder?.dominant ?? '', /^#[0-9a-f]{6}$/, 'and its placeholder');
  assert.ok((manifest.placeholder?.thumbhash.length ?? 0) > 8);
  assert.equal(manifest.sizes.map((s) => s.name), world.config.thumbnails.sizes.map((s) => s.name));
  for (const size of manifest.sizes) {
    // from bytes: the pool has restricted this process's libvips to buffer loaders
    const bytes = await readFile(join(world.config.tree, size.path));
    const meta = await sharp(bytes).metadata();
    assert.is(meta.format, size.format, `${size.name}'s format as listed`);
    assert.is(meta.width, size.width, `${size.name}'s width as listed`);
    assert.is(meta.height, size.height, `${size.name}'s height as listed`);
    assert.is(bytes.length, size.bytes, `${size.name}'s bytes as listed`);
    assert.ok(isRed(await regionMean(bytes, MARKER)), `${size.name} looks like the original`);
  }
  if (done.kind === 'thumbed') assert.is(done.made?.at, manifest.createdAt);
  assert.is(world.server.hits.get('/photo.jpg'), 1);
});

test('auto quality per datasource: its manifest gives each file\'s quality and score, the others a fixed quality and no score', async (world) => {
  const config = parseConfig({
    spool: world.config.spool,
    tree: world.config.tree,
    countries: [COUNTRY],
    fsync: false,
    download: { allow: ['127.0.0.1'], perHostRate: 0, proxy: 'none' },
    thumbnails: { countries: { [COUNTRY]: { datasources: { lean: { process: { quality: { floor: 0.96, tries: 3 } } } } } } },
  });
  const processor = new Processor({ config, spool: world.spool, downloader: new Downloader(config.download), pool: world.pool, thumbnailSlots: world.slots, health: new SourceHealth(config.health), log: pino({ level: 'silent' }), random: () => 0.5 });
  const lean = newJob({ url: world.server.url('/photo.jpg'), country: COUNTRY, datasource: 'lean' }, new Date(world.clock()));
  const plain = newJob({ url: world.server.url('/same-photo.jpg'), country: COUNTRY, datasource: 'other' }, new Date(world.clock()));
  world.server.routes.set('/same-photo.jpg', { kind: 'image', bytes: world.photo });
  for (const job of [lean, plain]) {
    await world.spool.writeJob('incoming', job);
    assert.is((await processor.process('incoming', COUNTRY, fileOf(job.hash))).kind, 'thumbed');
  }
  const leanManifest = (await readManifest(config.tree, COUNTRY, lean.hash))!;
  assert.equal(leanManifest.processing.quality, { floor: 0.96, min: 20, max: 95, tries: 3 }, 'the setting it was made with');
  for (const size of leanManifest.sizes) {
    assert.ok(size.score !== undefined && size.score >= 0.96, `${size.name}: score ${size.score}`);
    const quality = size.quality ?? Number.NaN;
    assert.ok(Number.isInteger(quality) && quality >= 20 && quality <= 95, `${size.name}: q${quality}`);
  }
  const plainManifest = (await readManifest(config.tree, COUNTRY, plain.hash))!;
  assert.is(plainManifest.processing.quality, 75);
  for (const size of plainManifest.sizes) {
    assert.is(size.quality, 75);
    assert.not.ok('score' in size);
  }
});

test('fencing: a holder whose claim was taken over during its download lets the job go, with no outcome and no tree write', async (world) => {
  const hash = await enqueue(world, '/slow.jpg');
  const attempt = world.processor.process('incoming', COUNTRY, fileOf(hash));
  while (!world.server.hits.get('/slow.jpg')) await sleep(10);
  // another engine takes the claim over (as if this one had hung past staleMs: its lock aged by hand)
  const lock = join(locksDir(world.config.spool), `${COUNTRY}.${hash}.lock`);
  const old = new Date(Date.now() - 10 * world.config.claims.staleMs);
  await utimes(lock, old, old);
  const other = new ClaimRegistry(locksDir(world.config.spool), world.config.claims.staleMs, new FsTime(spoolTmpDir(world.config.spool)));
  const taken = await other.tryClaim(`${COUNTRY}.${hash}`);
  assert.ok(taken, 'taken over');
  assert.equal(await attempt, { kind: 'busy' }, 'the first holder noticed before it moved anything');
  assert.is(await world.spool.findJob(COUNTRY, hash), 'incoming', 'still where the new holder will find it');
  assert.is(await readManifest(world.config.tree, COUNTRY, hash), undefined, 'nothing written into the tree');
  await taken.verify(); // the new holder's claim is intact
  await taken.release();
});

test('a 404 fails with its code and its reason', async (world) => {
  const hash = await enqueue(world, '/missing.jpg');
  const outcome = await world.processor.process('incoming', COUNTRY, fileOf(hash));
  assert.equal(outcome, { kind: 'failed', code: 'http_not_found' });
  assert.is(await world.spool.findJob(COUNTRY, hash), 'failed');
  const failed = await world.spool.readJob('failed', COUNTRY, hash);
  assert.is(failed?.errorCode, 'http_not_found');
  assert.match(failed?.error ?? '', /HTTP 404/);
  assert.is(failed?.attempts, 1);
  assert.is(failed?.updatedAt, new Date(START).toISOString());
  assert.is(failed?.notBefore, undefined);
});

test('a transient failure requeues with a due time from the backoff, by the injected clock', async (world) => {
  world.server.routes.set('/flaky.jpg', { kind: 'flaky', failures: 1, status: 503, bytes: await makeSample({ width: 640, height: 480, seed: 5 }) });
  const hash = await enqueue(world, '/flaky.jpg');
  const outcome = await world.processor.process('incoming', COUNTRY, fileOf(hash));
  const due = START + backoffDelay(1, world.config.retry, () => 0.5);
  assert.equal(outcome, { kind: 'retry', until: due, code: 'http_server_error' });
  assert.is(due, START + 10_000, 'the first retry waits the base delay');
  const waiting = await world.spool.readJob('incoming', COUNTRY, hash);
  assert.is(waiting?.notBefore, new Date(due).toISOString());
  assert.is(waiting?.errorCode, 'http_server_error');
  assert.is(waiting?.attempts, 1);

  // not yet due by the injected clock: no request
  world.at = due - 1;
  assert.equal(await world.processor.process('incoming', COUNTRY, fileOf(hash)), { kind: 'deferred', until: due });
  assert.is(world.server.hits.get('/flaky.jpg'), 1);

  world.at = due;
  const again = await world.processor.process('incoming', COUNTRY, fileOf(hash));
  assert.is(again.kind, 'thumbed');
  const thumbed = await world.spool.readJob('thumbed', COUNTRY, hash);
  assert.is(thumbed?.attempts, 0, 'its retry state dropped');
  assert.is(thumbed?.errorCode, undefined);
  assert.is(thumbed?.notBefore, undefined);
  assert.is(world.server.hits.get('/flaky.jpg'), 2);
});

test('a job whose image is in the tree already is refreshed, not downloaded again', async (world) => {
  const hash = await enqueue(world, '/photo.jpg');
  assert.is((await world.processor.process('incoming', COUNTRY, fileOf(hash))).kind, 'thumbed');
  assert.is(world.server.hits.get('/photo.jpg'), 1);
  const before = await readManifest(world.config.tree, COUNTRY, hash);

  // the same URL asked for again, a day later: its job is back in incoming/ (the thumbed one gone)
  await world.spool.transition('thumbed', 'incoming', { ...(await world.spool.readJob('thumbed', COUNTRY, hash))!, url: world.server.url('/photo.jpg') });
  world.at = START + 86_400_000;
  const outcome = await world.processor.process('incoming', COUNTRY, fileOf(hash));
  assert.equal(outcome, { kind: 'thumbed', skipped: 'in_tree' });
  assert.is(world.server.hits.get('/photo.jpg'), 1, 'no second download');
  assert.is(await world.spool.findJob(COUNTRY, hash), 'thumbed');
  assert.is((await stat(manifestPath(world.config.tree, COUNTRY, hash))).mtimeMs, START + 86_400_000, 'touched at the injected time');
  assert.equal(await readManifest(world.config.tree, COUNTRY, hash), before, 'the manifest itself unchanged');
});

test.run();

/**
 * pool.memoryBudgetMiB in behaviour: the budget's own rules, then the processor and the engine with a
 * budget of 1 MiB and originals of about 0.6 MiB (a real source on 127.0.0.1, real sharp, a real
 * spool): originals with a Content-Length wait before their body, so no more than the budget is ever
 * held; originals without one that find the budget spent wait on disk in downloaded/; every job ends
 * thumbed, each URL downloaded once.
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../engine/config/config.js';
import { BudgetHold, ByteBudget } from '../engine/core/byte-budget.js';
import { Semaphore } from '../engine/core/semaphore.js';
import { Downloader } from '../engine/download/downloader.js';
import { Engine } from '../engine/engine.js';
import { SourceHealth } from '../engine/health/health.js';
import { Processor, type Outcome } from '../engine/job/processor.js';
import { ThumbnailPool } from '../engine/thumbnails/thumbnail-pool.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type Route, type SourceServer } from '../scripts/source-server.js';
import { newJob } from '../spool/job.js';
import { Spool } from '../spool/spool.js';
import { tempDir } from './support/temp.js';

const MIB = 1024 * 1024;
const COUNTRY = 'uk';

const budget = suite('byte budget');

budget('takers wait in order until theirs fit; one larger than the budget goes alone; an abort leaves the queue', async () => {
  const b = new ByteBudget(100);
  await b.take(60);
  const order: string[] = [];
  const big = b.take(150).then(() => order.push('big'));
  const small = b.take(10).then(() => order.push('small')); // fits now, but waits behind the big one
  await Promise.resolve();
  assert.equal(order, [], 'nothing goes past the head of the queue');
  assert.is(b.waiting, 2);
  b.release(60);
  await big;
  assert.equal(order, ['big'], 'alone, once nothing else is held');
  assert.is(b.inUse, 150);
  b.release(150);
  await small;
  assert.equal(order, ['big', 'small']);
  b.release(10);
  const aborted = new AbortController();
  await b.take(95);
  const waiting = b.take(50, aborted.signal);
  const after = b.take(5);
  aborted.abort(new Error('stop'));
  assert.is(await waiting.then(() => 'taken', (error: unknown) => (error as Error).message), 'stop');
  await after; // the aborted head no longer holds it back
  assert.is(b.inUse, 100);
  assert.is(b.peak, 150);
});

budget('a hold takes what is declared, settles to what was read, gives back once', async () => {
  const b = new ByteBudget(100);
  const hold = new BudgetHold(b);
  await hold.take(40);
  hold.settle(70); // no Content-Length match: what is in memory is counted
  assert.is(b.inUse, 70);
  hold.settle(30);
  assert.is(b.inUse, 30);
  hold.release();
  hold.release();
  assert.is(b.inUse, 0);
});

budget('pool.memoryBudgetMiB: 64 by default; a value it cannot use is refused by name', () => {
  assert.is(parseConfig({}).pool.memoryBudgetMiB, 64);
  assert.is(parseConfig({ pool: { memoryBudgetMiB: 512 } }).pool.memoryBudgetMiB, 512);
  for (const bad of [0, -1, 1.5, '64', null]) {
    assert.throws(() => parseConfig({ pool: { memoryBudgetMiB: bad } }), /pool\.memoryBudgetMiB/);
  }
});

budget.run();

interface World {
  server: SourceServer;
  pool: ThumbnailPool;
  photos: Buffer[];
  /** Larger than the whole budget (1 MiB). */
  large: Buffer[];
}

const inUse = suite<World>('memory budget in use');

inUse.before(async (world) => {
  // noisy samples of about 0.6 MiB: two do not fit in a budget of 1 MiB
  world.photos = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => makeSample({ width: 1400, height: 1000, seed, quality: 97 })));
  for (const photo of world.photos) assert.ok(photo.length > 0.5 * MIB && photo.length < MIB, `sample of ${photo.length} bytes`);
  world.large = await Promise.all([7, 8, 9].map((seed) => makeSample({ width: 2000, height: 1600, seed, quality: 98 })));
  for (const photo of world.large) assert.ok(photo.length > MIB, `large sample of ${photo.length} bytes`);
  world.server = await startSourceServer();
  world.pool = new ThumbnailPool({ threads: 1, tasksPerThread: 1, threadNice: 0 });
});

inUse.after(async (world) => {
  await world.pool.close();
  await world.server.close();
});

async function processorWorld(world: World, dir: string): Promise<{ spool: Spool; processor: Processor; memory: ByteBudget }> {
  const config = parseConfig({
    spool: join(dir, 'spool'),
    tree: join(dir, 'tree'),
    countries: [COUNTRY],
    download: { allow: ['127.0.0.1'], perHostRate: 0, proxy: 'none' },
    pool: { threads: 1, tasksPerThread: 1, spillAfterMs: 60_000, memoryBudgetMiB: 1 },
    intake: { settleMs: 0 },
    fsync: false,
  });
  const spool = new Spool({ root: config.spool, fsync: false, staleMs: config.claims.staleMs });
  await spool.ensureLayout([COUNTRY]);
  const memory = new ByteBudget(config.pool.memoryBudgetMiB * MIB);
  const processor = new Processor({
    config,
    spool,
    downloader: new Downloader(config.download),
    pool: world.pool,
    // slots enough for every job: only the budget holds them back (spillAfterMs is a minute)
    thumbnailSlots: new Semaphore(8),
    memoryBudget: memory,
    health: new SourceHealth(config.health),
    log: pino({ level: 'silent' }),
  });
  return { spool, processor, memory };
}

async function enqueueAll(world: World, spool: Spool, prefix: string, chunked: boolean): Promise<string[]> {
  const hashes: string[] = [];
  for (const [i, bytes] of world.photos.entries()) {
    const path = `/${prefix}/${i}.jpg`;
    world.server.routes.set(path, { kind: 'image', bytes, chunked } satisfies Route);
    const job = newJob({ url: world.server.url(path), country: COUNTRY }, new Date());
    await spool.writeJob('incoming', job);
    hashes.push(job.hash);
  }
  return hashes;
}

inUse('with a Content-Length, downloads wait for the budget: never more than 1 MiB held, every job thumbed from memory', async (world) => {
  const { dir, cleanup } = await tempDir('imagesys-budget-');
  try {
    const { spool, processor, memory } = await processorWorld(world, dir);
    const hashes = await enqueueAll(world, spool, 'declared', false);
    const outcomes = await Promise.all(hashes.map((hash) => processor.process('incoming', COUNTRY, `${hash}.job`)));
    assert.equal(outcomes.map((o) => o.kind), hashes.map(() => 'thumbed'));
    assert.ok(memory.peak <= MIB, `at most the budget held: ${memory.peak} bytes`);
    assert.ok(memory.peak >= world.photos[0]!.length, 'the budget counted the originals');
    assert.is(memory.inUse, 0, 'all given back');
    for (const i of world.photos.keys()) assert.is(world.server.hits.get(`/declared/${i}.jpg`), 1, 'downloaded once');
    await spool.arrivals.close();
  } finally {
    await cleanup();
  }
});

inUse('without a Content-Length, originals past the budget wait on disk in downloaded/, then are thumbed from there', async (world) => {
  const { dir, cleanup } = await tempDir('imagesys-budget-');
  try {
    const { spool, processor, memory } = await processorWorld(world, dir);
    const hashes = await enqueueAll(world, spool, 'chunked', true);
    memory.force(MIB); // the budget spent (as by originals in the threads): none read without a Content-Length fits
    const first = await Promise.all(hashes.map((hash) => processor.process('incoming', COUNTRY, `${hash}.job`)));
    assert.equal(first.map((o) => o.kind), hashes.map(() => 'spilled'), 'every original went to disk');
    const spilled = hashes;
    for (const hash of spilled) {
      assert.is(await spool.findJob(COUNTRY, hash), 'downloaded');
      assert.ok((await stat(spool.originalPath(COUNTRY, hash))).size > 0.5 * MIB, 'its original is on disk');
    }
    assert.is(memory.inUse, MIB, 'a spilled original holds none of the budget');
    memory.release(MIB);
    const second: Outcome[] = await Promise.all(spilled.map((hash) => processor.process('downloaded', COUNTRY, `${hash}.job`)));
    assert.equal(second.map((o) => o.kind), spilled.map(() => 'thumbed'));
    assert.equal((await readdir(join(dir, 'spool', 'downloaded', COUNTRY))).filter((n) => !n.startsWith('.')), [], 'downloaded/ is empty again');
    assert.is(memory.inUse, 0);
    for (const i of world.photos.keys()) assert.is(world.server.hits.get(`/chunked/${i}.jpg`), 1, 'downloaded once');
    await spool.arrivals.close();
  } finally {
    await cleanup();
  }
});

inUse('the engine with a budget of 1 MiB: every job thumbed, each URL downloaded once; originals larger than the budget read without a Content-Length go through downloaded/', async (world) => {
  const { dir, cleanup } = await tempDir('imagesys-budget-');
  const routes = new Map<string, Route>();
  world.photos.forEach((bytes, i) => {
    routes.set(`/e/declared-${i}.jpg`, { kind: 'image', bytes });
    routes.set(`/e/chunked-${i}.jpg`, { kind: 'image', bytes, chunked: true });
  });
  world.large.forEach((bytes, i) => {
    routes.set(`/e/large-declared-${i}.jpg`, { kind: 'image', bytes });
    routes.set(`/e/large-chunked-${i}.jpg`, { kind: 'image', bytes, chunked: true });
  });
  const server = await startSourceServer(routes);
  try {
    const config = parseConfig({
      spool: join(dir, 'spool'),
      tree: join(dir, 'tree'),
      countries: [COUNTRY],
      pool: { threads: 1, memoryBudgetMiB: 1 },
      download: { allow: ['127.0.0.1'], perHostRate: 0, proxy: 'none', concurrency: 16, perHost: 16 },
      intake: { settleMs: 0, rescanMs: 200 },
      fsync: false,
    });
    const engine = new Engine({ config, countries: [COUNTRY], log: pino({ level: 'silent' }) });
    await engine.recover();
    await writeFile(join(config.spool, 'incoming', COUNTRY, 'feed.urls'), `${[...routes.keys()].map((p) => server.url(p)).join('\n')}\n`);
    await engine.drain();
    await engine.stop();
    assert.is(engine.stats.thumbed, routes.size, 'every job thumbed');
    assert.is(engine.stats.failed, 0);
    assert.ok(engine.stats.spilled >= world.large.length, `the large ones read without a Content-Length went to downloaded/: ${engine.stats.spilled}`);
    assert.is(engine.memoryBudget.inUse, 0);
    for (const path of routes.keys()) assert.is(server.hits.get(path), 1, `${path} downloaded once`);
  } finally {
    await server.close();
    await cleanup();
  }
});

inUse('a download waiting for the budget before its body is not timed out by download.totalTimeoutMs or bodyTimeoutMs', async (world) => {
  const path = '/waits.jpg';
  world.server.routes.set(path, { kind: 'image', bytes: world.large[0]! });
  const config = parseConfig({ download: { allow: ['127.0.0.1'], perHostRate: 0, proxy: 'none', totalTimeoutMs: 1_000, bodyTimeoutMs: 500 } });
  const downloader = new Downloader(config.download);
  const memory = new ByteBudget(MIB);
  memory.force(MIB); // spent: the download waits until it is given back, well past both limits
  let heard: number | undefined;
  const waited = downloader.download(world.server.url(path), undefined, {
    onBody: async (declared, signal) => {
      heard = declared;
      await memory.take(declared ?? 0, signal);
    },
  });
  const given = new Promise<void>((resolve) => setTimeout(() => resolve(memory.release(MIB)), 2_500));
  try {
    const result = await waited;
    assert.ok(!result.notModified && result.bytes.equals(world.large[0]!), 'the whole original');
    assert.is(heard, world.large[0]!.length, 'the Content-Length was heard before the body');
  } finally {
    await given;
    await downloader.close();
  }
});

inUse.run();

/**
 * Image classes: the pure decision, the perceptual hash, the on-disk index, and the whole way through
 * the processor (real HTTP source, real sharp pool, a temporary spool and tree) and the CLI.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import sharp, { type Sharp } from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readClassCounts } from '../engine/classes/class-counts.js';
import { decideClass, type IndexEntry } from '../engine/core/image-class.js';
import { phashDir } from '../engine/classes/layout.js';
import { bucketsOf, entryLine, parseEntries, PhashIndex, usefulBuckets } from '../engine/classes/phash-index.js';
import { parseConfig, type Config } from '../engine/config/config.js';
import { Semaphore } from '../engine/core/semaphore.js';
import { Downloader } from '../engine/download/downloader.js';
import { SourceHealth } from '../engine/health/health.js';
import { thumbnailsForUrls } from '../engine/interface.js';
import { Processor } from '../engine/job/processor.js';
import { ThumbnailPool } from '../engine/thumbnails/thumbnail-pool.js';
import { manifestPath, readManifest } from '../engine/tree/tree.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type SourceServer } from '../scripts/source-server.js';
import { newJob } from '../spool/job.js';
import { SELF } from '../spool/owner.js';
import { Spool } from '../spool/spool.js';
import { dHash, hammingDistance } from '../workers/perceptual-hash.js';
import { runCli } from './support/cli.js';
import { tempDir } from './support/temp.js';

const pure = suite('classes: the parts');

const entry = (hash: string, datasource = 'agency', country = 'uk', phash = '00ff00ff00ff00ff'): IndexEntry => ({ phash, country, hash, datasource });
const at = (e: IndexEntry, distance: number) => ({ ...e, distance });

pure('the decision: placeholder from enough URLs of one datasource, else duplicate of the nearest, else photo; a hand-set class wins', () => {
  const self = entry('s'.repeat(32));
  const settings = { placeholderUrls: 3 };
  assert.equal(decideClass(self, [], settings).classification, { class: 'photo', humanClassified: false });
  const far = at(entry('a'.repeat(32), 'other'), 2);
  const near = at(entry('b'.repeat(32), 'other', 'de'), 1);
  assert.equal(decideClass(self, [near, far], settings).classification, { class: 'duplicate', humanClassified: false, duplicateOf: { country: 'de', hash: 'b'.repeat(32) } });
  const peers = [at(entry('c'.repeat(32)), 0), at(entry('d'.repeat(32)), 1)];
  const placeholder = decideClass(self, [...peers, far, at(self, 0)], settings);
  assert.equal(placeholder.classification, { class: 'placeholder', humanClassified: false });
  assert.equal(placeholder.reclass.map((e) => e.hash), ['c'.repeat(32), 'd'.repeat(32)], 'the others of its datasource are reclassed');
  assert.is(decideClass(self, [peers[0]!, at(self, 0)], settings).classification.class, 'duplicate', 'itself does not count as another URL');
  assert.equal(decideClass(self, [...peers, near], settings, 'photo'), { classification: { class: 'photo', humanClassified: true }, reclass: [], list: true });
  assert.is(decideClass({ ...self, datasource: '' }, peers, settings).classification.class, 'duplicate', 'another datasource\'s copies make a duplicate, not a placeholder');
});

pure('the decision when an image is made again, and what goes into the index', () => {
  const self = entry('s'.repeat(32));
  const settings = { placeholderUrls: 3 };
  const copy = at(entry('c'.repeat(32), 'mirror'), 1);
  const photo = { classification: { class: 'photo' as const, humanClassified: false }, samePicture: true };
  assert.equal(decideClass(self, [at(self, 0), copy], settings, undefined, photo).classification, { class: 'photo', humanClassified: false }, 'an original stays one after its copy came');
  assert.is(decideClass(self, [at(self, 0), copy], settings, undefined, { ...photo, samePicture: false }).classification.class, 'duplicate', 'a new picture under the URL is judged afresh');
  const peers = [at(entry('p'.repeat(32)), 0), at(entry('q'.repeat(32)), 0)];
  const crossing = decideClass(self, peers, settings, undefined, photo);
  assert.equal([crossing.classification.class, crossing.reclass.length, crossing.list], ['placeholder', 2, true], 'the one that reaches the threshold: listed, the others reclassed');
  const later = decideClass(self, [...peers, at(entry('r'.repeat(32)), 0)], settings);
  assert.equal([later.classification.class, later.reclass.length, later.list], ['placeholder', 0, false], 'a later one: neither listed nor reclassing');
  assert.is(decideClass(self, [at(self, 0)], settings, undefined, { classification: { class: 'placeholder', humanClassified: false }, samePicture: true }).classification.class, 'placeholder', 'kept, though the index lost the others');
});

pure('the perceptual hash: 16 hex digits, near-copies within 2 bits, different pictures far apart', async () => {
  const raw = async (image: Sharp) => {
    const { data, info } = await image.resize(480, 360, { fit: 'inside' }).raw().toBuffer({ resolveWithObject: true });
    return dHash(data, info);
  };
  const original = await makeSample({ width: 900, height: 600, seed: 11 });
  const h = await raw(sharp(original));
  assert.match(h, /^[0-9a-f]{16}$/);
  const copy = await sharp(original).resize(850).jpeg({ quality: 55 }).toBuffer();
  assert.ok(hammingDistance(h, await raw(sharp(copy))) <= 2, 're-encoded and resized');
  const other = await raw(sharp(await makeSample({ width: 900, height: 600, seed: 12 })));
  assert.ok(hammingDistance(h, other) >= 8, `another picture: ${hammingDistance(h, other)} bits`);
  assert.is(hammingDistance('ffff000000000000', '7fff000000000001'), 2);
  assert.throws(() => hammingDistance('ff', 'fff'), /different lengths/);
});

pure('flat bands are neither listed nor looked up: a flat picture is not indexed', async () => {
  assert.equal(usefulBuckets('0000abcdffff1234'), [[1, 'abcd'], [3, '1234']]);
  const { dir, cleanup } = await tempDir('imagesys-index-');
  try {
    const index = new PhashIndex(dir, 'host-a');
    await index.add(entry('1'.repeat(32), 'x', 'uk', '0000000000000000'));
    await index.add(entry('2'.repeat(32), 'x', 'uk', '0000000000000000'));
    assert.equal(await index.near('0000000000000000', 3), []);
  } finally {
    await cleanup();
  }
});

pure('index lines and buckets: a round trip, any datasource text, torn lines skipped; 4 buckets of 16 bits', () => {
  const e = entry('e'.repeat(32), 'feed 7/ü%');
  assert.equal(parseEntries(`${entryLine(e)}${entryLine(entry('f'.repeat(32)))}0123 torn\n`), [e, entry('f'.repeat(32))]);
  assert.equal(bucketsOf('0123456789abcdef'), [[0, '0123'], [1, '4567'], [2, '89ab'], [3, 'cdef']]);
  assert.throws(() => bucketsOf('xyz'), /not a 64-bit perceptual hash/);
});

pure('the index on disk: finds every hash within 3 bits whichever band differs, from every writer, nothing farther', async () => {
  const { dir, cleanup } = await tempDir('imagesys-index-');
  try {
    const a = new PhashIndex(dir, 'host-a');
    const b = new PhashIndex(dir, 'host-b');
    const base = '0123456789abcdef';
    const flip = (hex: string, bits: number[]): string => {
      let n = BigInt(`0x${hex}`);
      for (const bit of bits) n ^= 1n << BigInt(bit);
      return n.toString(16).padStart(16, '0');
    };
    await a.add(entry('1'.repeat(32), 'x', 'uk', flip(base, [0, 17, 40]))); // one bit in three bands
    await b.add(entry('2'.repeat(32), 'x', 'uk', flip(base, [63, 62]))); // two bits in one band
    await b.add(entry('3'.repeat(32), 'x', 'uk', flip(base, [1, 18, 33, 50]))); // four bits: beyond reach
    await a.add(entry('4'.repeat(32), 'x', 'uk', base));
    const found = await a.near(base, 3);
    assert.equal(found.map((e) => [e.hash[0], e.distance]), [['4', 0], ['2', 2], ['1', 3]]);
    assert.equal((await b.near(base, 2)).map((e) => e.hash[0]), ['4', '2']);
    const beyond = await a.near(base, 4).then(() => 'found', (error: unknown) => String(error));
    assert.match(beyond, /within 3 bits, not 4/);
  } finally {
    await cleanup();
  }
});

interface World {
  dir: string;
  cleanup: () => Promise<void>;
  server: SourceServer;
  pool: ThumbnailPool;
  config: Config;
  spool: Spool;
  processor: Processor;
}

const flow = suite<World>('classes: through the processor');

flow.before(async (world) => {
  world.server = await startSourceServer();
  world.pool = new ThumbnailPool({ threads: 1, tasksPerThread: 2, threadNice: 0 });
  const stock = await makeSample({ width: 640, height: 480, seed: 21 });
  for (let i = 0; i < 50; i++) world.server.routes.set(`/agency/listing-${i}/photo.jpg`, { kind: 'image', bytes: stock });
  const photo = await makeSample({ width: 1000, height: 750, seed: 22 });
  world.server.routes.set('/house/front.jpg', { kind: 'image', bytes: photo });
  world.server.routes.set('/mirror/front-copy.jpg', { kind: 'image', bytes: await sharp(photo).resize(950).jpeg({ quality: 60 }).toBuffer() });
  world.server.routes.set('/house/garden.jpg', { kind: 'image', bytes: await makeSample({ width: 1000, height: 750, seed: 23 }) });
});

flow.after(async (world) => {
  await world.pool.close();
  await world.server.close();
});

flow.before.each(async (world) => {
  const { dir, cleanup } = await tempDir('imagesys-classes-');
  Object.assign(world, { dir, cleanup });
  world.config = parseConfig({
    spool: join(dir, 'spool'),
    tree: join(dir, 'tree'),
    countries: ['uk'],
    download: { allow: ['127.0.0.1'], perHostRate: 0, proxy: 'none' },
    fsync: false,
  });
  world.spool = new Spool({ root: world.config.spool, fsync: false, staleMs: world.config.claims.staleMs });
  await world.spool.ensureLayout(['uk']);
  world.processor = new Processor({ config: world.config, spool: world.spool, downloader: new Downloader(world.config.download), pool: world.pool, thumbnailSlots: new Semaphore(2), health: new SourceHealth(world.config.health), log: pino({ level: 'silent' }) });
});

flow.after.each(async (world) => {
  await world.processor.close();
  await world.spool.arrivals.close();
  await world.cleanup();
});

/** Makes the image at `path` (datasource as given), the way the engine would: a job in incoming/, processed. */
async function make(world: World, path: string, datasource?: string, refresh = false): Promise<string> {
  const job = newJob({ url: world.server.url(path), country: 'uk', ...(datasource ? { datasource } : {}), refresh }, new Date());
  await world.spool.writeJob('incoming', job);
  const outcome = await world.processor.process('incoming', 'uk', `${job.hash}.job`);
  assert.is(outcome.kind, 'thumbed', `${path}: ${JSON.stringify(outcome)}`);
  assert.not.ok('skipped' in outcome, `${path}: made, not only touched`);
  return job.hash;
}
const manifestOf = async (world: World, hash: string) => (await readManifest(world.config.tree, 'uk', hash))!;

flow('one stock picture under 50 URLs of a datasource: all end placeholder, the first ones reclassed; the batch form leaves them out', async (world) => {
  const hashes: string[] = [];
  for (let i = 0; i < 50; i++) hashes.push(await make(world, `/agency/listing-${i}/photo.jpg`, 'agency'));
  const threshold = world.config.classes.placeholderUrls;
  const classes = await Promise.all(hashes.map(async (h) => (await manifestOf(world, h)).class));
  assert.equal(classes, hashes.map(() => 'placeholder'), 'every one, the 19 before the 20th too');
  assert.is(threshold, 20);
  const first = await manifestOf(world, hashes[0]!);
  assert.match(first.phash ?? '', /^[0-9a-f]{16}$/);
  assert.is(first.humanClassified, false);
  assert.not.ok('duplicateOf' in first, 'reclassed from duplicate: the link went with it');
  const garden = await make(world, '/house/garden.jpg', 'agency');
  assert.is((await manifestOf(world, garden)).class, 'photo', 'another picture of the same datasource is a photo');

  const urls = [world.server.url('/house/garden.jpg'), world.server.url('/agency/listing-3/photo.jpg')];
  const location = { tree: world.config.tree, baseUrl: 'https://img.example/t' };
  const all = await thumbnailsForUrls(location, 'uk', urls);
  assert.equal(all.map((t) => t?.class), ['photo', 'placeholder']);
  assert.equal((await thumbnailsForUrls(location, 'uk', urls, { omit: ['placeholder', 'duplicate'] })).map((t) => t?.class), ['photo', undefined]);
  await world.processor.close();
  assert.equal(await readClassCounts(world.config.tree), { photo: 1, placeholder: 50, duplicate: 0 }, 'counted: 19 moved from duplicate/photo to placeholder');
  // the placeholders were listed up to the threshold only: the buckets stay small
  const bucket = join(phashDir(world.config.tree), '0', first.phash!.slice(0, 2));
  const listed = parseEntries(await readFile(join(bucket, `${first.phash!.slice(0, 4)}~${SELF.host}.log`), 'utf8')).filter((e) => e.phash === first.phash);
  assert.is(listed.length, threshold, 'listed up to the threshold, not past it');
});

/** As if swept to every target: the image's job leaves thumbed/. */
const swept = (world: World, hash: string) => rm(world.spool.jobPath('thumbed', 'uk', hash));

/** Makes an image in the tree again: a refresh (its manifest stays until the new one replaces it). */
async function remake(world: World, path: string, hash: string, datasource: string): Promise<void> {
  await swept(world, hash);
  assert.is(await make(world, path, datasource, true), hash);
}

flow('a near-copy (re-encoded, slightly resized) under another URL is a duplicate of the original, which stays a photo, made again too', async (world) => {
  const original = await make(world, '/house/front.jpg', 'agent-1');
  const copy = await make(world, '/mirror/front-copy.jpg', 'portal-9');
  assert.is((await manifestOf(world, original)).class, 'photo');
  const duplicate = await manifestOf(world, copy);
  assert.is(duplicate.class, 'duplicate');
  assert.equal(duplicate.duplicateOf, { country: 'uk', hash: original });
  assert.ok(hammingDistance(duplicate.phash!, (await manifestOf(world, original)).phash!) <= world.config.classes.distance);
  await remake(world, '/house/front.jpg', original, 'agent-1');
  assert.is((await manifestOf(world, original)).class, 'photo', 'not a duplicate of its own copy');
  await remake(world, '/mirror/front-copy.jpg', copy, 'portal-9');
  assert.equal((await manifestOf(world, copy)).duplicateOf, { country: 'uk', hash: original });
  await world.processor.close();
  assert.equal(await readClassCounts(world.config.tree), { photo: 1, placeholder: 0, duplicate: 1 }, 'made again: counted once');
});

flow('the reclassed earlier copies are sent again (a job in thumbed/), and keep their class when made again', async (world) => {
  const hashes: string[] = [];
  for (let i = 0; i < 19; i++) hashes.push(await make(world, `/agency/listing-${i}/photo.jpg`, 'agency'));
  for (const hash of hashes) await swept(world, hash);
  hashes.push(await make(world, '/agency/listing-19/photo.jpg', 'agency'));
  for (const hash of hashes) {
    assert.is((await manifestOf(world, hash)).class, 'placeholder');
    assert.is(await world.spool.findJob('uk', hash), 'thumbed', `${hash}: waits to be sent with its new manifest`);
  }
  const job = await world.spool.readJob('thumbed', 'uk', hashes[3]!);
  assert.is(job?.url, world.server.url('/agency/listing-3/photo.jpg'));
  assert.is(job?.datasource, 'agency');
  await remake(world, '/agency/listing-3/photo.jpg', hashes[3]!, 'agency');
  assert.is((await manifestOf(world, hashes[3]!)).class, 'placeholder', 'one of the first made again: still a placeholder');
});

flow('a class set by hand (imagesys classify) is written at once and survives the image being made again', async (world) => {
  const configPath = join(world.dir, 'config.json');
  await writeFile(configPath, JSON.stringify({ spool: world.config.spool, tree: world.config.tree, countries: ['uk'] }));
  const hashes: string[] = [];
  for (let i = 0; i < 20; i++) hashes.push(await make(world, `/agency/listing-${i}/photo.jpg`, 'agency'));
  const url = world.server.url('/agency/listing-7/photo.jpg');
  const hand = await runCli(['classify', url, 'photo', '--config', configPath]);
  assert.is(hand.code, 0, hand.stderr);
  assert.match(hand.stderr, new RegExp(`classify: ${hashes[7]} is photo, set by hand; its manifest updated in uk`));
  assert.equal([(await manifestOf(world, hashes[7]!)).class, (await manifestOf(world, hashes[7]!)).humanClassified], ['photo', true]);
  // made again (a refresh): the operator's class holds, and is counted once
  await remake(world, '/agency/listing-7/photo.jpg', hashes[7]!, 'agency');
  const again = await manifestOf(world, hashes[7]!);
  assert.equal([again.class, again.humanClassified], ['photo', true]);
  assert.is((await manifestOf(world, hashes[8]!)).class, 'placeholder', 'the others keep theirs');
  await world.processor.close();
  assert.equal(await readClassCounts(world.config.tree), { photo: 1, placeholder: 19, duplicate: 0 }, 'the operator\'s change counted');
  // made from scratch after a purge (its manifest gone): the class set by hand, kept apart, still wins
  await rm(manifestPath(world.config.tree, 'uk', hashes[7]!));
  await swept(world, hashes[7]!);
  assert.is(await make(world, '/agency/listing-7/photo.jpg', 'agency'), hashes[7]);
  assert.equal([(await manifestOf(world, hashes[7]!)).class, (await manifestOf(world, hashes[7]!)).humanClassified], ['photo', true]);
  const wrong = await runCli(['classify', url, 'logo', '--config', configPath]);
  assert.is(wrong.code, 2);
  assert.match(wrong.stderr, /Choices: "photo", "placeholder"/);
});

pure.run();
flow.run();

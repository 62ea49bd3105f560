/**
 * The canary's parts: its record (pure), its picture, the slot claim on a real spool (two engines,
 * one canary per interval), the SSRF guard's one exception against a real server, its config, and
 * the Interface leaving canaries out.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CanaryRunner, checkEveryMs } from '../engine/canary/canary.js';
import { canaryImage, CANARY_HEIGHT, CANARY_WIDTH } from '../engine/canary/image.js';
import { advance, lastPerTarget, newRecord, parseRecord, timingsOf, type CanaryRecord, type Sighting } from '../engine/canary/record.js';
import { selfOrigin } from '../engine/canary/start.js';
import { probe, type Listing } from '../engine/canary/probe.js';
import { RsyncLister, shellLine, shellWord } from '../engine/canary/lister.js';
import { targetStatusPath } from '../spool/sweep-layout.js';
import { claimSlot, pruneRecords, readRecords, RECORDS_KEPT } from '../engine/canary/store.js';
import { ConfigError, defaultCountries, parseConfig } from '../engine/config/config.js';
import { canaryOf, canaryPath } from '../engine/core/canary-path.js';
import { ImageSysError } from '../engine/core/errors.js';
import { hashForUrl } from '../engine/core/hash.js';
import { Downloader, type DownloadOptions } from '../engine/download/downloader.js';
import { thumbnailsForHash, thumbnailsForUrls } from '../engine/interface.js';
import { manifestPath } from '../engine/tree/tree.js';
import { startSourceServer, type Route } from '../scripts/source-server.js';
import { Spool } from '../spool/spool.js';
import { stateDir } from '../spool/layout.js';
import { freePort } from './support/ports.js';
import { tempDir } from './support/temp.js';
import { ownerTag, SELF } from '../spool/owner.js';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();

function record(overrides: Partial<CanaryRecord> = {}): CanaryRecord {
  return { ...newRecord({ slot: 1, id: '0123456789abcdef', url: 'http://127.0.0.1:9464/canary/0123456789abcdef.png', hash: 'a'.repeat(32), country: 'zz', by: 'h~1', now: T0, deadlineMs: 60_000 }), ...overrides };
}

const nothing: Sighting = { batchWaiting: false, targets: {} };

test('record: stages are taken from what was seen; found everywhere is a success, with its timings', () => {
  let r = record();
  r = advance(r, { batchWaiting: true, targets: {} }, ['n1', 'n2'], T0 + 1_000);
  assert.is(r.result, undefined);
  assert.is(r.queuedAt, undefined);
  r = advance(r, { batchWaiting: false, job: { state: 'incoming', createdAt: at(1_500), downloaded: false }, targets: {} }, ['n1', 'n2'], T0 + 2_000);
  assert.is(r.queuedAt, at(1_500));
  r = advance(r, { batchWaiting: false, servedAt: at(2_000), madeAt: at(3_000), targets: { n1: { found: true }, n2: { found: false, why: 'not there yet' } } }, ['n1', 'n2'], T0 + 10_000);
  assert.equal(r.arrived, { local: at(3_000), n1: at(10_000) });
  assert.is(r.result, undefined, 'n2 still to come, and the deadline not passed');
  r = advance(r, { batchWaiting: false, madeAt: at(3_000), targets: { n2: { found: true } } }, ['n1', 'n2'], T0 + 20_000);
  assert.equal(r.result, { ok: true, at: at(20_000), failures: [] });
  assert.equal(timingsOf(r), { intake: 1.5, download: 0.5, thumbnail: 1, sync: { n1: 7, n2: 17 } });
  // decided: a later look changes nothing
  assert.is(advance(r, nothing, ['n1', 'n2'], T0 + 90_000), r);
});

test('record: at its deadline a canary fails at the stage where it stopped, per target', () => {
  const due = T0 + 60_000;
  const stageOf = (seen: Sighting): string => {
    const failures = advance(record(), seen, ['n1'], due).result!.failures;
    return failures.map((f) => `${f.stage}@${f.target}: ${f.reason}`).join(' | ');
  };
  assert.match(stageOf({ batchWaiting: true, targets: {} }), /^intake@local: its batch was still in incoming/);
  assert.match(stageOf(nothing), /^intake@local: its batch was read but no job/);
  assert.match(stageOf({ batchWaiting: false, job: { state: 'incoming', createdAt: at(1), downloaded: false, error: 'connect_refused' }, targets: {} }), /^download@local: its job waited in incoming\/: connect_refused/);
  assert.match(stageOf({ batchWaiting: false, job: { state: 'failed', createdAt: at(1), downloaded: false, error: 'HTTP 404' }, targets: {} }), /^download@local: its job failed: HTTP 404/);
  assert.match(stageOf({ batchWaiting: false, job: { state: 'failed', createdAt: at(1), downloaded: true, error: 'not an image' }, targets: {} }), /^thumbnail@local/);
  assert.match(stageOf({ batchWaiting: false, job: { state: 'downloaded', createdAt: at(1), downloaded: true }, targets: {} }), /^thumbnail@local: its job waited in downloaded/);
  const synced = advance(record(), { batchWaiting: false, madeAt: at(2_000), targets: { n1: { found: true }, n2: { found: false, why: 'rsync could not list it: exit 10' } } }, ['n1', 'n2', 'n3'], due).result!;
  assert.is(synced.ok, false);
  assert.equal(synced.failures, [
    { stage: 'sync', target: 'n2', reason: 'rsync could not list it: exit 10' },
    { stage: 'sync', target: 'n3', reason: 'not found there' },
  ]);
  assert.is(advance(record(), nothing, [], due - 1).result, undefined, 'not before its deadline');
});

test('record: the last canary per target, and the last success of each', () => {
  const older = { ...record({ slot: 1 }), arrived: { local: at(1_000), n1: at(5_000), n2: at(6_000) }, result: { ok: true, at: at(6_000), failures: [] } };
  const newer = { ...record({ slot: 2, droppedAt: at(600_000) }), arrived: { local: at(601_000), n1: at(605_000) }, result: { ok: false, at: at(660_000), failures: [{ stage: 'sync' as const, target: 'n2', reason: 'not there yet' }] } };
  const pending = record({ slot: 3, droppedAt: at(1_200_000) });
  const last = lastPerTarget([older, pending, newer], ['n1', 'n2']);
  assert.equal(last.map((c) => [c.target, c.ok, c.droppedAt, c.seconds, c.failure?.stage, c.lastSuccessAt]), [
    ['local', true, at(600_000), 1, undefined, at(601_000)],
    ['n1', true, at(600_000), 5, undefined, at(605_000)],
    ['n2', false, at(600_000), undefined, 'sync', at(6_000)],
  ]);
  assert.equal(lastPerTarget([pending], ['n1']), [], 'nothing decided yet: nothing to show');
  assert.is(parseRecord(JSON.stringify(older))?.slot, 1);
  for (const junk of ['', '{', '{"version":2}', '[]', 'null']) assert.is(parseRecord(junk), undefined, junk);
});

test('picture: made from its id alone, a different one for each id, a real 640x480 PNG', async () => {
  const id = 'feedfacecafebeef';
  const png = canaryImage(id);
  assert.ok(png.equals(canaryImage(id)), 'the same id, the same bytes: any daemon serves it');
  assert.not.ok(png.equals(canaryImage('feedfacecafebee0')));
  const meta = await sharp(png).metadata();
  assert.equal([meta.format, meta.width, meta.height], ['png', CANARY_WIDTH, CANARY_HEIGHT]);
  const { channels } = await sharp(png).stats();
  assert.ok(channels.every((c) => c.stdev > 3), 'not a flat card: it resizes and encodes like a picture');
  assert.throws(() => canaryImage('../etc/passwd'), /not a canary id/);
  assert.equal(canaryOf(canaryPath({ slot: 42, id })), { slot: 42, id });
  for (const path of ['/canary/x.png', '/canary/feedfacecafebeef.png', '/canary/1-feedfacecafebeef.jpg', '/canary/1-feedfacecafebeef.png/..', '/tree/1-feedfacecafebeef.png', '/canary/-1-feedfacecafebeef.png']) assert.is(canaryOf(path), undefined, path);
  assert.is(selfOrigin('http://0.0.0.0:9464'), 'http://127.0.0.1:9464');
  assert.is(selfOrigin('http://[::]:9464'), 'http://[::1]:9464');
  assert.is(selfOrigin('http://10.1.2.3:80'), 'http://10.1.2.3');
  assert.is(checkEveryMs(15 * 60_000), 10_000);
  assert.is(checkEveryMs(3_000), 250);
});

test('slots: of engines racing for one interval exactly one sends its canary; old records are pruned', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spools = [0, 1, 2, 3].map(() => new Spool({ root: join(dir, 'spool'), fsync: false, staleMs: 4_000 }));
    for (let slot = 0; slot < 5; slot++) {
      const won = await Promise.all(spools.map((s, i) => claimSlot(s.writer, s.root, record({ slot, by: `h~${i}` }))));
      assert.is(won.filter(Boolean).length, 1, `slot ${slot}`);
    }
    const records = await readRecords(join(dir, 'spool'));
    assert.equal(records.map((r) => r.slot), [4, 3, 2, 1, 0], 'newest first, one each');
    assert.equal(await readdir(join(dir, 'spool', '.tmp')), [], 'no temporary left behind');
    for (let slot = 5; slot < RECORDS_KEPT + 10; slot++) await claimSlot(spools[0]!.writer, spools[0]!.root, record({ slot }));
    await pruneRecords(join(dir, 'spool'));
    const kept = await readRecords(join(dir, 'spool'), 1_000);
    assert.is(kept.length, RECORDS_KEPT);
    assert.is(kept.at(-1)!.slot, 10, 'the oldest went');
  } finally {
    await cleanup();
  }
});

test('two engines on one spool send one canary per interval between them', async () => {
  const { dir, cleanup } = await tempDir();
  const config = parseConfig({ spool: join(dir, 'spool'), tree: join(dir, 'tree'), countries: ['uk'], fsync: false, canary: { intervalMinutes: 1, deadlineMinutes: 5 } });
  let now = T0 + 1_000;
  const log = pino({ level: 'silent' });
  const observer = { canaryArrived: () => {}, canaryFailed: () => {} };
  const runners = [0, 1].map(() => new CanaryRunner({ config, spool: new Spool({ root: config.spool, fsync: false, staleMs: 4_000, clock: () => now }), clock: () => now, log, observer, origin: 'http://127.0.0.1:9464' }));
  try {
    for (let minute = 0; minute < 4; minute++) {
      now = T0 + minute * 60_000 + 1_000;
      await Promise.all(runners.map((r) => r.tick()));
      await Promise.all(runners.map((r) => r.tick())); // a second look within the interval sends nothing
    }
    const batches = (await readdir(stateDir(config.spool, 'incoming', 'zz'))).filter((n) => n.endsWith('.urls'));
    const records = await readRecords(config.spool);
    assert.is(records.length, 4, 'one per interval');
    assert.is(batches.length, 4);
    assert.equal(new Set(records.map((r) => r.slot)).size, 4);
    for (const r of records) {
      assert.ok(batches.includes(`canary-${r.id}.urls`));
      assert.is(r.hash, hashForUrl(r.url), 'a URL of its own, never in the tree already');
    }
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
    await cleanup();
  }
});

test("a canary whose sender died is taken over and decided once; one whose job is busy is removed once it is free", async () => {
  const { dir, cleanup } = await tempDir();
  const config = parseConfig({ spool: join(dir, 'spool'), tree: join(dir, 'tree'), countries: ['uk'], fsync: false, canary: { intervalMinutes: 60, deadlineMinutes: 1 } });
  let now = T0;
  const spool = new Spool({ root: config.spool, fsync: false, staleMs: 4_000, clock: () => now });
  const failed: string[] = [];
  const observer = { canaryArrived: () => {}, canaryFailed: (stage: string, target: string) => void failed.push(`${stage}@${target}`) };
  const runner = new CanaryRunner({ config, spool, clock: () => now, log: pino({ level: 'silent' }), observer, origin: 'http://127.0.0.1:9464' });
  // a record of an engine of this host that is gone (no such pid), and one of a live engine (this process)
  const orphan = record({ slot: Math.floor(T0 / 3_600_000) - 1, by: `${SELF.host}~999999999` });
  const alive = record({ slot: Math.floor(T0 / 3_600_000) - 2, id: 'fedcba9876543210', hash: 'c'.repeat(32), by: ownerTag(SELF) });
  for (const r of [orphan, alive]) await claimSlot(spool.writer, spool.root, r);
  // its job is being worked on by someone: it cannot be removed yet
  const busy = await new Spool({ root: config.spool, fsync: false, staleMs: 4_000 }).claimJob('zz', orphan.hash);
  assert.ok(busy);
  try {
    now = T0 + 61_000; // past the orphan's deadline
    await runner.start();
    await runner.tick();
    const slotOf = async (slot: number): Promise<CanaryRecord | undefined> => (await readRecords(config.spool)).find((r) => r.slot === slot);
    assert.equal(failed, ['intake@local'], 'decided and counted once');
    assert.is((await slotOf(orphan.slot))?.result?.ok, false);
    assert.not.ok((await slotOf(orphan.slot))?.purged, 'not removed while its job is claimed');
    await runner.tick();
    assert.equal(failed, ['intake@local'], 'not decided again');
    await busy.release();
    await runner.tick();
    assert.ok((await slotOf(orphan.slot))?.purged, 'removed once free');
    assert.is((await slotOf(alive.slot))?.result, undefined, "a live engine's canary is left to it");
    assert.equal(failed, ['intake@local']);
  } finally {
    await runner.stop();
    await cleanup();
  }
});

test('a target is listed (with rsync) only once a sweep of it finished since its last listing', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spool = join(dir, 'spool');
    const tree = join(dir, 'tree');
    const target = { name: 'n1', dest: join(dir, 'n1') };
    const r = record({ hash: hashForUrl('http://127.0.0.1:9464/canary/1-0123456789abcdef.png') });
    const manifest = { version: 1, url: r.url, hash: r.hash, country: 'zz', sizes: [], source: { width: 1, height: 1, format: 'png', bytes: 1 }, digest: `sha256:${'b'.repeat(64)}`, processing: { quality: 75, sharpen: 0, gamma: 0, background: '#ffffff', effort: 2 }, createdAt: new Date(Date.now() - 10_000).toISOString() };
    for (const root of [tree, target.dest]) {
      await mkdir(dirname(manifestPath(root, 'zz', r.hash)), { recursive: true });
      await writeFile(manifestPath(root, 'zz', r.hash), JSON.stringify(manifest));
    }
    const lister = new RsyncLister();
    const context = { spool, jobs: new Spool({ root: spool, fsync: false, staleMs: 4_000 }), tree, rsync: { rsync: 'rsync', timeoutSeconds: 10, connectTimeoutSeconds: 5, bwlimitKiB: 0 }, lister };
    const listed = new Map<string, Listing>();
    const first = await probe(context, r, [target], listed);
    assert.equal(first.targets.n1, { found: false, why: 'no sweep of n1 finished since the canary was made (is imagesys sweep in cron?)' }, 'there, but no sweep since: not listed');
    await mkdir(dirname(targetStatusPath(spool, 'n1')), { recursive: true });
    await writeFile(targetStatusPath(spool, 'n1'), '{}');
    assert.equal((await probe(context, r, [target], listed)).targets.n1, { found: true }, 'a sweep finished: listed, and found');
    await rm(manifestPath(target.dest, 'zz', r.hash));
    const gone = await probe(context, r, [target], listed);
    assert.equal(gone.targets.n1, { found: false, why: 'not there yet' });
    assert.is(listed.get('n1')?.why, 'not there yet', 'the last listing is kept');
    lister.close();
  } finally {
    await cleanup();
  }
});

test("listings run from one shell: each run's code and output, odd words intact, a hung one killed, the shell started again", async () => {
  assert.is(shellWord("it's"), `'it'\\''s'`);
  assert.is(shellLine('rsync', ['-e', 'ssh -o X=1'], 'M'), `'rsync' '-e' 'ssh -o X=1' </dev/null 2>&1; printf '\\n%s %d\\n' 'M' "$?"\n`);
  const lister = new RsyncLister();
  try {
    const odd = "a b'c\"$(touch /tmp/never)`x`";
    const echoed = await lister.run('printf', ['%s|%s', odd, 'two'], 5_000);
    assert.equal([echoed.code, echoed.stdout], [0, `${odd}|two`]);
    const failed = await lister.run('sh', ['-c', 'echo nope >&2; exit 23'], 5_000);
    assert.equal([failed.code, failed.stdout.trim()], [23, 'nope']);
    const [a, b] = await Promise.all([lister.run('echo', ['one'], 5_000), lister.run('echo', ['two'], 5_000)]);
    assert.equal([a.stdout.trim(), b.stdout.trim()], ['one', 'two'], 'one at a time, each its own output');
    const hung = await lister.run('sleep', ['30'], 300);
    assert.is(hung.code, null);
    assert.match(hung.stderr, /killed after 300 ms/);
    assert.equal((await lister.run('echo', ['again'], 5_000)).stdout.trim(), 'again', 'a new shell after the kill');
  } finally {
    lister.close();
  }
  assert.is((await lister.run('echo', ['late'], 5_000)).code, null, 'closed: nothing runs');
});

const downloadOptions: DownloadOptions = { concurrency: 4, perHost: 2, connectTimeoutMs: 2000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, totalTimeoutMs: 5000, maxBytes: 2_000_000, maxRedirects: 3, userAgent: 'ImageSys-test', allow: [], perHostRate: 0, proxy: 'none' };

async function outcome(downloader: Downloader, url: string, hooks: { canary?: boolean } = {}): Promise<string> {
  try {
    await downloader.download(url, undefined, hooks);
    return 'downloaded';
  } catch (error) {
    assert.instance(error, ImageSysError);
    return (error as ImageSysError).code;
  }
}

test("SSRF guard: the canary's one exception is its source's address and port, for a canary job's canary path, on the first hop, never through a proxy", async () => {
  const id = '00112233aabbccdd';
  const path = canaryPath({ slot: 7, id });
  const routes = new Map<string, Route>([[path, { kind: 'image', bytes: canaryImage(id), contentType: 'image/png' }]]);
  const server = await startSourceServer(routes);
  const other = await startSourceServer(new Map(routes));
  routes.set('/metrics', { kind: 'image', bytes: canaryImage(id) });
  const redirecting = canaryPath({ slot: 8, id: 'ffffffffffffffff' });
  routes.set(redirecting, { kind: 'redirect', location: server.url(path) });
  const canary = { canary: true };
  // a proxy that refuses every connection: a request sent through it fails
  const proxied = new Downloader({ ...downloadOptions, proxy: `http://127.0.0.1:${await freePort()}` });
  const downloader = new Downloader(downloadOptions);
  for (const d of [downloader, proxied]) d.allowCanaryFrom(server.base);
  try {
    assert.is(await outcome(downloader, server.url(path), canary), 'downloaded');
    assert.is(await outcome(proxied, server.url(path), canary), 'downloaded', 'directly, not through the proxy');
    assert.is(await outcome(downloader, server.url(path)), 'blocked_address', 'a job that is not a canary');
    assert.is(await outcome(downloader, server.url('/metrics'), canary), 'blocked_address', 'another path of the same server');
    assert.is(await outcome(downloader, `${server.url(path)}?x=1`, canary), 'blocked_address', 'with a query');
    assert.is(await outcome(downloader, other.url(path), canary), 'blocked_address', 'another port');
    assert.is(await outcome(downloader, server.url(redirecting), canary), 'blocked_address', 'a redirect, even to a canary');
    assert.is(await outcome(new Downloader(downloadOptions), server.url(path), canary), 'blocked_address', 'no exception unless given');
    assert.is(server.hits.get('/metrics') ?? 0, 0);
  } finally {
    await Promise.all([downloader.close(), proxied.close()]);
    await Promise.all([server.close(), other.close()]);
  }
});

test('config: the canary keys, checked by name; its country is its own', () => {
  const config = parseConfig({});
  assert.equal(config.canary, { intervalMinutes: 10, deadlineMinutes: 15, country: 'zz', source: 'self' });
  assert.equal(defaultCountries(config).at(-1), 'zz', 'the daemon and the sweeper take it on by themselves');
  assert.not.ok(defaultCountries(parseConfig({ canary: { intervalMinutes: 0 } })).includes('zz'), 'not when canaries are off');
  assert.is(parseConfig({ canary: { source: 'http://10.0.0.5:9464/' } }).canary.source, 'http://10.0.0.5:9464');
  const refused = (raw: unknown): string => {
    try {
      parseConfig(raw);
      return 'accepted';
    } catch (error) {
      assert.instance(error, ConfigError);
      return (error as ConfigError).message;
    }
  };
  assert.match(refused({ canary: { country: 'uk' } }), /expected a country not listed in countries .* for canary\.country/);
  assert.match(refused({ canary: { source: 'http://frontend.example:9464' } }), /expected "self" or the http:\/\/address:port of an ImageSys daemon for canary\.source/);
  assert.match(refused({ canary: { source: 'http://127.0.0.1:9464/canary' } }), /for canary\.source/);
  assert.match(refused({ canary: { intervalMinutes: -1 } }), /for canary\.intervalMinutes/);
  assert.match(refused({ canary: { every: 5 } }), /canary\.every/);
});

test('the Interface never serves a canary', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const tree = join(dir, 'tree');
    const url = 'http://127.0.0.1:9464/canary/0123456789abcdef.png';
    const hash = hashForUrl(url);
    const manifest = {
      version: 1, url, hash, country: 'zz', datasource: 'imagesys-canary', class: 'canary', humanClassified: false,
      sizes: [{ name: 'thumb', format: 'webp', width: 120, height: 90, bytes: 10, path: `zz/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}.thumb.webp`, quality: 75 }],
      source: { width: 640, height: 480, format: 'png', bytes: 1000 }, digest: `sha256:${'b'.repeat(64)}`, phash: '0'.repeat(16),
      processing: { quality: 75, sharpen: 0, gamma: 0, background: '#ffffff', effort: 2 }, createdAt: at(0),
    };
    const path = manifestPath(tree, 'zz', hash);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(manifest));
    const location = { tree, baseUrl: 'https://img.example.com' };
    assert.is(await thumbnailsForHash(location, 'zz', hash), undefined);
    assert.equal(await thumbnailsForUrls(location, 'zz', [url]), [undefined]);
    // the same manifest as a photo would be served: it is the class that keeps it out
    await writeFile(path, JSON.stringify({ ...manifest, class: 'photo' }));
    assert.is((await thumbnailsForHash(location, 'zz', hash))?.hash, hash);
  } finally {
    await cleanup();
  }
});

test.run();

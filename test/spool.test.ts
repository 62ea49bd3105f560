import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_CONFIG } from '../engine/config/config.js';
import { hashForUrl } from '../engine/core/hash.js';
import { buildManifest } from '../engine/job/manifest.js';
import { treeToucher } from '../engine/tree/tree.js';
import { AtomicWriter } from '../spool/atomic.js';
import { enqueueUrl, ingestBatch } from '../spool/intake.js';
import { ABANDONED_TMP_MS, removeOrphanOriginals, removeStaleLocks, removeStrayTemporaries } from '../spool/recovery.js';
import { SELF } from '../spool/owner.js';
import { markerPath } from '../spool/layout.js';
import { Spool } from '../spool/spool.js';
import { WriteThread } from '../spool/write-thread.js';
import { tempDir } from './support/temp.js';

const makeSpool = (root: string): Spool => new Spool({ root, fsync: true, staleMs: 2000 });

/** The writers' two ways: calls on this thread, or one message per write to the daemon's write thread. */
const WAYS = [
  { way: 'on the event loop', thread: () => undefined },
  { way: 'through a write thread', thread: () => new WriteThread() },
] as const;

for (const { way, thread: makeThread } of WAYS) {
  test(`atomic writes leave no temporary behind and replace whole files (${way})`, async () => {
    const { dir, cleanup } = await tempDir();
    const thread = makeThread();
    try {
      const writer = new AtomicWriter(join(dir, '.tmp'), true, thread);
      const target = join(dir, 'a', 'b', 'file.txt');
      await writer.write(target, 'first');
      await writer.write(target, 'second');
      assert.is(await readFile(target, 'utf8'), 'second');
      assert.equal(await readdir(join(dir, '.tmp')), []);
      assert.match(writer.tmpPath(target), new RegExp(`${SELF.host}~${SELF.pid}~[0-9a-f]{12}~file\\.txt$`));
      // a missing file is told by its code, whichever thread met it
      const moved = await writer.move(join(dir, 'nothing'), join(dir, 'elsewhere')).then(() => 'moved', (error: unknown) => (error as NodeJS.ErrnoException).code);
      assert.is(moved, 'ENOENT');
      const replaced = await writer.write(join(dir, 'a', 'none.txt'), 'x', { mustExist: true }).then(() => 'written', (error: unknown) => (error as NodeJS.ErrnoException).code);
      assert.is(replaced, 'ENOENT', 'mustExist refuses to create');
    } finally {
      await thread?.close();
      await cleanup();
    }
  });

  test(`writeAllThen writes the last file only after the others, and not at all when asked to stop (${way})`, async () => {
    const { dir, cleanup } = await tempDir();
    const thread = makeThread();
    try {
      for (const fsync of [true, false]) {
        const writer = new AtomicWriter(join(dir, '.tmp'), fsync, thread);
        const image = join(dir, `tree-${fsync}`, 'ab', 'cd');
        const files = ['x.thumb.webp', 'x.large.webp'].map((name, i) => ({ path: join(image, name), data: new Uint8Array([i, 1, 2]) }));
        let seen: string[] = [];
        await writer.writeAllThen(files, () => {
          seen = readdirSync(image).sort();
          return { path: join(image, 'x.json'), data: '{"sizes":2}\n' };
        });
        assert.equal(seen, ['x.large.webp', 'x.thumb.webp'], 'the files are in place when the last one is made');
        assert.is(await readFile(join(image, 'x.json'), 'utf8'), '{"sizes":2}\n');
        assert.equal([...(await readFile(join(image, 'x.large.webp')))], [1, 1, 2]);
        // a claim lost in between: the files stay, the last one is never written, no temporary is left
        const again = join(dir, `tree-${fsync}`, 'ef', '01');
        await writer
          .writeAllThen([{ path: join(again, 'y.thumb.webp'), data: 'y' }], () => {
            throw new Error('claim lost');
          })
          .then(
            () => assert.unreachable('should have thrown'),
            (error: unknown) => assert.is((error as Error).message, 'claim lost'),
          );
        assert.equal(readdirSync(again), ['y.thumb.webp']);
        // the last file in another directory than the others
        await writer.writeAllThen([{ path: join(again, 'z.thumb.webp'), data: 'z' }], () => ({ path: join(dir, `tree-${fsync}`, 'z.json'), data: 'z' }));
        assert.is(await readFile(join(dir, `tree-${fsync}`, 'z.json'), 'utf8'), 'z');
        assert.equal(await readdir(join(dir, '.tmp')), []);
      }
    } finally {
      await thread?.close();
      await cleanup();
    }
  });
}

test('recovery removes temporaries of dead writers, keeps live ones until they are abandoned', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const tmp = join(dir, '.tmp');
    await mkdir(tmp);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    await writeFile(join(tmp, `${SELF.host}~${dead}~abc~x.job`), 'partial');
    await writeFile(join(tmp, `${SELF.host}~${process.pid}~abc~y.job`), 'in progress');
    await writeFile(join(tmp, `otherhost~1~abc~z.job`), 'elsewhere, recent');
    await writeFile(join(tmp, `otherhost~2~abc~old.job`), 'elsewhere, abandoned');
    const old = new Date(Date.now() - ABANDONED_TMP_MS - 60_000);
    await utimes(join(tmp, `otherhost~2~abc~old.job`), old, old);
    assert.is(await removeStrayTemporaries(tmp, Date.now()), 2);
    assert.equal((await readdir(tmp)).sort(), [`${SELF.host}~${process.pid}~abc~y.job`, 'otherhost~1~abc~z.job'].sort());
  } finally {
    await cleanup();
  }
});

test('recovery removes originals whose job has left downloaded/', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spool = makeSpool(dir);
    await spool.ensureLayout(['uk']);
    const kept = hashForUrl('http://example.com/kept.jpg');
    const orphan = hashForUrl('http://example.com/orphan.jpg');
    await writeFile(spool.originalPath('uk', kept), 'bytes');
    await writeFile(spool.jobPath('downloaded', 'uk', kept), '{"url":"http://example.com/kept.jpg"}');
    await writeFile(spool.originalPath('uk', orphan), 'bytes');
    assert.is(await removeOrphanOriginals(dir, 'uk'), 1);
    assert.equal((await readdir(join(dir, 'downloaded', 'uk'))).sort(), [`${kept}.job`, `${kept}.orig`].sort());
  } finally {
    await cleanup();
  }
});

test('a batch becomes one job per URL; duplicates, invalid lines and images in the tree are handled', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spool = makeSpool(join(dir, 'spool'));
    const tree = join(dir, 'tree');
    await spool.ensureLayout(['uk']);
    // an image already in the tree (a manifest listing no files is enough to count as present)
    const present = 'http://example.com/present.jpg';
    const presentHash = hashForUrl(present);
    const manifestDir = join(tree, 'uk', presentHash.slice(0, 2), presentHash.slice(2, 4));
    await mkdir(manifestDir, { recursive: true });
    const job = { url: present, hash: presentHash, country: 'uk', attempts: 0, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' };
    const listed = buildManifest(job, [], { width: 1, height: 1, format: 'jpeg' }, { bytes: 1, sha256: '00' }, DEFAULT_CONFIG.thumbnails.process, new Date());
    await writeFile(join(manifestDir, `${presentHash}.json`), JSON.stringify(listed));
    const old = new Date(Date.now() - 86400_000 * 30);
    await utimes(join(manifestDir, `${presentHash}.json`), old, old);

    const lines = ['http://example.com/a.jpg\t16', 'http://example.com/b.jpg', '', '# comment', 'http://example.com/a.jpg', 'ftp://example.com/c.jpg', present];
    await writeFile(join(dir, 'spool', 'incoming', 'uk', 'feed.urls'), lines.join('\n'));
    const result = await ingestBatch(spool, treeToucher(tree), 'uk', 'feed.urls');
    assert.equal(result!.counts, { queued: 2, duplicate: 1, in_tree: 1, invalid: 1, invalid_again: 0, busy: 0 });
    const incoming = (await readdir(join(dir, 'spool', 'incoming', 'uk'))).sort();
    assert.equal(incoming, [`${hashForUrl('http://example.com/a.jpg')}.job`, `${hashForUrl('http://example.com/b.jpg')}.job`].sort(), 'the batch is gone, the jobs are there');
    const a = await spool.readJob('incoming', 'uk', hashForUrl('http://example.com/a.jpg'));
    assert.is(a!.datasource, '16');
    const failed = await readdir(join(dir, 'spool', 'failed', 'uk'));
    assert.is(failed.length, 1);
    const invalid = JSON.parse(await readFile(join(dir, 'spool', 'failed', 'uk', failed[0]!), 'utf8')) as { errorCode: string; url: string };
    assert.equal([invalid.errorCode, invalid.url], ['invalid_url', 'ftp://example.com/c.jpg']);
    assert.ok((await stat(join(manifestDir, `${presentHash}.json`))).mtimeMs > Date.now() - 60_000, 'present image touched');

    // the same batch again (a crash before it was removed): nothing new
    await writeFile(join(dir, 'spool', 'incoming', 'uk', 'feed.urls'), lines.join('\n'));
    const again = await ingestBatch(spool, treeToucher(tree), 'uk', 'feed.urls');
    assert.equal(again!.counts, { queued: 0, duplicate: 3, in_tree: 1, invalid: 0, invalid_again: 1, busy: 0 });
  } finally {
    await cleanup();
  }
});

test('a job held by a claim cannot be claimed twice, and can once released', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spool = makeSpool(dir);
    const first = await spool.claimJob('uk', 'abc');
    assert.ok(first);
    assert.is(await spool.claimJob('uk', 'abc'), undefined);
    const enqueued = await enqueueUrl(spool, treeToucher(join(dir, 'tree')), { url: 'http://example.com/z.jpg', country: 'uk' });
    assert.is(enqueued.outcome, 'queued');
    await first.release();
    const second = await spool.claimJob('uk', 'abc');
    assert.ok(second);
    await second.release();
  } finally {
    await cleanup();
  }
});

test('intake asks the tree it is given: an image there is touched and recorded, not queued', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const at = Date.parse('2026-06-01T12:00:00.000Z');
    const spool = new Spool({ root: dir, fsync: false, staleMs: 2000, clock: () => at });
    const touched: string[] = [];
    const tree = { touch: (country: string, hash: string, now: Date) => {
        touched.push(`${country}/${hash}@${now.toISOString()}`);
        return Promise.resolve(new Date(at - 86_400_000));
      } };
    const url = 'http://example.com/in-tree.jpg';
    const result = await enqueueUrl(spool, tree, { url, country: 'uk' });
    assert.is(result.outcome, 'in_tree');
    assert.equal(touched, [`uk/${hashForUrl(url)}@2026-06-01T12:00:00.000Z`]);
    assert.is(await spool.findJob('uk', hashForUrl(url)), undefined);
    assert.ok(await stat(markerPath(dir, '2026-06-01', 'uk', hashForUrl(url))), 'recorded in the expiry index for the day of the clock');
  } finally {
    await cleanup();
  }
});

test('a batch that grows while it is read stays for the next read; a half-written last line waits', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spool = makeSpool(join(dir, 'spool'));
    await spool.ensureLayout(['uk']);
    const path = join(dir, 'spool', 'incoming', 'uk', 'feed.urls');
    await writeFile(path, 'http://example.com/1.jpg\nhttp://example.com/2.jpg\nhttp://example.com/3.j');
    let appended = false;
    const first = await ingestBatch(spool, treeToucher(join(dir, 'tree')), 'uk', 'feed.urls', async () => {
      if (appended) return;
      appended = true;
      await appendFile(path, 'pg\nhttp://example.com/4.jpg');
    });
    assert.is(first!.removed, false, 'kept: it grew');
    assert.is(first!.counts.queued, 2, 'the cut-off last line was not taken');
    const second = await ingestBatch(spool, treeToucher(join(dir, 'tree')), 'uk', 'feed.urls');
    assert.is(second!.removed, true);
    assert.equal(second!.counts, { queued: 2, duplicate: 2, in_tree: 0, invalid: 0, invalid_again: 0, busy: 0 }, 'a last line without a newline counts once the file is complete');
    const jobs = await readdir(join(dir, 'spool', 'incoming', 'uk'));
    assert.equal(jobs.sort(), ['1', '2', '3', '4'].map((n) => `${hashForUrl(`http://example.com/${n}.jpg`)}.job`).sort());
  } finally {
    await cleanup();
  }
});

test('a URL whose claim is held (an intake killed mid-batch) keeps the batch until its job can be made', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spool = makeSpool(join(dir, 'spool'));
    await spool.ensureLayout(['uk']);
    const urls = ['http://a.example/1.jpg', 'http://a.example/2.jpg'];
    await writeFile(join(dir, 'spool', 'incoming', 'uk', 'feed.urls'), `${urls.join('\n')}\n`);
    // the claim a killed intake left on the second URL's job, not stale yet
    const held = await spool.claimJob('uk', hashForUrl(urls[1]!));
    assert.ok(held);
    const first = await ingestBatch(spool, treeToucher(join(dir, 'tree')), 'uk', 'feed.urls');
    assert.equal(first?.counts, { queued: 1, duplicate: 0, in_tree: 0, invalid: 0, invalid_again: 0, busy: 1 });
    assert.is(first?.removed, false, 'the batch stays: its second URL has no job yet');
    await held.release();
    const second = await ingestBatch(spool, treeToucher(join(dir, 'tree')), 'uk', 'feed.urls');
    assert.equal(second?.counts, { queued: 1, duplicate: 1, in_tree: 0, invalid: 0, invalid_again: 0, busy: 0 });
    assert.is(second?.removed, true);
    assert.equal((await readdir(join(dir, 'spool', 'incoming', 'uk'))).sort(), urls.map((u) => `${hashForUrl(u)}.job`).sort());
  } finally {
    await cleanup();
  }
});

test('stale claims of dead engines are cleaned, live ones kept', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spool = makeSpool(dir);
    const live = await spool.claimJob('uk', 'live');
    await mkdir(join(dir, '.locks', 'uk.dead.lock'));
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, '.locks', 'uk.dead.lock'), old, old);
    assert.is(await removeStaleLocks(join(dir, '.locks'), 2000, Date.now()), 1);
    assert.equal(await readdir(join(dir, '.locks')), ['uk.live.lock']);
    await live!.release();
  } finally {
    await cleanup();
  }
});

test('the expiry index keeps one marker per image, on the day of its last refresh', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spool = makeSpool(dir);
    const hash = hashForUrl('http://example.com/a.jpg');
    const monday = new Date('2026-11-23T10:00:00Z');
    const friday = new Date('2026-11-27T10:00:00Z');
    await spool.expiry.record('uk', hash, monday);
    await spool.expiry.record('uk', hash, friday, monday);
    assert.equal(await readdir(join(dir, '.expiry', '2026-11-23', 'uk')), []);
    assert.equal(await readdir(join(dir, '.expiry', '2026-11-27', 'uk')), [hash]);
    await spool.expiry.record('uk', hash, friday, friday);
    assert.equal(await readdir(join(dir, '.expiry', '2026-11-27', 'uk')), [hash]);
  } finally {
    await cleanup();
  }
});

test("the daemon's spool parks the claim of each job intake makes, for its processor; a plain spool does not; close releases what is parked", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const tree = treeToucher(join(dir, 'tree'));
    const daemon = new Spool({ root: join(dir, 'spool'), fsync: false, staleMs: 10_000, parkClaims: true });
    const url = 'http://example.com/parked.jpg';
    const made = await enqueueUrl(daemon, tree, { url, country: 'uk' });
    assert.is(made.outcome, 'queued');
    assert.is(daemon.claims.parkedCount, 1, 'kept for the processor');
    const byOthers = new Spool({ root: join(dir, 'spool'), fsync: false, staleMs: 10_000 });
    assert.is(await byOthers.claimJob('uk', hashForUrl(url)), undefined, 'and held against everyone else');
    const taken = await daemon.claimJob('uk', hashForUrl(url));
    assert.ok(taken, 'the processor takes it over');
    assert.is(daemon.claims.parkedCount, 0);
    await taken.release();

    const second = await enqueueUrl(daemon, tree, { url: 'http://example.com/left.jpg', country: 'uk' });
    assert.is(second.outcome, 'queued');
    await daemon.close();
    assert.is(daemon.claims.parkedCount, 0);
    assert.ok(await byOthers.claimJob('uk', hashForUrl('http://example.com/left.jpg')), 'released when the daemon closes its spool');

    // `imagesys enqueue` does not work on its jobs: nothing parked
    const plain = await enqueueUrl(byOthers, tree, { url: 'http://example.com/plain.jpg', country: 'uk' });
    assert.is(plain.outcome, 'queued');
    assert.is(byOthers.claims.parkedCount, 0);
    assert.ok(await daemon.claimJob('uk', hashForUrl('http://example.com/plain.jpg')));
  } finally {
    await cleanup();
  }
});

test.run();

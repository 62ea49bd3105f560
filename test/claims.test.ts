/**
 * Claims on a real spool directory: refresh, takeover by the file system's time, fencing, the
 * takeover race. Several registries in one process stand for several engines (the skewed clocks of
 * real processes are in skew.test.ts).
 */
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClaimLost, ClaimRegistry, holdsAlone, removeLock, verifyHeld } from '../spool/claims.js';
import { FsTime } from '../spool/fs-time.js';
import { tempDir } from './support/temp.js';
import { clockAdvice, clockLevel, ClockOffsetWatch } from '../engine/health/clock-offset.js';
import { formatClockOffset } from '../engine/observe/format.js';
import pino from 'pino';

const STALE_MS = 800;

test('the file system time: a probe file stamped by it, carried forward between probes', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // a clock an hour ahead changes the offset it reports, never the time it gives
    const ahead = new FsTime(join(dir, '.tmp'), () => Date.now() + 3_600_000);
    const reading = await ahead.probe();
    assert.ok(Math.abs(reading.offsetMs + 3_600_000) < 1_000, `offset ${reading.offsetMs}`);
    const touched = join(dir, 'f');
    await mkdir(touched);
    const fsNow = await ahead.now();
    assert.ok(Math.abs(fsNow - (await stat(touched)).mtimeMs) < 1_000, 'the file system time, not the skewed clock');
    assert.equal(await readdir(join(dir, '.tmp')), [], 'no probe file left behind');
  } finally {
    await cleanup();
  }
});

test('a refreshed claim is never taken over; one whose holder stopped refreshing is, once stale', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const locks = join(dir, '.locks');
    const a = new ClaimRegistry(locks, STALE_MS, new FsTime(join(dir, '.tmp')));
    const b = new ClaimRegistry(locks, STALE_MS, new FsTime(join(dir, '.tmp')));
    const held = await a.tryClaim('uk.live');
    assert.ok(held);
    await sleep(STALE_MS * 2.5);
    assert.is(await b.tryClaim('uk.live'), undefined, 'refreshed by its holder: still held');
    await held.verify();
    // a holder that hung: its lock's mtime stops; pushed back here to stand for the time passing
    const old = new Date(Date.now() - 10 * STALE_MS);
    await utimes(join(locks, 'uk.live.lock'), old, old);
    const taken = await b.tryClaim('uk.live');
    assert.ok(taken, 'stale: taken over');
    // fencing: the old holder finds out before it moves anything
    try {
      await verifyHeld(held);
      assert.unreachable('the old holder must not verify');
    } catch (error) {
      assert.instance(error, ClaimLost);
    }
    assert.ok(held.lost);
    await held.release(); // lets go without touching the new holder's lock
    await taken.verify();
    assert.equal((await readdir(join(locks, 'uk.live.lock'))).length, 1);
    await taken.release();
    assert.equal(await readdir(locks), []);
  } finally {
    await cleanup();
  }
});

test('a lock left empty (an older version, or a crash before its token) is taken over once stale', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const locks = join(dir, '.locks');
    await mkdir(join(locks, 'uk.old.lock'), { recursive: true });
    const registry = new ClaimRegistry(locks, STALE_MS, new FsTime(join(dir, '.tmp')));
    assert.is(await registry.tryClaim('uk.old'), undefined, 'fresh: held');
    const old = new Date(Date.now() - 10 * STALE_MS);
    await utimes(join(locks, 'uk.old.lock'), old, old);
    const claim = await registry.tryClaim('uk.old');
    assert.ok(claim);
    await claim.release();
  } finally {
    await cleanup();
  }
});

test('a takeover that finds a fresh lock where the stale one was puts it back', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const locks = join(dir, '.locks');
    const registry = new ClaimRegistry(locks, STALE_MS, new FsTime(join(dir, '.tmp')));
    const fresh = await registry.tryClaim('uk.race');
    assert.ok(fresh);
    const path = join(locks, 'uk.race.lock');
    // a slower taker judged the previous (stale) lock: another inode, another token
    const removed = await removeLock(path, { ino: (await stat(path)).ino + 1, token: 'otherhost~1~abc' });
    assert.is(removed, false);
    await fresh.verify(); // still there, still its holder's
    assert.equal(await readdir(locks), ['uk.race.lock']);
    await fresh.release();
  } finally {
    await cleanup();
  }
});

test('the clock offset: its level against the bounds, the advice, and a start refused past the larger one', async () => {
  assert.is(clockLevel(1_500, 10, 2_000, 300_000), 'ok');
  assert.is(clockLevel(-40_000, 10, 2_000, 300_000), 'warn');
  assert.is(clockLevel(2_005, 10, 2_000, 300_000), 'ok', 'within the probe\'s uncertainty: given the benefit');
  assert.is(clockLevel(-3_600_000, 10, 2_000, 300_000), 'refuse');
  assert.match(clockAdvice(-3_600_000, '/srv/spool'), /3600\.0 s ahead of the spool's file system \(\/srv\/spool\): synchronise .* NTP/);
  assert.match(clockAdvice(40_000, '/srv/spool'), /40\.0 s behind/);
  assert.is(formatClockOffset(-40_000), "clock 40s ahead of the spool's");
  assert.is(formatClockOffset(1_234), "clock 1.234 s behind the spool's");
  const { dir, cleanup } = await tempDir();
  try {
    const log = pino({ level: 'silent' });
    const ahead = new ClockOffsetWatch({ fsTime: new FsTime(dir, () => Date.now() + 3_600_000), spool: dir, warnMs: 2_000, refuseMs: 300_000, log });
    try {
      await ahead.checkAtStart();
      assert.unreachable('an hour ahead must not start');
    } catch (error) {
      assert.is((error as { code?: string }).code, 'ERR_IMAGESYS_CLOCK');
      assert.match((error as Error).message, /NTP/);
    }
    const near = new ClockOffsetWatch({ fsTime: new FsTime(dir), spool: dir, warnMs: 2_000, refuseMs: 300_000, log });
    assert.is((await near.checkAtStart())?.level, 'ok');
    assert.ok(Math.abs(near.current!.offsetMs) < 1_000);
  } finally {
    await cleanup();
  }
});

test('a token written beside another taker\'s (a lock swapped under two takeovers) does not hold the claim', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const lock = join(dir, 'k.lock');
    await mkdir(lock);
    const ours = 'host~1~aaaaaaaaaaaa';
    await writeFile(join(lock, `${ours}.a`), '');
    assert.ok(await holdsAlone(lock, ours), 'our token alone');
    await writeFile(join(lock, 'other~2~bbbbbbbbbbbb.b'), '');
    assert.not.ok(await holdsAlone(lock, ours), 'another taker wrote first: we let go');
    assert.not.ok(await holdsAlone(lock, 'host~1~cccccccccccc'), 'ours is not there');
    assert.not.ok(await holdsAlone(join(dir, 'gone.lock'), ours), 'no lock at all');
  } finally {
    await cleanup();
  }
});

test('a parked claim is handed to the next taker in its process, held against others meanwhile, and released if nobody comes', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const locks = join(dir, '.locks');
    // parked until shortly before the first refresh: 500 ms for this stale period, less a margin
    const PARKED_AT_MOST_MS = 500;
    const engine = new ClaimRegistry(locks, 1_600, undefined, { park: true });
    const other = new ClaimRegistry(locks, 1_600);
    const lockOf = (key: string): string => join(locks, `${key}.lock`);
    const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

    const made = await engine.tryClaim('uk.a');
    assert.ok(made);
    const token = await readdir(lockOf('uk.a'));
    await engine.park(made);
    assert.is(engine.parkedCount, 1);
    assert.is(await other.tryClaim('uk.a'), undefined, 'still held for everyone else');
    const taken = await engine.tryClaim('uk.a');
    assert.is(taken, made, 'the same claim, handed over');
    assert.equal(await readdir(lockOf('uk.a')), token, 'no lock of its own was made');
    assert.is(engine.parkedCount, 0);
    await taken!.release();
    assert.ok(await other.tryClaim('uk.a'), 'released as usual by its taker');

    // nobody takes it: released after at most PARKED_AT_MOST_MS, and then free for anyone
    const waiting = await engine.tryClaim('uk.b');
    await engine.park(waiting!);
    await sleep(PARKED_AT_MOST_MS + 200);
    assert.is(engine.parkedCount, 0);
    assert.not.ok(await exists(lockOf('uk.b')), 'its lock is gone');
    assert.ok(await other.tryClaim('uk.b'));

    // a stopping engine releases what it parked; a registry that does not park releases at once
    const left = await engine.tryClaim('uk.c');
    await engine.park(left!);
    await engine.releaseParked();
    assert.not.ok(await exists(lockOf('uk.c')));
    const plain = await other.tryClaim('uk.d');
    await other.park(plain!);
    assert.is(other.parkedCount, 0);
    assert.not.ok(await exists(lockOf('uk.d')));
  } finally {
    await cleanup();
  }
});

test.run();

/** The scheduler's parts in-process, with an injected clock: no child process, no timers waited on. */
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { Spool } from '../spool/spool.js';
import { parseConfig } from '../engine/config/config.js';
import { NO_OBSERVER } from '../engine/observe/metrics.js';
import { BatchIntake, countedLines, settleDelay } from '../engine/scheduler/batches.js';
import { ArrivalFeeder } from '../engine/scheduler/feeder.js';
import { closedSegments } from '../spool/arrivals.js';
import { dueAfter, BUSY_MARGIN_MS } from '../engine/scheduler/follow-up.js';
import { Queues, type Candidate, type QueueLimits } from '../engine/scheduler/queues.js';
import { Tally } from '../engine/scheduler/tally.js';
import { UnexpectedErrors } from '../engine/scheduler/unexpected.js';
import { ABANDON_AFTER_MS, verdictOn, Watchdog } from '../engine/scheduler/watchdog.js';
import { tempDir } from './support/temp.js';

const LIMITS: QueueLimits = { downloads: 3, thumbnails: 2, perHost: 1, queueLimit: 8 };
const job = (name: string, host?: string, state: Candidate['state'] = 'incoming'): Candidate => (host ? { state, country: 'uk', name, host } : { state, country: 'uk', name });
const names = (list: Candidate[]): string[] => list.map((c) => c.name);

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('queues: downloads start up to the limit, hosts in turn, none beyond its perHost', () => {
  const clock = manualClock();
  const queues = new Queues(LIMITS, clock.now);
  for (let i = 0; i < 3; i++) queues.add(job(`a${i}`, 'a:80'), false);
  queues.add(job('b0', 'b:80'), false);
  queues.add(job('scan0'), false);
  const started = queues.startable('incoming', () => true);
  assert.equal(names(started), ['a0', 'b0', 'scan0'], 'one per host (perHost 1), then the job of unknown host');
  assert.is(queues.inHand('incoming'), 3);
  assert.equal(names(queues.startable('incoming', () => true)), [], 'the download limit is reached');
  queues.finish(started[0]!);
  assert.equal(names(queues.startable('incoming', () => true)), ['a1'], "a's slot is free again");
  assert.equal(names(queues.startable('incoming', () => false)), [], 'nothing starts while the stage may not');
});

test('queues: a candidate is queued once; the queue refuses past its limit; front goes first', () => {
  const queues = new Queues({ ...LIMITS, queueLimit: 2 }, manualClock().now);
  assert.ok(queues.offerNow(job('x')));
  assert.ok(queues.offerNow(job('x')), 'queued already counts as taken');
  assert.is(queues.queued('incoming'), 1);
  assert.ok(queues.offerNow(job('y')));
  assert.not.ok(queues.offerNow(job('z')), 'full');
  const other = new Queues(LIMITS, manualClock().now);
  other.add(job('late', undefined, 'downloaded'), false);
  other.add(job('due', undefined, 'downloaded'), true);
  assert.equal(names(other.startable('downloaded', () => true)), ['due', 'late']);
});

test('queues: a deferred candidate is not offerable before its due time, released at the front after it', () => {
  const clock = manualClock();
  const queued: string[] = [];
  const queues = new Queues(LIMITS, clock.now, (state) => queued.push(state));
  queues.add(job('fresh'), false);
  queues.defer(job('retry'), clock.now() + 5_000);
  assert.not.ok(queues.isOfferable(job('retry')));
  assert.not.ok(queues.add(job('retry'), false), 'a scan that finds it early leaves it');
  assert.equal(names(queues.releaseDue()), [], 'not due yet');
  assert.is(queues.nextWakeMs(), 1_000, 'a drain sleeps at most a second');
  clock.advance(4_980);
  assert.is(queues.nextWakeMs(), 50, 'at least 50 ms');
  clock.advance(20);
  assert.equal(names(queues.releaseDue()), ['retry']);
  assert.is(queues.deferredCount, 0);
  assert.equal(names(queues.startable('incoming', () => true)), ['retry', 'fresh'], 'a due retry was due before what is queued now');
  assert.equal(queued, ['incoming', 'incoming'], 'each queueing is told');
});

test('queues: a host with its share waiting has a full line; thumbnails behind hold downloads', () => {
  const queues = new Queues({ ...LIMITS, perHost: 1, queueLimit: 8 }, manualClock().now);
  assert.is(queues.hostShare(), 4, 'max(4 x perHost, queueLimit / 4)');
  for (let i = 0; i < 4; i++) queues.add(job(`h${i}`, 'h:80'), false);
  assert.ok(queues.hostLineFull(job('h4', 'h:80')));
  assert.not.ok(queues.hostLineFull(job('o0', 'o:80')));
  assert.not.ok(queues.hostLineFull(job('scan')), 'unknown host: no line of its own');
  for (let i = 0; i < 8; i++) queues.add(job(`d${i}`, undefined, 'downloaded'), false);
  assert.ok(queues.thumbnailsBehind());
});

test('queues: an offer says whether it queued; offerNow refuses what is waiting for its due time (so it is logged, not lost)', async () => {
  const clock = manualClock();
  const queues = new Queues(LIMITS, clock.now);
  assert.ok(await queues.offer(job('a'), false));
  assert.not.ok(await queues.offer(job('a'), false), 'known already');
  queues.defer(job('later'), clock.now() + 1_000);
  assert.not.ok(queues.offerNow(job('later')));
  queues.close();
  assert.not.ok(queues.offerNow(job('b')), 'closing');
  assert.not.ok(await queues.offer(job('c'), true));
  assert.ok(queues.isClosed);
});

test('queues: close stops queueing and starting; dropQueued empties the queues; waiting incoming is what a stop journals', async () => {
  const clock = manualClock();
  const queues = new Queues({ ...LIMITS, queueLimit: 1 }, clock.now);
  queues.add(job('q', 'a:80'), false);
  queues.defer(job('later', 'b:80'), clock.now() + 60_000);
  const waiting = queues.offer(job('blocked'), true); // waits for room
  queues.close();
  await waiting;
  assert.not.ok(queues.add(job('after'), false));
  assert.equal(queues.startable('incoming', () => true), []);
  assert.equal(names(queues.waitingIncoming()).sort(), ['later', 'q']);
  queues.dropQueued();
  assert.ok(queues.isEmpty());
});

test('follow-up: retries wait for their backoff, busy claims until they could be stale, paused sources spread', () => {
  const now = 10_000;
  assert.is(dueAfter({ kind: 'retry', until: now + 300, code: 'http_server_error' }, now, 4_000), now + 300);
  assert.is(dueAfter({ kind: 'retry', until: now - 1, code: 'http_server_error' }, now, 4_000), undefined, 'due already: back in the queue at once');
  assert.is(dueAfter({ kind: 'deferred', until: now + 50 }, now, 4_000), now + 50);
  assert.is(dueAfter({ kind: 'busy' }, now, 4_000), now + 4_000 + BUSY_MARGIN_MS, "another engine's claim: look again once it could be stale");
  assert.is(dueAfter({ kind: 'paused', until: now + 1_000 }, now, 4_000, () => 0), now + 1_000);
  assert.is(dueAfter({ kind: 'paused', until: now + 1_000 }, now, 4_000, () => 1), now + 1_100, 'spread over a tenth of the wait');
  for (const kind of ['gone', 'spilled'] as const) assert.is(dueAfter({ kind }, now, 4_000), undefined);
  assert.is(dueAfter({ kind: 'failed', code: 'http_not_found' }, now, 4_000), undefined);
  assert.is(dueAfter({ kind: 'thumbed' }, now, 4_000), undefined);
});

test('watchdog: no progress for stuckMs aborts; waiting for a slot is not stuck; an ignored abort is abandoned', () => {
  const clock = manualClock();
  const stuckMs = 1_000;
  const dog = new Watchdog(stuckMs, clock.now);
  const busy = dog.begin(job('busy'));
  const waiting = dog.begin(job('waiting'));
  dog.progress(waiting, true);
  const aborted: string[] = [];
  const abandoned: string[] = [];
  const check = (): void => dog.check((a) => aborted.push(a.candidate.name), (a) => abandoned.push(a.candidate.name));
  clock.advance(999);
  check();
  assert.equal(aborted, []);
  clock.advance(1);
  check();
  assert.equal(aborted, ['busy'], 'the one waiting for a slot is left alone');
  assert.ok(busy.controller.signal.aborted);
  clock.advance(stuckMs - 1);
  check();
  assert.equal(abandoned, [], 'not yet: min(stuckMs, 30 s) after the abort');
  clock.advance(1);
  check();
  assert.equal(abandoned, ['busy']);
  assert.ok(busy.abandoned);
  check();
  assert.equal(abandoned, ['busy'], 'abandoned once');
  dog.end(busy);
  assert.is(verdictOn({ ...busy, abandoned: false, lastProgress: 0 }, 10 ** 9, 10 ** 8), 'abandon', 'a long stuckMs waits at most 30 s more');
  assert.is(verdictOn({ ...busy, abandoned: false, lastProgress: 0 }, 10 ** 8 + ABANDON_AFTER_MS - 1, 10 ** 8), 'fine');
});

test('batch settling: a batch is read once it stopped changing for settleMs; lines in the tree count at the first reading only', () => {
  assert.is(settleDelay(1_000, 300, 1_100), 200);
  assert.is(settleDelay(1_000, 300, 1_300), 0);
  assert.is(settleDelay(1_000, 300, 5_000), 0);
  const counts = { queued: 3, duplicate: 1, in_tree: 2, invalid: 1, invalid_again: 0, busy: 0 };
  assert.is(countedLines(counts, false), 5);
  assert.is(countedLines(counts, true), 3);
});

test('batch intake: a settled batch becomes jobs, counted once; an unsettled one waits for its time (injected clock)', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const config = parseConfig({ spool: join(dir, 'spool'), tree: join(dir, 'tree'), countries: ['uk'], intake: { settleMs: 60_000 } });
    const spool = new Spool({ root: config.spool, fsync: false, staleMs: config.claims.staleMs });
    await spool.ensureLayout(['uk']);
    const clock = manualClock(Date.parse('2026-12-01T12:00:00Z'));
    const tally = new Tally(NO_OBSERVER, clock.now);
    const fresh: string[] = [];
    let settled = 0;
    const intake = new BatchIntake({ spool, config, clock: clock.now, log: pino({ level: 'silent' }), tally, observer: NO_OBSERVER, takeFresh: (_c, j) => {
        fresh.push(j.url);
        return Promise.resolve();
      }, onSettled: () => settled++ });
    const batch = join(config.spool, 'incoming', 'uk', 'feed.urls');
    await writeFile(batch, 'https://img.example.com/a.jpg\nhttps://img.example.com/b.jpg\tds7\nnot a url\n');
    const mtime = new Date(clock.now() - 1_000); // written a second ago: 59 s to go
    await utimes(batch, mtime, mtime);
    await intake.note('uk', 'feed.urls');
    assert.is(intake.settling, 1, 'waits to settle');
    assert.equal(fresh, []);
    intake.close();
    const again = new BatchIntake({ spool, config, clock: clock.now, log: pino({ level: 'silent' }), tally, observer: NO_OBSERVER, takeFresh: (_c, j) => {
        fresh.push(j.url);
        return Promise.resolve();
      }, onSettled: () => settled++ });
    clock.advance(60_000);
    await again.note('uk', 'feed.urls');
    for (let i = 0; i < 100 && !again.isIdle(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(again.isIdle());
    assert.equal(fresh.sort(), ['https://img.example.com/a.jpg', 'https://img.example.com/b.jpg']);
    assert.is(tally.stats.batches, 1);
    assert.is(tally.stats.failed, 1, 'the invalid line is a job that failed at once');
    assert.equal(tally.stats.failuresByCode, { invalid_url: 1 });
    assert.ok(settled >= 1);
  } finally {
    await cleanup();
  }
});

test('unexpected errors: the file waits 2 s, 4 s ... up to retry.maxMs; after maxAttempts it is left alone', () => {
  const clock = manualClock();
  const errors = new UnexpectedErrors({ maxAttempts: 3, maxMs: 3_000 }, clock.now, pino({ level: 'silent' }));
  const odd = job('odd.job');
  assert.equal(errors.outcomeOf(odd, new Error('EIO')), { kind: 'deferred', until: clock.now() + 2_000 });
  assert.equal(errors.outcomeOf(odd, new Error('EIO')), { kind: 'deferred', until: clock.now() + 3_000 }, 'capped at maxMs');
  assert.not.ok(errors.leftAlone(odd));
  assert.equal(errors.outcomeOf(odd, new Error('EIO')), { kind: 'gone' });
  assert.ok(errors.leftAlone(odd));
  assert.not.ok(errors.leftAlone(job('other.job')), 'counted per file');
});

test('feeder: a segment whose last line the stop turned away stays for the next engine', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const spool = new Spool({ root: join(dir, 'spool'), fsync: false, staleMs: 10_000 });
    await spool.ensureLayout(['uk']);
    await spool.arrivals.append('uk', [{ name: 'a.job', host: 'a:80' }]);
    await spool.arrivals.close(); // the segment is closed: feedable
    assert.is((await closedSegments(spool.root, 'uk')).length, 1);
    const queues = new Queues({ ...LIMITS, queueLimit: 1 }, Date.now);
    queues.add(job('in-the-way'), false); // the queue is full: the feed waits for room
    let stopping = false;
    const feeder = new ArrivalFeeder(spool, ['uk'], queues, () => stopping);
    const feeding = feeder.feed();
    await new Promise((resolve) => setTimeout(resolve, 50));
    stopping = true;
    queues.close();
    await feeding;
    assert.is((await closedSegments(spool.root, 'uk')).length, 1, 'the segment is still there');
    assert.is(queues.queued('incoming'), 1, 'a.job was not queued');
  } finally {
    await cleanup();
  }
});

test.run();

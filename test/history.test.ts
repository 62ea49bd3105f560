import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendHistory, historyDir, MinuteBuckets, processKey, readHistory, slotted, sumSince, type MinuteRecord, type ProcessHistory } from '../engine/observe/history.js';
import { cachedReport } from '../engine/observe/http-server.js';
import { buildReport, formatReport } from '../engine/observe/report.js';
import type { StatusReport } from '../engine/observe/status.js';
import { nextRecord, targetStatus } from '../engine/sweep/target-status.js';
import { tempDir } from './support/temp.js';

const T0 = Date.parse('2026-11-28T10:00:00Z');
const MIN = 60_000;

test('minute buckets: counts land in their minute, finished minutes are taken once, empty ones dropped', () => {
  const buckets = new MinuteBuckets();
  buckets.count('thumbed', T0 + 5_000);
  buckets.count('thumbed', T0 + 59_999);
  buckets.count('failed', T0 + MIN + 1, 'http_not_found');
  buckets.bytes('bytesIn', 1000, T0 + MIN + 2);
  buckets.current(T0 + 3 * MIN); // looking at an idle minute does not create a record
  assert.equal(buckets.current(T0 + MIN + 3).failed, 1);
  assert.equal(buckets.takeFinished(T0 + MIN + 10).map((m) => [m.t, m.thumbed]), [['2026-11-28T10:00:00.000Z', 2]]);
  assert.equal(buckets.takeFinished(T0 + MIN + 10), [], 'the minute in progress stays');
  const rest = buckets.takeFinished(T0 + MIN + 10, true);
  assert.equal(rest.map((m) => [m.t, m.failed, m.bytesIn, m.codes]), [['2026-11-28T10:01:00.000Z', 1, 1000, { http_not_found: 1 }]]);
  buckets.putBack(rest); // the history file could not be written
  buckets.count('failed', T0 + MIN + 4, 'http_not_found');
  assert.equal(buckets.takeFinished(T0 + 2 * MIN).map((m) => [m.t, m.failed, m.codes]), [['2026-11-28T10:01:00.000Z', 2, { http_not_found: 2 }]]);
});

test('slots and sums: idle minutes are zeros, minutes outside the range are left out', () => {
  const minutes: MinuteRecord[] = [
    { t: new Date(T0).toISOString(), thumbed: 3, skipped: 0, failed: 1, retries: 0, bytesIn: 10, bytesOut: 5, codes: { not_image: 1 } },
    { t: new Date(T0 + 2 * MIN).toISOString(), thumbed: 4, skipped: 1, failed: 0, retries: 2, bytesIn: 20, bytesOut: 7, codes: {} },
    { t: new Date(T0 - 10 * MIN).toISOString(), thumbed: 100, skipped: 0, failed: 0, retries: 0, bytesIn: 0, bytesOut: 0, codes: {} },
  ];
  const slots = slotted(minutes, T0, T0 + 3 * MIN, MIN);
  assert.equal(slots.map((s) => s.thumbed), [3, 0, 4]);
  assert.is(sumSince(minutes, T0 + MIN).thumbed, 4);
  assert.is(sumSince(minutes, T0).bytesIn, 30);
});

test('history files: appended per process, read back with the minute in progress, a torn line skipped', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const key = processKey('n1', 4242, T0);
    const m = (at: number, thumbed: number) => ({ t: new Date(at).toISOString(), thumbed, skipped: 0, failed: 0, retries: 0, bytesIn: 0, bytesOut: 0, codes: {} });
    await appendHistory(dir, key, [m(T0, 5), m(T0 + MIN, 6)]);
    await appendHistory(dir, key, []);
    const { appendFile } = await import('node:fs/promises');
    await appendFile(join(historyDir(dir), `${key}.jsonl`), '{"t":"2026-11-28T10:0'); // a crash mid-line
    assert.is((await readFile(join(historyDir(dir), `${key}.jsonl`), 'utf8')).split('\n').length, 3);
    const read = await readHistory(dir, T0, [{ key, minute: m(T0 + 2 * MIN, 7) }, { key, minute: m(T0 + MIN, 6) }], T0 + 3 * MIN);
    assert.is(read.length, 1);
    assert.equal([read[0]!.host, read[0]!.pid, read[0]!.startedAt], ['n1', 4242, new Date(T0).toISOString()]);
    assert.equal(read[0]!.minutes.map((x) => x.thumbed), [5, 6, 7], 'the minute already in the file is not counted twice');
  } finally {
    await cleanup();
  }
});

test('report: per process, per host and per hour; the summary line adds up', () => {
  const minute = (at: number, thumbed: number, failed = 0, codes: Record<string, number> = {}) => ({ t: new Date(at).toISOString(), thumbed, skipped: 0, failed, retries: 0, bytesIn: 0, bytesOut: 0, codes });
  const histories: ProcessHistory[] = [
    { key: 'a~1~0', host: 'a', pid: 1, startedAt: 'x', minutes: [minute(T0, 10), minute(T0 + 30 * MIN, 5, 2, { http_not_found: 2 }), minute(T0 + 61 * MIN, 7)] },
    { key: 'a~2~0', host: 'a', pid: 2, startedAt: 'y', minutes: [minute(T0 + 5 * MIN, 1, 1, { not_image: 1 })] },
    { key: 'b~1~0', host: 'b', pid: 1, startedAt: 'z', minutes: [minute(T0 - 25 * 60 * MIN, 99)] }, // older than 24 h
  ];
  const report = buildReport(histories, T0 + 90 * MIN, 24);
  assert.equal(report.processes.map((p) => [p.process, p.hours.map((h) => h.thumbed), p.total.failed]), [['a~1', [15, 7], 2], ['a~2', [1], 1]]);
  assert.equal(report.hosts.map((h) => [h.host, h.processes, h.hours.map((r) => [r.hour.slice(11, 16), r.thumbed, r.failed])]), [['a', 2, [['10:00', 16, 3], ['11:00', 7, 0]]]]);
  assert.equal(report.total.codes, { http_not_found: 2, not_image: 1 });
  const text = formatReport(report);
  assert.match(text, /process a~1 /);
  assert.match(text, /2026-11-28 10:00 +16 +0 +3 +0 {2}http_not_found 2/);
  assert.is(text.split('\n').at(-1), 'report: 23 thumbed, 0 already in tree, 3 failed, 0 retries by 2 process(es) on 1 host(s) in 24 h (1 images/h)');
  assert.match(formatReport(buildReport([], T0, 24)), /no engine did any work/);
});

test('target records: lag runs from the last level sweep; a sweep that fails keeps it and says why', () => {
  const at = (minutes: number) => new Date(T0 + minutes * MIN);
  const level = nextRecord(undefined, { target: 'n1', handedOutAt: at(0), at: at(1), seconds: 2, sent: 10, deleted: 1, level: true, backlog: 0, seeding: false });
  assert.equal([level.lastLevelAt, level.sentTotal, level.behindTotal, level.lastError], [at(0).toISOString(), 10, 0, undefined]);
  const behind = nextRecord(level, { target: 'n1', handedOutAt: at(10), at: at(11), seconds: 30, sent: 3, deleted: 0, level: false, backlog: 40, error: 'rsync to n1 failed', seeding: false });
  assert.equal([behind.lastLevelAt, behind.sentTotal, behind.behindTotal, behind.backlog, behind.lastError], [at(0).toISOString(), 13, 1, 40, 'rsync to n1 failed']);
  const purgeOnly = nextRecord(behind, { target: 'n1', at: at(20), seconds: 1, sent: 0, deleted: 2, level: true, backlog: 0, seeding: false });
  assert.is(purgeOnly.lastLevelAt, at(0).toISOString(), 'a purge alone hands out nothing new: it does not make the target current');
  assert.equal(targetStatus(behind, T0 + 15 * MIN), { target: 'n1', lagSeconds: 900, backlog: 40, lastLevelAt: at(0).toISOString(), lastAttemptAt: at(11).toISOString(), lastSeconds: 30, lastError: 'rsync to n1 failed', sentTotal: 13, deletedTotal: 1, behindTotal: 1, seeding: false });
  assert.equal(targetStatus({ target: 'n3' }, T0).lagSeconds, null);
});

test('the cached report is made once for many callers and again when it is old', async () => {
  let made = 0;
  const report = cachedReport(async () => {
    made++;
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { at: String(made) } as StatusReport;
  }, 200);
  const [a, b, c] = await Promise.all([report(), report(), report()]);
  assert.equal([a.at, b.at, c.at, made], ['1', '1', '1', 1]);
  assert.is((await report()).at, '1');
  await new Promise((resolve) => setTimeout(resolve, 250));
  assert.is((await report()).at, '1', 'an old report is served at once while a new one is made');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal([(await report()).at, made], ['2', 2]);
});

test('a report that cannot be made leaves the last one in place', async () => {
  let fail = false;
  const errors: unknown[] = [];
  const report = cachedReport(() => (fail ? Promise.reject(new Error('spool unreadable')) : Promise.resolve({ at: 'first' } as StatusReport)), 10, (error) => errors.push(error));
  assert.is((await report()).at, 'first');
  fail = true;
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.is((await report()).at, 'first');
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.is((await report()).at, 'first');
  assert.ok(errors.length >= 1 && (errors[0] as Error).message === 'spool unreadable');
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatStatus, type StatusReport, type ThroughputCounts } from '../engine/observe/status.js';

const zero: ThroughputCounts = { thumbed: 0, skipped: 0, failed: 0, retries: 0, bytesIn: 0, bytesOut: 0 };

function report(overrides: Partial<StatusReport> = {}): StatusReport {
  return {
    spool: '/s', tree: '/t', at: '2026-11-28T12:00:00.000Z',
    counts: { uk: { incoming: 50_000, downloaded: 0, thumbed: 10, failed: 9_000 } },
    totals: { incoming: 50_000, downloaded: 0, thumbed: 10, failed: 9_000 },
    batches: 0,
    oldest: { country: 'uk', state: 'incoming', job: 'a.job', ageSeconds: 4_000 },
    oldestOf: 20_000,
    failures: [{ code: 'http_not_found', count: 5_000, examples: [{ url: 'http://x/1.jpg', error: 'HTTP 404' }] }],
    failuresRead: 5_000,
    disk: [], engines: [], paused: [], downloadsPaused: [],
    targets: [
      { target: 'n1', lagSeconds: 125, backlog: 0, lastLevelAt: '2026-11-28T11:57:55.000Z', lastAttemptAt: '2026-11-28T11:58:00.000Z', lastSeconds: 4, sentTotal: 9, deletedTotal: 0, behindTotal: 0, seeding: false },
      { target: 'n2', lagSeconds: null, backlog: 42, lastLevelAt: null, lastAttemptAt: '2026-11-28T11:58:00.000Z', lastSeconds: 2, lastError: 'rsync to n2 failed', sentTotal: 0, deletedTotal: 0, behindTotal: 3, seeding: false },
    ],
    throughput: { minutes: [], last5Minutes: { ...zero, thumbed: 7 }, lastHour: { ...zero, thumbed: 70, failed: 2, bytesIn: 3 * 1024 * 1024 } },
    latest: [], pages: ['http://127.0.0.1:9464'], refreshSeconds: 10,
    classes: { photo: 120, placeholder: 3, duplicate: 7 },
    canary: [
      { target: 'local', ok: true, droppedAt: '2026-11-28T11:55:00.000Z', seconds: 1.5, timings: { intake: 0.5, download: 0.25, thumbnail: 0.75, sync: {} }, lastSuccessAt: '2026-11-28T11:55:01.500Z' },
      { target: 'n1', ok: true, droppedAt: '2026-11-28T11:55:00.000Z', seconds: 61.5, timings: { intake: 0.5, download: 0.25, thumbnail: 0.75, sync: { n1: 60 } }, lastSuccessAt: '2026-11-28T11:56:01.500Z' },
      { target: 'n2', ok: false, droppedAt: '2026-11-28T11:55:00.000Z', failure: { stage: 'sync', target: 'n2', reason: 'not there yet; the last sweep: rsync to n2 failed' }, timings: { intake: 0.5, download: 0.25, thumbnail: 0.75, sync: { n1: 60 } }, lastSuccessAt: '2026-11-28T11:35:00.000Z' },
    ],
    ...overrides,
  };
}

test('status text: samples are said to be samples, targets show lag or why not, throughput and the page', () => {
  const text = formatStatus(report());
  assert.match(text, /images by class: 120 photo, 3 placeholder, 7 duplicate/);
  assert.match(text, /oldest waiting job: uk\/a\.job in incoming\/, 1h 6m old \(the oldest of 20000 looked at\)/);
  assert.match(text, /top failure reasons \(from 5000 of the 9000 failed jobs\):/);
  assert.match(text, /e\.g\. http:\/\/x\/1\.jpg: HTTP 404/);
  assert.match(text, /throughput: last 5 min 7 thumbed, .*; last hour 70 thumbed, 0 already in tree, 2 failed, 3\.0 MiB downloaded/);
  assert.match(text, /n1 +lag 2m 5s, 0 waiting, last sweep 2026-11-28T11:58:00\.000Z \(4\.0 s\)/);
  assert.match(text, /n2 +never level, 42 waiting, last sweep [^;]+; rsync to n2 failed/);
  assert.match(text, /status page and \/metrics: http:\/\/127\.0\.0\.1:9464/);
  // the last canary per target: its timings where it arrived, where it stopped where it did not
  assert.match(text, /local +ok in 1\.5 s \(intake 0\.5 s, download 0\.3 s, thumbnail 0\.8 s\), sent 5m 0s ago/);
  assert.match(text, /n1 +ok in 61\.5 s \(intake 0\.5 s, download 0\.3 s, thumbnail 0\.8 s, sync 60\.0 s\)/);
  assert.match(text, /n2 +FAILED at sync: not there yet; the last sweep: rsync to n2 failed, sent 5m 0s ago; last arrived 25m 0s ago/);
  assert.not.match(formatStatus(report({ canary: [] })), /canary/);
});

test('status text: a small spool is read whole, and says nothing of samples', () => {
  const text = formatStatus(report({ oldestOf: 50_000, failuresRead: 9_000 }));
  assert.not.match(text, /looked at/);
  assert.match(text, /top failure reasons:\n/);
});

test.run();

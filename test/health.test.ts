import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SourceHealth, sourcesOf } from '../engine/health/health.js';
import { describeLowDisks } from '../engine/health/disk.js';
import { HostPacer } from '../engine/download/pacer.js';

const policy = { windowMs: 10_000, minSamples: 4, failureRate: 0.5, coolOffMs: 1_000, maxCoolOffMs: 3_000 };
const HOST = ['host:a.example:80'];

function fail(health: SourceHealth, n: number, at: number): void {
  for (let i = 0; i < n; i++) health.record(HOST, 'connect_failed', at);
}

test('a source is judged only once the window holds minSamples attempts', () => {
  const health = new SourceHealth(policy);
  fail(health, 3, 0);
  assert.equal(health.admit(HOST, 1), { go: true, probes: [] });
  fail(health, 1, 2);
  assert.equal(health.admit(HOST, 3), { go: false, until: 1_002 });
  assert.is(health.paused(3)[0]?.source, 'host:a.example:80');
  assert.is(health.paused(3)[0]?.lastFailure, 'connect_failed');
});

test('successes keep the rate below the threshold; old failures leave the window', () => {
  const health = new SourceHealth(policy);
  for (let i = 0; i < 4; i++) health.record(HOST, undefined, 0);
  fail(health, 3, 0);
  assert.ok(health.admit(HOST, 1).go, '3 of 7 failed: below one half');
  fail(health, 3, 20_000); // the first failures are out of the window now
  assert.ok(health.admit(HOST, 20_001).go, 'only 3 attempts in the window');
  fail(health, 1, 20_002);
  assert.not.ok(health.admit(HOST, 20_003).go);
});

test('after the cool-off one probe goes; the others wait; a failed probe doubles the pause, up to the ceiling', () => {
  const health = new SourceHealth(policy);
  fail(health, 4, 0);
  assert.equal(health.admit(HOST, 1_000), { go: true, probes: ['host:a.example:80'] });
  assert.equal(health.admit(HOST, 1_001), { go: false, until: 1_501 }, 'a second job waits half a cool-off while the probe is out');
  health.record(HOST, undefined, 1_050); // a late answer to a request made before the pause
  assert.not.ok(health.admit(HOST, 1_060).go, 'is not the probe: the source stays paused');
  health.record(HOST, 'connect_failed', 1_100, HOST);
  assert.equal(health.admit(HOST, 1_200), { go: false, until: 3_100 }, 'paused twice as long');
  assert.ok(health.admit(HOST, 3_100).go);
  health.record(HOST, 'http_server_error', 3_200, HOST);
  assert.equal(health.admit(HOST, 3_300), { go: false, until: 6_200 }, 'the pause stops growing at maxCoolOffMs');
});

test('a successful probe closes the breaker and forgets the strikes', () => {
  const health = new SourceHealth(policy);
  fail(health, 4, 0);
  assert.ok(health.admit(HOST, 1_000).go);
  health.abandonProbes(HOST); // an aborted probe gives no verdict: the next job probes
  assert.equal(health.admit(HOST, 1_010), { go: true, probes: HOST });
  health.record(HOST, undefined, 1_050, HOST);
  assert.equal(health.paused(1_100), []);
  assert.equal(health.admit(HOST, 1_100), { go: true, probes: [] });
  fail(health, 4, 1_200);
  assert.equal(health.admit(HOST, 1_300), { go: false, until: 2_200 }, 'a new pause starts again from coolOffMs');
});

test('a job waits while any of its sources is paused; a healthy source is not held up', () => {
  const health = new SourceHealth(policy);
  const job = sourcesOf('http://a.example/x.jpg', 'uk', '16');
  assert.equal(job, ['host:a.example', 'datasource:uk/16']);
  for (let i = 0; i < 4; i++) health.record(['datasource:uk/16'], 'body_timeout', 0);
  assert.not.ok(health.admit(job, 10).go);
  assert.ok(health.admit(sourcesOf('http://a.example/y.jpg', 'uk', '17'), 10).go);
  health.prune(100_000);
  assert.is(health.paused(100_000).length, 1, 'a paused source is not forgotten');
});

test('low disks are named with their free space and the watermark', () => {
  const disks = [
    { role: 'spool', path: '/s', freeMiB: 10, totalMiB: 100, low: true },
    { role: 'tree', path: '/t', freeMiB: 90, totalMiB: 100, low: false },
  ];
  assert.is(describeLowDisks(disks, 50), 'spool /s has 10 MiB free (watermark 50 MiB): downloads paused');
  assert.is(describeLowDisks([disks[1]!], 50), undefined);
});

test('the pacer spaces request starts per host and leaves other hosts alone', () => {
  const pacer = new HostPacer(4);
  assert.equal([0, 0, 0].map(() => pacer.reserve('a', 1_000)), [0, 250, 500]);
  assert.is(pacer.reserve('b', 1_000), 0);
  assert.is(pacer.reserve('a', 3_000), 0, 'an idle host starts at once');
  assert.is(new HostPacer(0).reserve('a', 0), 0, 'rate 0: no limit');
});

test('a Retry-After pauses the whole source until then; the next job probes it', () => {
  const health = new SourceHealth(policy);
  health.pauseUntil('host:a.example:80', 5_000, 'http_rate_limited', 2_000); // within maxCoolOffMs of the time it was asked
  assert.equal(health.admit(HOST, 100), { go: false, until: 5_000 });
  assert.is(health.paused(100)[0]?.lastFailure, 'http_rate_limited');
  assert.equal(health.admit(HOST, 5_000), { go: true, probes: HOST });
  health.record(HOST, undefined, 5_100, HOST);
  assert.equal(health.paused(5_200), []);
});

test.run();

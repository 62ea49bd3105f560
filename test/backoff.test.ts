import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay } from '../engine/core/backoff.js';

const policy = { baseMs: 1000, maxMs: 60_000, factor: 2, jitter: 0 };

test('doubles from the base and stops at the ceiling', () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, policy));
  assert.equal(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
});

test('jitter spreads the delay around its middle and never passes the ceiling', () => {
  const jittered = { ...policy, jitter: 0.5 };
  assert.is(backoffDelay(3, jittered, () => 0), 2000);
  assert.is(backoffDelay(3, jittered, () => 0.5), 4000);
  assert.is(backoffDelay(3, jittered, () => 0.999999), 6000);
  assert.is(backoffDelay(10, jittered, () => 0.999999), 60_000);
});

test('an outage does not make every job due at once', () => {
  const jittered = { ...policy, jitter: 0.5 };
  const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(4, jittered)));
  assert.ok(delays.size > 40, `only ${delays.size} distinct delays`);
  for (const d of delays) assert.ok(d >= 4000 && d <= 12000, `delay ${d} out of range`);
});

test('a first attempt waits the base delay', () => {
  assert.is(backoffDelay(1, policy), 1000);
  assert.is(backoffDelay(0, policy), 1000);
});

test.run();

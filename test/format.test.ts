import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatAge, formatBytes, formatCount, formatDuration, padLeft, plural, secondsBetween } from '../engine/observe/format.js';

test('bytes: binary units, one decimal above plain bytes', () => {
  assert.is(formatBytes(0), '0 B');
  assert.is(formatBytes(1023), '1023 B');
  assert.is(formatBytes(1024), '1.0 KiB');
  assert.is(formatBytes(3 * 1024 * 1024), '3.0 MiB');
  assert.is(formatBytes(1.5 * 1024 ** 4), '1.5 TiB');
  assert.is(formatBytes(Number.NaN), '0 B');
});

test('durations: rounded, the two largest units, never negative', () => {
  assert.is(formatDuration(0), '0s');
  assert.is(formatDuration(59.4), '59s');
  assert.is(formatDuration(125), '2m 5s');
  assert.is(formatDuration(4_000), '1h 6m');
  assert.is(formatDuration(3 * 86400 + 4 * 3600 + 59), '3d 4h');
  assert.is(formatDuration(-5), '0s');
});

test('ages are measured between two ISO times', () => {
  const at = '2026-11-28T12:00:00.000Z';
  assert.is(secondsBetween('2026-11-28T11:57:55.000Z', at), 125);
  assert.is(formatAge('2026-11-28T11:57:55.000Z', at), '2m 5s ago');
  assert.is(formatAge('2026-11-28T12:00:03.000Z', at), 'in 3s');
  assert.is(formatAge('not a time', at), 'not a time');
});

test('counts, plurals and columns', () => {
  assert.is(formatCount(1234.4), '1234');
  assert.is(formatCount(Number.NaN), '0');
  assert.is(plural(1, 'engine'), '1 engine');
  assert.is(plural(2, 'process', 'processes'), '2 processes');
  assert.is(padLeft(42, 5), '   42');
});

test.run();

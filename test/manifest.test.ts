import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildManifest, latestOf, manifestSizes } from '../engine/job/manifest.js';
import { sizeRelPath } from '../engine/tree/tree.js';
import type { Job } from '../spool/job.js';
import { parseConfig } from '../engine/config/config.js';

const HASH = '0123456789abcdef0123456789abcdef';
const job: Job = { url: 'http://user:secret@images.example/a.jpg', hash: HASH, country: 'uk', attempts: 0, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' };
const outputs = [
  { name: 'thumb', format: 'webp' as const, width: 120, height: 80, quality: 75 },
  { name: 'large', format: 'jpeg' as const, width: 480, height: 320, quality: 41, score: 0.9512 },
];
const processing = parseConfig({}).thumbnails.process;
const at = new Date('2026-06-01T12:00:00.000Z');

test('sizes: each output with its bytes, its path in the tree, its quality and (auto) score', () => {
  const sizes = manifestSizes(job, outputs, (i) => [1000, 5000][i]!);
  assert.equal(sizes, [
    { name: 'thumb', format: 'webp', width: 120, height: 80, bytes: 1000, path: sizeRelPath('uk', HASH, 'thumb', 'webp'), quality: 75 },
    { name: 'large', format: 'jpeg', width: 480, height: 320, bytes: 5000, path: sizeRelPath('uk', HASH, 'large', 'jpeg'), quality: 41, score: 0.9512 },
  ]);
  assert.not.ok('score' in sizes[0]!, 'a score only where one was measured (auto quality)');
  assert.ok(sizes[1]!.path.endsWith('.large.jpg'), 'the extension of the format');
});

test('the manifest: no credentials in its URL, the original described, stamped with the given time', () => {
  const sizes = manifestSizes(job, outputs, () => 10);
  const manifest = buildManifest(job, sizes, { width: 800, height: 600, format: 'jpeg' }, { bytes: 123_456, sha256: 'ab'.repeat(32) }, processing, at);
  assert.equal(manifest, {
    version: 1,
    url: 'http://images.example/a.jpg',
    hash: HASH,
    country: 'uk',
    sizes,
    source: { width: 800, height: 600, format: 'jpeg', bytes: 123_456 },
    digest: `sha256:${'ab'.repeat(32)}`,
    processing,
    createdAt: '2026-06-01T12:00:00.000Z',
  });
});

test('the manifest keeps the datasource and the validators for a conditional GET', () => {
  const withSource: Job = { ...job, datasource: 'feed-a', source: { bytes: 9, format: 'jpeg', etag: '"v1"', lastModified: 'Mon, 01 Jun 2026 10:00:00 GMT' } };
  const manifest = buildManifest(withSource, [], { width: 1, height: 1, format: 'png' }, { bytes: 9, sha256: '00' }, processing, at);
  assert.is(manifest.datasource, 'feed-a');
  assert.equal(manifest.source, { width: 1, height: 1, format: 'png', bytes: 9, etag: '"v1"', lastModified: 'Mon, 01 Jun 2026 10:00:00 GMT' });
});

test('the manifest has no empty optional fields', () => {
  const manifest = buildManifest({ ...job, source: { bytes: 9, format: 'jpeg' } }, [], { width: 1, height: 1, format: 'png' }, { bytes: 9, sha256: '00' }, processing, at);
  assert.not.ok('datasource' in manifest);
  assert.not.ok('etag' in manifest.source);
  assert.not.ok('lastModified' in manifest.source);
});

test('latest: what the status page shows of an image', () => {
  const manifest = buildManifest(job, manifestSizes(job, outputs, () => 10), { width: 800, height: 600, format: 'jpeg' }, { bytes: 1, sha256: '00' }, processing, at);
  assert.equal(latestOf(manifest), {
    country: 'uk',
    hash: HASH,
    url: 'http://images.example/a.jpg',
    at: '2026-06-01T12:00:00.000Z',
    sizes: manifest.sizes.map(({ name, path, width, height }) => ({ name, path, width, height })),
  });
});

test('the manifest carries the placeholder when the pool made one, and none otherwise', () => {
  const placeholder = { thumbhash: 'aCkCDYI+yiqbi4hfV3J1dZxAvAem', dominant: '#c8b898' };
  const withOne = buildManifest(job, [], { width: 1, height: 1, format: 'png' }, { bytes: 9, sha256: '00', placeholder }, processing, at);
  assert.equal(withOne.placeholder, placeholder);
  const without = buildManifest(job, [], { width: 1, height: 1, format: 'png' }, { bytes: 9, sha256: '00' }, processing, at);
  assert.not.ok('placeholder' in without, 'no empty field');
});

test.run();

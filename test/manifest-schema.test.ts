import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../engine/config/config.js';
import { buildManifest, manifestSizes } from '../engine/job/manifest.js';
import { MANIFEST_VERSION, manifestSchema, manifestSchemaPath } from '../engine/interface.js';
import type { Job } from '../spool/job.js';
import { manifestProblems } from './support/manifest-schema.js';
import { tempDir } from './support/temp.js';

const HASH = '880da12b5b5613e4f16bc19fd3060f05';
const job: Job = { url: 'https://photos.example/1.jpg', hash: HASH, country: 'uk', datasource: '16', attempts: 0, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', source: { bytes: 9, format: 'jpeg', etag: '"v1"', lastModified: 'Mon, 01 Jun 2026 10:00:00 GMT' } };
const outputs = [
  { name: 'thumb', format: 'webp' as const, width: 120, height: 80, quality: 41, score: 0.9512 },
  { name: 'large', format: 'avif' as const, width: 480, height: 320, quality: 50, score: 0.96 },
];
const auto = parseConfig({ thumbnails: { process: { quality: 'auto' } } }).thumbnails.process;
const manifest = buildManifest(
  job,
  manifestSizes(job, outputs, () => 1000),
  { width: 800, height: 600, format: 'jpeg' },
  { bytes: 60_000, sha256: 'ab'.repeat(32), placeholder: { thumbhash: 'IAgCBYBoZVuJh4iEiJiIcAAAAAAA', dominant: '#808080' }, phash: '0f3c00ff12345678' },
  auto,
  new Date('2026-06-01T12:00:00.000Z'),
  { class: 'duplicate', humanClassified: false, duplicateOf: { country: 'uk', hash: '0'.repeat(32) } },
);

test('the schema ships beside the Interface, versioned, and is a strict JSON Schema 2020-12', () => {
  assert.ok(existsSync(manifestSchemaPath()), manifestSchemaPath());
  assert.ok(manifestSchemaPath().endsWith('manifest.v1.schema.json'));
  const schema = manifestSchema();
  assert.is(schema.$id, `urn:imagesys:manifest:v${MANIFEST_VERSION}`);
  assert.equal(JSON.parse(readFileSync(manifestSchemaPath(), 'utf8')), schema);
  assert.equal(manifestProblems(manifest), [], 'compiled strictly (ajv strict mode): no unknown keyword');
});

test('manifests as the product builds them validate: fixed and auto quality, with and without the optional fields', () => {
  assert.equal(manifestProblems(manifest), []);
  const fixed = parseConfig({}).thumbnails.process;
  const plain = buildManifest({ ...job, datasource: undefined, source: undefined }, manifestSizes(job, outputs.map(({ score: _score, ...o }) => ({ ...o, quality: 75 })), () => 5), { width: 1, height: 1, format: 'png' }, { bytes: 9, sha256: '00' }, fixed, new Date(0));
  assert.equal(manifestProblems(plain), []);
});

test('what is wrong is named: unknown fields, wrong types, out-of-range values', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ ...manifest, colour: 'red' }, /must NOT have additional properties \(colour\)/],
    [{ ...manifest, class: 'logo' }, /\/class must be equal to one of the allowed values/],
    [{ ...manifest, duplicateOf: { hash: HASH } }, /\/duplicateOf must have required property 'country'/],
    [{ ...manifest, version: 2 }, /\/version must be equal to constant/],
    [{ ...manifest, hash: 'xyz' }, /\/hash must match pattern/],
    [{ ...manifest, sizes: [{ ...manifest.sizes[0], score: 1.5 }] }, /\/sizes\/0\/score must be <= 1/],
    [{ ...manifest, sizes: [{ ...manifest.sizes[0], bytes: -1 }] }, /\/sizes\/0\/bytes must be >= 0/],
    [{ ...manifest, processing: { ...manifest.processing, quality: { floor: 0.95 } } }, /\/processing\/quality/],
    [{ ...manifest, createdAt: 'yesterday' }, /\/createdAt must match format "date-time"/],
    [(({ digest: _d, ...rest }) => rest)(manifest), /must have required property 'digest'/],
  ];
  for (const [value, problem] of cases) {
    const problems = manifestProblems(value);
    assert.ok(problems.some((p) => problem.test(p)), `${problem} in ${problems.join(' | ')}`);
  }
});

test('a temporary directory holding a manifest that does not validate fails its cleanup, naming the file', async () => {
  const { dir, cleanup } = await tempDir('imagesys-schema-');
  const at = join(dir, 'tree', 'uk', HASH.slice(0, 2), HASH.slice(2, 4));
  await mkdir(at, { recursive: true });
  await writeFile(join(at, `${HASH}.json`), JSON.stringify({ ...manifest, sizes: 'none' }));
  await writeFile(join(dir, 'tree', 'config.json'), '{}'); // not a manifest's place: not checked
  try {
    await cleanup();
    assert.unreachable('the invalid manifest should have failed the cleanup');
  } catch (error) {
    assert.match(String(error), new RegExp(`uk/88/0d/${HASH}\\.json: /sizes must be array`));
  }
  assert.not.ok(existsSync(dir), 'removed all the same');
  const good = await tempDir('imagesys-schema-');
  await mkdir(join(good.dir, 'uk', '88', '0d'), { recursive: true });
  await writeFile(join(good.dir, 'uk', '88', '0d', `${HASH}.json`), JSON.stringify(manifest));
  await good.cleanup();
});

test.run();

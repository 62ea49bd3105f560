import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, DEFAULT_CONFIG, parseConfig, processingFor } from '../engine/config/config.js';
import { configTable, readmeConfigTable } from '../engine/config/docs.js';

function errorOf(raw: unknown): ConfigError {
  try {
    parseConfig(raw);
  } catch (error) {
    assert.instance(error, ConfigError);
    return error as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

test('every key has a default', () => {
  const config = parseConfig({});
  assert.equal(config.thumbnails.sizes, [
    { name: 'thumb', width: 120, height: 90 },
    { name: 'medium', width: 200, height: 150 },
    { name: 'large', width: 480, height: 360 },
  ]);
  assert.is(config.spool, DEFAULT_CONFIG.spool);
  assert.ok(config.pool.threads >= 1);
  assert.equal(parseConfig(undefined), config);
});

test('errors name the key and what was expected', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ download: { concurrency: 0 } }, 'download.concurrency', /expected an integer from 1 to 4096 for download.concurrency but received 0/],
    [{ thumbnails: { sizes: [{ name: 'x', width: -1, height: 2 }] } }, 'thumbnails.sizes[0].width', /integer from 1 to 8192/],
    [{ thumbnails: { formats: ['gif'] } }, 'thumbnails.formats[0]', /one of webp, jpeg, avif, png/],
    [{ countries: ['UK'] }, 'countries[0]', /country code/],
    [{ retry: { jitter: 2 } }, 'retry.jitter', /number from 0 to 1/],
    [{ spool: 3 }, 'spool', /non-empty string/],
    [{ baseUrl: 'not a url' }, 'baseUrl', /absolute URL/],
    [{ thumbnails: { process: { background: 'white' } } }, 'thumbnails.process.background', /colour/],
    [{ thumbnails: { countries: { uk: { datasources: { '16': { process: { quality: 101 } } } } } } }, 'thumbnails.countries.uk.datasources.16.process.quality', /1 to 100/],
    [{ retry: { baseMs: 5000, maxMs: 10 } }, 'retry.maxMs', /at least retry.baseMs/],
    [{ health: { failureRate: 0 } }, 'health.failureRate', /number from 0.01 to 1/],
    [{ disk: { minFreeMiB: '1G' } }, 'disk.minFreeMiB', /integer/],
    [{ download: { allow: '127.0.0.1' } }, 'download.allow', /array of non-empty strings/],
    [{ download: { allow: ['10.0.0.0/'] } }, 'download.allow[0]', /range like 10.0.0.0\/8/],
    [{ download: { allow: ['localhost', '10.0.0.0/33'] } }, 'download.allow[1]', /range like/],
    [{ download: { allow: ['10.0.0.0/8 '] } }, 'download.allow[0]', /range like/],
    [{ download: { proxy: 'socks5://p:1080' } }, 'download.proxy', /http:\/\/ proxy URL/],
    [{ thumbnails: { process: { quality: 'best' } } }, 'thumbnails.process.quality', /an integer from 1 to 100, "auto" or an object \{ floor, min, max, tries \}/],
    [{ thumbnails: { process: { quality: { flor: 0.9 } } } }, 'thumbnails.process.quality.flor', /one of the keys floor, min, max, tries/],
    [{ thumbnails: { process: { quality: { floor: 1 } } } }, 'thumbnails.process.quality.floor', /number from 0 to 0.999/],
    [{ thumbnails: { process: { quality: { min: 80, max: 60 } } } }, 'thumbnails.process.quality.min', /at most thumbnails.process.quality.max \(60\)/],
    [{ thumbnails: { process: { quality: { tries: 0 } } } }, 'thumbnails.process.quality.tries', /integer from 1 to 6/],
    [{ thumbnails: { countries: { uk: { process: { quality: { max: 101 } } } } } }, 'thumbnails.countries.uk.process.quality.max', /1 to 100/],
  ];
  for (const [raw, key, message] of cases) {
    const error = errorOf(raw);
    assert.is(error.key, key, JSON.stringify(raw));
    assert.match(error.message, message);
  }
});

test('unknown keys are refused, so typos do not pass silently', () => {
  assert.is(errorOf({ dowload: {} }).key, 'dowload');
  assert.is(errorOf({ download: { perhost: 3 } }).key, 'download.perhost');
});

test('size names must be unique', () => {
  const error = errorOf({ thumbnails: { sizes: [{ name: 'a', width: 1, height: 1 }, { name: 'a', width: 2, height: 2 }] } });
  assert.is(error.key, 'thumbnails.sizes[1].name');
});

test('process details: defaults, then country, then datasource', () => {
  const config = parseConfig({
    thumbnails: {
      process: { quality: 70 },
      countries: {
        uk: { process: { sharpen: 0.5 }, datasources: { '16': { process: { quality: 90, gamma: 2.2 } } } },
        de: { sizes: [{ name: 'tiny', width: 60, height: 45 }], formats: ['jpeg'] },
      },
    },
  });
  assert.equal(processingFor(config, 'uk', '16').process, { quality: 90, sharpen: 0.5, gamma: 2.2, background: '#ffffff', effort: 2 });
  assert.equal(processingFor(config, 'uk', '17').process, { quality: 70, sharpen: 0.5, gamma: 0, background: '#ffffff', effort: 2 });
  assert.equal(processingFor(config, 'uk', undefined).sizes, config.thumbnails.sizes);
  assert.equal(processingFor(config, 'de', '16').sizes, [{ name: 'tiny', width: 60, height: 45 }]);
  assert.equal(processingFor(config, 'de', '16').formats, ['jpeg']);
  assert.equal(processingFor(config, 'fr', '16').process.quality, 70);
});

test('quality: a number, "auto", or auto with some settings (the rest from "auto"); overridden per country and datasource', () => {
  const config = parseConfig({
    thumbnails: {
      process: { quality: 'auto' },
      countries: { uk: { process: { quality: { floor: 0.97 } }, datasources: { '16': { process: { quality: 80 } } } } },
    },
  });
  assert.equal(processingFor(config, 'fr', undefined).process.quality, { floor: 0.95, min: 20, max: 95, tries: 2 });
  assert.equal(processingFor(config, 'uk', undefined).process.quality, { floor: 0.97, min: 20, max: 95, tries: 2 });
  assert.is(processingFor(config, 'uk', '16').process.quality, 80);
  assert.is(parseConfig({}).thumbnails.process.quality, DEFAULT_CONFIG.thumbnails.process.quality);
});

/** Every leaf key of the defaults, as a path (`download.concurrency`), with its default value. */
function leaves(value: unknown, path: string[] = []): Array<[string[], unknown]> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([key, child]) => leaves(child, [...path, key]));
  }
  return [[path, value]];
}

/**
 * Wrong values for a key whose default is `value`: one of the wrong type, and for numbers one out of
 * range (no count, time, size or share here may be negative) and one too large for any of them.
 */
function wrongFor(value: unknown): unknown[] {
  if (typeof value === 'number') return ['seven', -1, 1e300];
  if (typeof value === 'boolean') return ['yes'];
  if (typeof value === 'string') return [42, ''];
  return ['not a list or table'];
}

/** `raw` with `value` at `path` (undefined removes the key). */
function withKey(raw: unknown, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(raw) as Record<string, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  if (value === undefined) delete at[path.at(-1)!];
  else at[path.at(-1)!] = value;
  return copy;
}

const get = (config: unknown, path: string[]): unknown => path.reduce((at, key) => (at as Record<string, unknown>)[key], config);

test('every key of the defaults: a wrong value is refused by its name; left out, it takes its default', () => {
  const table = leaves(DEFAULT_CONFIG);
  assert.ok(table.length >= 60, `${table.length} keys`);
  const full = structuredClone(DEFAULT_CONFIG);
  assert.equal(parseConfig(full), parseConfig({}), 'the defaults, written out, are a valid config');
  for (const [path, value] of table) {
    const key = path.join('.');
    for (const wrong of wrongFor(value)) {
      if (key === 'http.listen' && wrong === '') continue; // '' turns the HTTP server off
      if (key === 'alert.email.from' && wrong === '') continue; // '' is imagesys@<host>
      const error = errorOf(withKey(full, path, wrong));
      assert.is(error.key, key, `${key} = ${JSON.stringify(wrong)}: ${error.message}`);
      assert.match(error.message, new RegExp(`for ${key.replace(/\./g, '\\.')} but received`));
    }
    assert.equal(get(parseConfig(withKey(full, path, undefined)), path), value, `${key} left out`);
  }
});

test('keys without a default are required: left out or wrong, the error names them', () => {
  const size = { name: 'x', width: 100, height: 80 };
  const target = { name: 'n1', dest: '/srv/n1' };
  const inSizes = (s: unknown) => ({ thumbnails: { sizes: [s] } });
  const inCountry = (s: unknown) => ({ thumbnails: { countries: { uk: { sizes: [s] } } } });
  const inTargets = (t: unknown) => ({ sweep: { targets: [t] } });
  const cases: Array<[string, (item: unknown) => unknown, Record<string, unknown>, string, unknown]> = [
    ['thumbnails.sizes[0].name', inSizes, size, 'name', 'Big Size'],
    ['thumbnails.sizes[0].width', inSizes, size, 'width', 0],
    ['thumbnails.sizes[0].height', inSizes, size, 'height', 1.5],
    ['thumbnails.countries.uk.sizes[0].width', inCountry, size, 'width', '100'],
    ['thumbnails.countries.uk.sizes[0].height', inCountry, size, 'height', 9000],
    ['sweep.targets[0].name', inTargets, target, 'name', 'n 1'],
    ['sweep.targets[0].dest', inTargets, target, 'dest', ''],
  ];
  for (const [key, place, item, field, wrong] of cases) {
    parseConfig(place(item));
    const missing = errorOf(place(withKey(item, [field], undefined)));
    assert.is(missing.key, key, `${key} left out`);
    assert.match(missing.message, /received nothing/);
    assert.is(errorOf(place({ ...item, [field]: wrong })).key, key, `${key} wrong`);
  }
  assert.is(errorOf({ thumbnails: { sizes: [{ name: 'x', height: 100 }] } }).message, 'config: expected an integer from 1 to 8192 for thumbnails.sizes[0].width but received nothing');
});

test('keys outside the defaults (a target, a country override): wrong values are refused by name', () => {
  const cases: Array<[unknown, string]> = [
    [{ sweep: { targets: [{ name: 'n1', dest: '/srv/n1', bwlimitKiB: -5 }] } }, 'sweep.targets[0].bwlimitKiB'],
    [{ sweep: { targets: [{ name: 'n1', dest: '/srv/n1', extra: 1 }] } }, 'sweep.targets[0].extra'],
    [{ sweep: { targets: [{ name: 'n1', dest: '/srv/n1' }, { name: 'n1', dest: '/srv/n2' }] } }, 'sweep.targets[1].name'],
    [{ sweep: { targets: 'n1' } }, 'sweep.targets'],
    [{ thumbnails: { countries: { uk: { formats: ['gif'] } } } }, 'thumbnails.countries.uk.formats[0]'],
    [{ thumbnails: { countries: { uk: { formats: [] } } } }, 'thumbnails.countries.uk.formats'],
    [{ thumbnails: { countries: { uk: { process: { effort: 12 } } } } }, 'thumbnails.countries.uk.process.effort'],
    [{ thumbnails: { countries: { uk: { process: { gamma: 0.5 } } } } }, 'thumbnails.countries.uk.process.gamma'],
    [{ thumbnails: { countries: { uk: { datasources: { '16': { process: { sharpen: 'yes' } } } } } } }, 'thumbnails.countries.uk.datasources.16.process.sharpen'],
    [{ thumbnails: { countries: { uk: { datasources: { '16': { sizes: [] } } } } } }, 'thumbnails.countries.uk.datasources.16.sizes'],
    [{ thumbnails: { countries: { uk: { colour: 'red' } } } }, 'thumbnails.countries.uk.colour'],
    [{ thumbnails: { countries: { UK: {} } } }, 'thumbnails.countries.UK'],
  ];
  for (const [raw, key] of cases) assert.is(errorOf(raw).key, key, JSON.stringify(raw));
});

test('values it cannot use are refused: a dest rsync would misread, a header with a line break, an override for an unlisted country', () => {
  const dest = (value: string) => errorOf({ sweep: { targets: [{ name: 'n1', dest: value }] } });
  for (const bad of ['-e sh', 'n1:', 'rsync://n3', 'rsync://n3:873/', '/srv/n1\nx']) assert.is(dest(bad).key, 'sweep.targets[0].dest', bad);
  for (const good of ['/srv/n1', 'n2:/srv/tree', 'n2:tree', 'rsync://n3:873/tree', 'rsync://n3/tree/sub', 'relative/dir']) {
    assert.is(parseConfig({ sweep: { targets: [{ name: 'n1', dest: good }] } }).sweep.targets[0]!.dest, good);
  }
  assert.is(errorOf({ download: { userAgent: 'ImageSys\r\nX-Evil: 1' } }).key, 'download.userAgent');
  const unlisted = errorOf({ countries: ['uk'], thumbnails: { countries: { de: { formats: ['jpeg'] } } } });
  assert.is(unlisted.key, 'thumbnails.countries.de');
  assert.match(unlisted.message, /a country listed in countries \(uk\)/);
});

test('values that contradict each other are refused', () => {
  assert.is(errorOf({ countries: ['uk', 'de', 'uk'] }).key, 'countries[2]');
  assert.is(errorOf({ health: { coolOffMs: 60_000, maxCoolOffMs: 1_000 } }).key, 'health.maxCoolOffMs');
});

const readReadme = (): string => readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md'), 'utf8');

/**
 * The keys the README's config table documents. A row names one key (`download.maxBytes`), several
 * (`download.connectTimeoutMs` / `headersTimeoutMs`: later ones relative to the first's section), or a
 * section as a whole (`thumbnails.process`, `thumbnails.countries.<cc>`).
 */
function readmeKeys(): string[] {
  const readme = readReadme();
  const start = readme.indexOf('| key | default | meaning |');
  assert.ok(start >= 0, 'the README has the config table');
  const keys: string[] = [];
  for (const row of readme.slice(start).split('\n').slice(2)) {
    if (!row.startsWith('|')) break;
    const names = [...(row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\.<cc>$/, ''));
    const section = names[0]?.includes('.') ? names[0].slice(0, names[0].lastIndexOf('.') + 1) : '';
    names.forEach((name, i) => keys.push(i > 0 && !name.includes('.') ? `${section}${name}` : name));
  }
  return keys;
}

test('the README documents every config key, and no key that does not exist', () => {
  const documented = readmeKeys();
  const covered = (key: string): boolean => documented.some((d) => key === d || key.startsWith(`${d}.`));
  const leavesOfDefaults = leaves(DEFAULT_CONFIG).map(([path]) => path.join('.'));
  assert.equal(leavesOfDefaults.filter((key) => !covered(key)), [], 'keys without a row in the README');
  const exists = (key: string): boolean => leavesOfDefaults.some((leaf) => leaf === key || leaf.startsWith(`${key}.`));
  assert.equal(documented.filter((key) => !exists(key)), [], 'rows for keys that do not exist');
});

test("the README's config table is the one the schema generates: each key's doc and default in one place", () => {
  assert.fixture(readmeConfigTable(readReadme()), configTable(), 'README.md is behind engine/config/schema.ts: run npm run docs:config');
});

test('ConfigError carries a stable code', () => {
  assert.is(errorOf({ spool: 3 }).code, 'ERR_IMAGESYS_CONFIG');
});

test.run();

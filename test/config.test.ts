import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, DEFAULT_CONFIG, parseConfig, processingFor } from '../engine/config.js';

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

test.run();

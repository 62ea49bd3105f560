/**
 * The SSRF guard: address vectors (pure), then real downloads from a real server on loopback that the
 * default config must refuse: by address, by a name that resolves to loopback, by a redirect.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AllowList, blockedCategory } from '../engine/core/address-guard.js';
import { Downloader, type DownloadOptions } from '../engine/download/downloader.js';
import { ImageSysError } from '../engine/core/errors.js';
import { hashForUrl } from '../engine/core/hash.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type Route } from '../scripts/source-server.js';
import { runCli, writeTestConfig } from './support/cli.js';
import { tempDir } from './support/temp.js';

test('address vectors: what may not be reached, and why', () => {
  const cases: Array<[string, string | undefined]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', undefined],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'], // cloud metadata
    ['100.64.0.1', 'CGNAT'],
    ['100.128.0.1', undefined],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['8.8.8.8', undefined],
    ['93.184.216.34', undefined],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'private (unique local)'],
    ['fd12:3456::1', 'private (unique local)'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback (127.0.0.1 mapped in IPv6)'],
    ['::ffff:7f00:1', 'loopback (127.0.0.1 mapped in IPv6)'],
    ['::ffff:8.8.8.8', undefined],
    ['::127.0.0.1', 'loopback (127.0.0.1 IPv4-compatible)'],
    ['64:ff9b::a00:1', 'private (10.0.0.1 via NAT64)'],
    ['64:ff9b::808:808', undefined],
    ['2002:7f00:1::', 'loopback (127.0.0.1 via 6to4)'],
    ['2002:c0a8:101::1', 'private (192.168.1.1 via 6to4)'],
    ['2002:808:808::', undefined],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo tunnel'],
    ['::ffff:0:7f00:1', 'loopback (127.0.0.1 IPv4-translated)'],
    ['2001:2::1', 'benchmarking'],
    ['2001:10::1', 'ORCHID'],
    ['3fff::1', 'documentation'],
    ['5f00::1', 'segment routing'],
    ['192.88.99.1', '6to4 relay'],
    ['2606:4700:4700::1111', undefined],
    ['2a00:1450:4001:80b::200e', undefined],
  ];
  for (const [ip, expected] of cases) assert.is(blockedCategory(ip), expected, ip);
});

test('the allow list takes host names and ranges', () => {
  const allow = new AllowList(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', 'images.internal']);
  assert.ok(allow.allowsAddress('127.0.0.1'));
  assert.not.ok(allow.allowsAddress('127.0.0.2'), 'a single address is a /32');
  assert.ok(allow.allowsAddress('10.200.3.4'));
  assert.ok(allow.allowsAddress('fd12::1'));
  assert.not.ok(allow.allowsAddress('fe80::1'));
  assert.ok(allow.allowsHost('Images.Internal'));
  assert.not.ok(allow.allowsHost('localhost'));
});

const options: DownloadOptions = {
  concurrency: 4,
  perHost: 2,
  connectTimeoutMs: 2000,
  headersTimeoutMs: 2000,
  bodyTimeoutMs: 2000,
  totalTimeoutMs: 5000,
  maxBytes: 1_000_000,
  maxRedirects: 3,
  userAgent: 'ImageSys-test',
  allow: [],
  perHostRate: 0,
  proxy: 'none',
};

async function codeOf(downloader: Downloader, url: string): Promise<string> {
  try {
    await downloader.download(url);
    return 'downloaded';
  } catch (error) {
    assert.instance(error, ImageSysError);
    return `${(error as ImageSysError).code}: ${(error as Error).message}`;
  }
}

test('by default a download refuses loopback: by address, by a name that resolves to it, and after a redirect', async () => {
  const photo = await makeSample({ width: 100, height: 80 });
  const routes = new Map<string, Route>([['/ok.jpg', { kind: 'image', bytes: photo }]]);
  const server = await startSourceServer(routes);
  const port = new URL(server.base).port;
  routes.set('/to-loopback', { kind: 'redirect', location: `http://127.0.0.1:${port}/ok.jpg` });
  const strict = new Downloader(options);
  const byName = new Downloader({ ...options, allow: ['localhost'] });
  // localhost may resolve to ::1 as well: the range must cover both for a name to pass
  const byRange = new Downloader({ ...options, allow: ['127.0.0.0/8', '::1'] });
  try {
    assert.match(await codeOf(strict, server.url('/ok.jpg')), /^blocked_address: refused: 127\.0\.0\.1 is a loopback address/);
    // the check is made on the resolved address, at connect time
    assert.match(await codeOf(strict, `http://localhost:${port}/ok.jpg`), /^blocked_address: refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
    // a host allowed by name may be fetched, but its redirect to a loopback address may not
    assert.match(await codeOf(byName, `http://localhost:${port}/to-loopback`), /^blocked_address: refused: 127\.0\.0\.1 is a loopback address/);
    assert.is(server.hits.get('/ok.jpg') ?? 0, 0, 'nothing ever reached the image');
    assert.is(await codeOf(byRange, server.url('/ok.jpg')), 'downloaded');
    assert.is(await codeOf(byRange, `http://localhost:${port}/to-loopback`).then((r) => r.replace(/:.*/, '')), 'downloaded');
  } finally {
    await Promise.all([strict.close(), byName.close(), byRange.close()]);
    await server.close();
  }
});

test('a refused URL fails its job with its own code, and the engine goes on', async () => {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 100, height: 80 });
  const server = await startSourceServer(new Map<string, Route>([['/ok.jpg', { kind: 'image', bytes: photo }]]));
  try {
    const config = await writeTestConfig(dir, { download: { allow: ['127.0.0.1'] } });
    const port = new URL(server.base).port;
    const urls = [server.url('/ok.jpg'), `http://[::1]:${port}/ok.jpg`, 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/x.jpg'];
    const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', ...urls]);
    assert.is(enqueue.code, 0, enqueue.stderr);
    const run = await runCli(['run', '--once', '--config', config]);
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, /1 thumbed/);
    for (const url of urls.slice(1)) {
      const job = JSON.parse(await readFile(join(dir, 'spool', 'failed', 'uk', `${hashForUrl(url)}.job`), 'utf8')) as { errorCode: string; error: string; attempts: number };
      assert.is(job.errorCode, 'blocked_address', url);
      assert.match(job.error, /^refused: /);
      assert.is(job.attempts, 1, `${url}: refused once, not retried`);
    }
  } finally {
    await server.close();
    await cleanup();
  }
});

test.run();

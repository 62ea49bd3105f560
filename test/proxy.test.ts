/**
 * Downloads through a real proxy (tinyproxy, started here) when one is configured, and straight to the
 * source with `--noproxy`: seen in the proxy's own log.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Downloader, proxyFor } from '../engine/download/downloader.js';
import { ImageSysError } from '../engine/core/errors.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type Route } from '../scripts/source-server.js';
import { runCli, writeTestConfig } from './support/cli.js';
import { programMissing, testsNeeding } from './support/needs.js';
import { startTinyproxy } from './support/tinyproxy.js';
import { tempDir } from './support/temp.js';

test('proxy settings: a URL, the environment (with NO_PROXY), or none', () => {
  assert.equal(proxyFor('http://proxy:3128', {}), { httpProxy: 'http://proxy:3128', httpsProxy: 'http://proxy:3128', noProxy: '' });
  assert.is(proxyFor('env', {}), undefined, 'no proxy in the environment: direct');
  assert.equal(proxyFor('env', { HTTP_PROXY: 'http://p:1', NO_PROXY: 'localhost' }), { httpProxy: 'http://p:1', httpsProxy: '', noProxy: 'localhost' });
  assert.equal(proxyFor('env', { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:1' })?.httpProxy, 'http://lower:1');
  assert.is(proxyFor('none', { HTTP_PROXY: 'http://p:1' }), undefined, '--noproxy wins over the environment');
});

const withTinyproxy = testsNeeding(test, programMissing('tinyproxy', ['-v']));

withTinyproxy('a configured proxy carries the downloads; --noproxy bypasses it', async () => {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 200, height: 150, seed: 12 });
  const routes = new Map<string, Route>(['/via/1.jpg', '/via/2.jpg', '/direct/1.jpg', '/direct/2.jpg'].map((p) => [p, { kind: 'image', bytes: photo }]));
  routes.set('/slow.jpg', { kind: 'slow', delayMs: 3_000, bytes: photo });
  const server = await startSourceServer(routes);
  const proxy = await startTinyproxy(dir);
  try {
    const config = await writeTestConfig(dir, { countries: ['uk'], download: { proxy: proxy.url } });
    const enqueue = async (paths: string[]): Promise<void> => {
      const result = await runCli(['enqueue', '--config', config, '--country', 'uk', ...paths.map((p) => server.url(p))]);
      assert.is(result.code, 0, result.stderr);
    };
    await enqueue(['/via/1.jpg', '/via/2.jpg']);
    const proxied = await runCli(['run', '--once', '--config', config]);
    assert.is(proxied.code, 0, proxied.stderr);
    assert.match(proxied.stdout, /2 thumbed/);
    let log = await proxy.log();
    for (const path of ['/via/1.jpg', '/via/2.jpg']) assert.ok(log.includes(`GET ${server.url(path)}`), `the proxy logged ${path}\n${log.slice(-2000)}`);

    await enqueue(['/direct/1.jpg', '/direct/2.jpg']);
    const direct = await runCli(['run', '--once', '--noproxy', '--config', config]);
    assert.is(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /2 thumbed/);
    log = await proxy.log();
    assert.not.ok(log.includes('/direct/'), 'with --noproxy the proxy saw nothing');
    assert.is(server.hits.get('/direct/1.jpg'), 1, 'the source was asked directly');

    // the header timeout holds through the proxy too (not undici's 300 s default for proxy pools)
    const viaProxy = new Downloader({ concurrency: 2, perHost: 2, perHostRate: 0, connectTimeoutMs: 2_000, headersTimeoutMs: 500, bodyTimeoutMs: 500, totalTimeoutMs: 10_000, maxBytes: 1_000_000, maxRedirects: 2, userAgent: 'ImageSys-test', allow: ['127.0.0.1'], proxy: proxy.url });
    try {
      await viaProxy.download(server.url('/slow.jpg'));
      assert.unreachable('a 3 s wait for headers passed a 0.5 s limit');
    } catch (error) {
      assert.instance(error, ImageSysError);
      assert.is((error as ImageSysError).code, 'headers_timeout');
    } finally {
      await viaProxy.close();
    }
  } finally {
    await proxy.stop();
    await server.close();
    await cleanup();
  }
});

test.run();

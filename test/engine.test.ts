/** The engine in-process (no child process): a real source on 127.0.0.1, real sharp, a real spool on disk. */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { parseConfig } from '../engine/config/config.js';
import { Engine } from '../engine/engine.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type Route } from '../scripts/source-server.js';
import { tempDir } from './support/temp.js';

test('drain: good photos thumbed, a 404 failed at once, a flaky source retried; the clock injected is the one used', async () => {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 640, height: 480 });
  const routes = new Map<string, Route>([
    ['/a.jpg', { kind: 'image', bytes: photo }],
    ['/b.jpg', { kind: 'image', bytes: await makeSample({ width: 800, height: 600, seed: 2 }) }],
    ['/flaky.jpg', { kind: 'flaky', failures: 1, status: 503, bytes: photo }],
    ['/gone.jpg', { kind: 'status', status: 404 }],
  ]);
  const server = await startSourceServer(routes);
  let clockReads = 0;
  const clock = (): number => {
    clockReads++;
    return Date.now();
  };
  try {
    const config = parseConfig({
      spool: join(dir, 'spool'),
      tree: join(dir, 'tree'),
      countries: ['uk'],
      pool: { threads: 1 },
      download: { allow: ['127.0.0.1'], perHostRate: 0, proxy: 'none' },
      retry: { baseMs: 50, maxMs: 100, maxAttempts: 3, factor: 2, jitter: 0 },
      intake: { settleMs: 0, rescanMs: 200 },
    });
    const engine = new Engine({ config, countries: ['uk'], log: pino({ level: 'silent' }), clock });
    await engine.recover();
    await writeFile(join(config.spool, 'incoming', 'uk', 'feed.urls'), [...routes.keys()].map((p) => server.url(p)).join('\n') + '\n');
    await engine.drain();
    await engine.stop();
    assert.equal({ thumbed: engine.stats.thumbed, failed: engine.stats.failed, retries: engine.stats.retries, batches: engine.stats.batches }, { thumbed: 3, failed: 1, retries: 1, batches: 1 });
    assert.equal(engine.stats.failuresByCode, { http_not_found: 1 });
    assert.is((await readdir(join(config.spool, 'thumbed', 'uk'))).filter((n) => n.endsWith('.job')).length, 3);
    assert.is((await readdir(join(config.spool, 'failed', 'uk'))).filter((n) => n.endsWith('.job')).length, 1);
    assert.equal(await readdir(join(config.spool, 'incoming', 'uk')), [], 'the batch is gone, no job left behind');
    assert.is(server.hits.get('/flaky.jpg'), 2, 'retried once after its 503');
    assert.is(server.hits.get('/gone.jpg'), 1, 'a 404 is not retried');
    assert.ok(clockReads > 0, 'the engine reads the clock it was given');
  } finally {
    await server.close();
    await cleanup();
  }
});

test.run();

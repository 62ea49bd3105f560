/**
 * Issue 12 #5: one host's backlog does not starve another. A real backlog of 82,000 queued URLs of a
 * slow host, as enqueue leaves it (job files and their arrival log), then 20 URLs of a healthy host:
 * the healthy host's images are fetched at once, and the slow host never has more than its perHost.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl } from '../engine/core/hash.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type Route } from '../scripts/source-server.js';
import { ArrivalWriter } from '../spool/arrivals.js';
import { arrivalOf } from '../spool/job.js';
import { kill, runCli, startDaemon, waitUntil, writeTestConfig, type Daemon } from './support/cli.js';
import { tempDir } from './support/temp.js';

const BACKLOG = 82_000;
const PER_HOST = 4;

test('#5 82,000 queued URLs of a slow host, then 20 of another: the 20 are fetched at once; the slow host never has more than its perHost', async () => {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 200, height: 150, seed: 11 });
  const slowRoute: Route = { kind: 'slow', delayMs: 2_000, bytes: photo };
  const slow = await startSourceServer(new Map(Array.from({ length: BACKLOG }, (_, i) => [`/slow/${i}.jpg`, slowRoute])));
  const healthy = await startSourceServer(new Map(Array.from({ length: 20 }, (_, i) => [`/ok/${i}.jpg`, { kind: 'image', bytes: photo }])));
  let daemon: Daemon | undefined;
  try {
    const config = await writeTestConfig(dir, { countries: ['uk'], download: { concurrency: 16, perHost: PER_HOST }, fsync: false });
    const spool = join(dir, 'spool');
    const incoming = join(spool, 'incoming', 'uk');
    await mkdir(incoming, { recursive: true });
    const arrivals = new ArrivalWriter(spool);
    const at = new Date().toISOString();
    let lines: Array<{ name: string; host?: string }> = [];
    for (let i = 0; i < BACKLOG; i++) {
      const url = slow.url(`/slow/${i}.jpg`);
      const hash = hashForUrl(url);
      await writeFile(join(incoming, `${hash}.job`), `{"url":"${url}","hash":"${hash}","country":"uk","attempts":0,"createdAt":"${at}","updatedAt":"${at}"}\n`);
      lines.push(arrivalOf({ hash, url }));
      if (lines.length === 5_000) {
        await arrivals.append('uk', lines);
        lines = [];
      }
    }
    await arrivals.append('uk', lines);
    await arrivals.close();
    const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', ...Array.from({ length: 20 }, (_, i) => healthy.url(`/ok/${i}.jpg`))]);
    assert.is(enqueue.code, 0, enqueue.stderr);

    daemon = startDaemon(['--config', config]);
    const started = Date.now();
    await waitUntil('the healthy host\'s 20 images are fetched', () => healthy.totalHits() >= 20, 45_000);
    const seconds = (Date.now() - started) / 1000;
    console.log(`the 20 of the healthy host fetched ${seconds.toFixed(1)} s after the start, behind ${BACKLOG} of the slow one (${slow.totalHits()} of those fetched meanwhile)`);
    assert.ok(slow.maxConcurrent() <= PER_HOST, `the slow host had ${slow.maxConcurrent()} requests at once (perHost ${PER_HOST})`);
    assert.ok(slow.totalHits() > 0, 'the slow host is served too');
  } finally {
    if (daemon) await kill(daemon);
    await slow.close();
    await healthy.close();
    await cleanup();
  }
});

test.run();

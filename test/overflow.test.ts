/**
 * 20,000 job files dropped into incoming/ at once, under a running daemon: the watcher does not watch
 * job files at all (a watch per file would not scale), so every one of them must be found by the
 * rescan, none twice. The jobs point at a URL that answers 404 quickly, so the test measures finding
 * and finishing jobs, not thumbnailing; fsync is off for the same reason.
 */
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl } from '../engine/core/hash.js';
import { startSourceServer } from '../scripts/source-server.js';
import { kill, startDaemon, waitUntil, writeTestConfig } from './support/cli.js';
import { tempDir } from './support/temp.js';

const JOBS = 20_000;

test(`${JOBS} job files dropped at once are all processed, each once`, async () => {
  const { dir, cleanup } = await tempDir();
  const server = await startSourceServer(new Map());
  let daemon: ReturnType<typeof startDaemon> | undefined;
  try {
    const config = await writeTestConfig(dir, { countries: ['uk'], fsync: false, intake: { settleMs: 300, rescanMs: 1_000 }, download: { concurrency: 32, perHost: 32 } });
    const spool = join(dir, 'spool');
    daemon = startDaemon(['--config', config]);
    await waitUntil('the daemon made the spool', async () => (await readdir(join(spool, 'incoming', 'uk')).catch(() => null)) !== null, 20_000);
    // written elsewhere, then renamed in as fast as the file system allows: a burst no watcher keeps up with
    const staging = join(dir, 'staging');
    await mkdir(staging);
    const hashes: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const url = server.url(`/gone/${i}.jpg`);
      const hash = hashForUrl(url);
      hashes.push(hash);
      await writeFile(join(staging, `${hash}.job`), JSON.stringify({ url }));
    }
    const started = performance.now();
    for (const hash of hashes) await rename(join(staging, `${hash}.job`), join(spool, 'incoming', 'uk', `${hash}.job`));
    const failedDir = join(spool, 'failed', 'uk');
    await waitUntil(`all ${JOBS} jobs are in failed/`, async () => (await readdir(failedDir)).length === JOBS, 300_000);
    console.log(`${JOBS} jobs found and finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(await readdir(join(spool, 'incoming', 'uk')), [], 'incoming/ is empty');
    assert.is(server.totalHits(), JOBS, 'each job fetched exactly once');
    assert.is(new Set(hashes).size, JOBS);
    assert.equal((await readdir(failedDir)).sort(), hashes.map((h) => `${h}.job`).sort());
  } finally {
    if (daemon) await kill(daemon, 'SIGTERM');
    await server.close();
    await cleanup();
  }
});

test.run();

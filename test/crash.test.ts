import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Manifest } from '../engine/tree/tree.js';
import { runCli, startDaemon, writeTestConfig } from './support/cli.js';
import { assertNoLeftovers, assertOutcomes, assertThumbnails, listJobs, startScenario } from './support/scenario.js';
import { tempDir } from './support/temp.js';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}

/** What a reader sees after a crash: every visible job parses, every visible tree file is whole. */
async function assertNothingPartial(spool: string, tree: string): Promise<void> {
  for (const state of ['incoming', 'downloaded', 'thumbed', 'failed']) {
    for (const name of await listJobs(spool, state, 'uk')) {
      JSON.parse(await readFile(join(spool, state, 'uk', name), 'utf8'));
    }
  }
  const files = (await walk(join(tree, 'uk'))).filter((p) => !p.includes('/.tmp/'));
  for (const path of files) {
    if (path.endsWith('.json')) {
      const manifest = JSON.parse(await readFile(path, 'utf8')) as Manifest;
      for (const size of manifest.sizes) {
        const bytes = await readFile(join(tree, size.path));
        assert.is(bytes.length, size.bytes, `${size.path} listed by a manifest is complete`);
      }
    } else {
      const meta = await sharp(await readFile(path)).metadata();
      assert.ok(meta.width && meta.height, `${path} decodes`);
      await sharp(await readFile(path)).raw().toBuffer();
    }
  }
}

test('kill -9 in the middle of a run, then a restart: every job completes, nothing partial is visible', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 3, kinds: { good: 150, slow: 30, missing: 10, flaky: 10, truncated: 0 } });
  try {
    const config = await writeTestConfig(dir, { download: { concurrency: 4, perHost: 4, headersTimeoutMs: 3000 }, pool: { threads: 1, tasksPerThread: 1, spillAfterMs: 0 } });
    const spool = join(dir, 'spool');
    const tree = join(dir, 'tree');
    const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', '--file', '-'], { input: scenario.expectations.map((e) => e.url).join('\n') });
    assert.is(enqueue.code, 0, enqueue.stderr);

    const total = scenario.expectations.length;
    for (let round = 0; round < 3; round++) {
      const daemon = startDaemon(['--config', config]);
      // let it get some way in, then kill it without warning
      const target = Math.min(total - 20, (round + 1) * 40);
      const deadline = Date.now() + 30_000;
      while ((await listJobs(spool, 'thumbed', 'uk')).length < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      daemon.kill('SIGKILL');
      await new Promise((resolve) => daemon.once('exit', resolve));
      const done = (await listJobs(spool, 'thumbed', 'uk')).length;
      console.log(`round ${round}: killed with ${done}/${total} thumbed`);
      assert.ok(done < total, 'killed before the end');
      await assertNothingPartial(spool, tree);
    }

    const finish = await runCli(['run', '--once', '--config', config]);
    assert.is(finish.code, 0, finish.stderr);
    await assertOutcomes(spool, 'uk', scenario.expectations);
    await assertThumbnails(tree, 'uk', scenario.expectations);
    await assertNoLeftovers(spool, tree);
    // a claim the killed engine held on a job it had just finished is nobody's to take over: it goes
    // once stale, at the next start (or rescan)
    if ((await readdir(join(spool, '.locks'))).length > 0) {
      await new Promise((r) => setTimeout(r, 4_500));
      assert.is((await runCli(['run', '--once', '--config', config])).code, 0);
    }
    assert.equal(await readdir(join(spool, '.locks')), [], 'stale claims of the killed engines were taken over or cleaned');
    // work in flight at a kill may be fetched again, but nothing more than that
    for (const e of scenario.expectations) assert.ok((scenario.server.hits.get(e.path) ?? 0) <= e.hits + 3, `${e.path} fetched ${scenario.server.hits.get(e.path)} times`);
  } finally {
    await scenario.server.close();
    await cleanup();
  }
});

test.run();

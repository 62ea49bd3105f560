import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, writeTestConfig } from './support/cli.js';
import { assertHits, assertNoLeftovers, assertOutcomes, assertThumbnails, dropBatches, startScenario } from './support/scenario.js';
import { tempDir } from './support/temp.js';

const thumbedIn = (stdout: string): number => Number(/run: (\d+) thumbed/.exec(stdout)?.[1] ?? NaN);

test('two engine processes on one spool: every job processed exactly once', async () => {
  const { dir, cleanup } = await tempDir();
  const scenario = await startScenario({ maxAttempts: 3 });
  try {
    const config = await writeTestConfig(dir);
    const spool = join(dir, 'spool');
    const tree = join(dir, 'tree');
    // jobs go in first, as separate job files, so that both engines find work at once
    const enqueue = await runCli(['enqueue', '--config', config, '--country', 'uk', '--file', '-'], { input: scenario.expectations.map((e) => e.url).join('\n') });
    assert.is(enqueue.code, 0, enqueue.stderr);
    await dropBatches(spool, 'uk', []);
    const [a, b] = await Promise.all([runCli(['run', '--once', '--config', config]), runCli(['run', '--once', '--config', config])]);
    assert.is(a.code, 0, a.stderr);
    assert.is(b.code, 0, b.stderr);
    const expectedThumbed = scenario.expectations.filter((e) => e.end === 'thumbed').length;
    console.log(`engine A: ${a.stdout.trim()}\nengine B: ${b.stdout.trim()}`);
    assert.is(thumbedIn(a.stdout) + thumbedIn(b.stdout), expectedThumbed, 'thumbnails made once per image');
    assert.ok(thumbedIn(a.stdout) > 0 && thumbedIn(b.stdout) > 0, 'both engines took a share');
    assertHits(scenario.server, scenario.expectations);
    await assertOutcomes(spool, 'uk', scenario.expectations);
    await assertThumbnails(tree, 'uk', scenario.expectations);
    await assertNoLeftovers(spool, tree);
    assert.equal(await readdir(join(spool, '.locks')), []);
  } finally {
    await scenario.server.close();
    await cleanup();
  }
});

test.run();

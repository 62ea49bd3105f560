/** Short forms of the torture (`npm run torture` runs the long ones: 2,000 URLs, 20 kills). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crashTorture, enginesTorture } from './support/torture.js';
import { tempDir } from './support/temp.js';

test('SIGKILL at random moments, restart each time: nothing lost, doubled, partial or left over', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const result = await crashTorture(dir, { urls: 300, kills: 5, progress: console.log });
    assert.is(result.finishedAtKills.length, 5);
    assert.ok(result.finishedAtKills.some((n) => n > 0 && n < 300), `some kill came in the middle of the work: ${result.finishedAtKills.join(', ')}`);
  } finally {
    await cleanup();
  }
});

test('three engines on one spool, one killed while it holds work: each image once, its work taken over', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const result = await enginesTorture(dir, { urls: 300, engines: 3, progress: console.log });
    console.log(`thumbed per engine ${result.thumbedBy.join('/')}; takeover of ${result.heldAtKill} claims in ${result.takeoverSeconds.toFixed(1)} s`);
    assert.ok(result.thumbedBy.every((n) => n > 0), 'every engine took a share');
    // claims.staleMs is 3 s; the rescan runs every 0.5 s; the rest is the work itself
    assert.ok(result.takeoverSeconds < 3 + 5, `taken over in ${result.takeoverSeconds.toFixed(1)} s`);
  } finally {
    await cleanup();
  }
});

test.run();

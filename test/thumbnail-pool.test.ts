import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../engine/config/config.js';
import { ThumbnailPool } from '../engine/thumbnails/thumbnail-pool.js';
import { makeSample } from '../scripts/sample-images.js';
import type { ThumbnailTask } from '../workers/thumbnail-task.js';

const defaults = parseConfig({});
const task = (input: Buffer): ThumbnailTask => ({ input: new Uint8Array(input), sizes: defaults.thumbnails.sizes, formats: defaults.thumbnails.formats, process: defaults.thumbnails.process, maxPixels: defaults.thumbnails.maxPixels });

test('threads that start while others open images refuse none of them (loaders are locked down once per process)', async () => {
  // libvips blocks loaders for the whole process: a thread that locked them down on its first task
  // refused, for an instant, the image another thread was opening ("operation is blocked"); here new
  // pools keep starting threads while a busy pool opens small images (many loader look-ups)
  const photo = await makeSample({ width: 64, height: 48, seed: 5 });
  const busy = new ThumbnailPool({ threads: 2, tasksPerThread: 2, nice: 0 });
  try {
    let stop = false;
    const refused: string[] = [];
    const worker = async (): Promise<number> => {
      let done = 0;
      for (; !stop; done++) {
        const result = await busy.run(task(photo));
        if (!result.ok) refused.push(`${result.code}: ${result.message}`);
      }
      return done;
    };
    const running = [worker(), worker(), worker(), worker()];
    for (let round = 0; round < 60; round++) {
      const fresh = new ThumbnailPool({ threads: 2, tasksPerThread: 1, nice: 0 });
      const results = await Promise.all([fresh.run(task(photo)), fresh.run(task(photo))]);
      for (const r of results) if (!r.ok) refused.push(`new pool: ${r.code}: ${r.message}`);
      await fresh.close();
    }
    stop = true;
    const done = (await Promise.all(running)).reduce((a, b) => a + b, 0);
    assert.ok(done > 100, `the busy pool kept opening images (${done})`);
    assert.equal(refused, []);
    assert.equal(busy.figures(), { threads: 2, active: 0, capacity: 4, waiting: 0 });
  } finally {
    await busy.close();
  }
});

test('the worker threads refuse what the pool locked down: SVG is not decoded', async () => {
  const pool = new ThumbnailPool({ threads: 2, tasksPerThread: 1, nice: 0 });
  try {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    const result = await pool.run(task(svg));
    // refused by libvips (no loader may open it), not only by the format check after opening it
    assert.ok(!result.ok && result.code === 'unsupported_format' && result.message.includes('unsupported image format'), JSON.stringify(result.ok ? 'decoded' : result));
    const jpeg = await pool.run(task(await makeSample({ width: 300, height: 200, seed: 1 })));
    assert.ok(jpeg.ok, 'and JPEG still is');
  } finally {
    await pool.close();
  }
});

test.run();

import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../engine/config/config.js';
import { ThumbnailPool } from '../engine/thumbnails/thumbnail-pool.js';
import { makeSample } from '../scripts/sample-images.js';
import type { ThumbnailTask } from '../workers/thumbnail-task.js';
import { testsNeeding } from './support/needs.js';

const defaults = parseConfig({});
const task = (input: Buffer): ThumbnailTask => ({ input: new Uint8Array(input), sizes: defaults.thumbnails.sizes, formats: defaults.thumbnails.formats, process: defaults.thumbnails.process, maxPixels: defaults.thumbnails.maxPixels });

test('threads that start while others open images refuse none of them (loaders are locked down once per process)', async () => {
  // libvips blocks loaders for the whole process: a thread that locked them down on its first task
  // refused, for an instant, the image another thread was opening ("operation is blocked"); here new
  // pools keep starting threads while a busy pool opens small images (many loader look-ups)
  const photo = await makeSample({ width: 64, height: 48, seed: 5 });
  const busy = new ThumbnailPool({ threads: 2, tasksPerThread: 2, threadNice: 0 });
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
      const fresh = new ThumbnailPool({ threads: 2, tasksPerThread: 1, threadNice: 0 });
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
  const pool = new ThumbnailPool({ threads: 2, tasksPerThread: 1, threadNice: 0 });
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

/** This process's threads: name and nice value (field 19 of stat; the name, field 2, may hold spaces). */
function threadsNow(): Array<{ tid: string; comm: string; nice: number }> {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return [{ tid, comm: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(), nice: Number(fields[16]) }];
    } catch {
      return []; // ended meanwhile
    }
  });
}

const onLinux = testsNeeding(test, process.platform === 'linux' ? undefined : 'per-thread nice values are a Linux feature');

onLinux("the pool's nice value reaches libvips' own threads, and only the sharp threads", async () => {
  // GLib starts libvips' workers from a helper thread: they inherit nobody's nice value, so the pool
  // must find and set them itself (without that, the piscina workers alone were lowered)
  const before = new Map(threadsNow().map((t) => [t.tid, t.nice]));
  const pool = new ThumbnailPool({ threads: 2, tasksPerThread: 2, threadNice: 7 });
  try {
    const photo = await makeSample({ width: 640, height: 480, seed: 3 });
    // past one rescan interval, so that threads libvips started after the first task are caught too
    const until = Date.now() + 1_500;
    while (Date.now() < until) await Promise.all([1, 2, 3, 4].map(() => pool.run(task(photo))));
    // and one more task past the next interval: its scan sees every thread libvips started meanwhile
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await pool.run(task(photo));
    const threads = threadsNow();
    const vips = threads.filter((t) => t.comm.startsWith('libvips'));
    assert.ok(vips.length > 0, `libvips threads seen: ${threads.map((t) => t.comm).join(', ')}`);
    const expected = Math.min(19, (before.get(String(process.pid)) ?? 0) + 7); // 7 below this thread
    assert.equal(vips.filter((t) => t.nice !== expected).map((t) => `${t.tid} ${t.comm} nice ${t.nice}`), [], `every libvips thread is at nice ${expected}`);
    assert.equal(pool.threadPriorities.refused, 0);
    assert.ok(pool.threadPriorities.lowered >= vips.length, `the pool counts what it set (${pool.threadPriorities.lowered})`);
    const main = threads.find((t) => Number(t.tid) === process.pid);
    assert.equal(main?.nice, before.get(String(process.pid)), 'the main thread keeps its priority');
    const others = threads.filter((t) => !t.comm.startsWith('libvips') && before.has(t.tid) && t.nice !== before.get(t.tid));
    assert.equal(others.map((t) => t.comm), [], 'threads that were there before (libuv, V8) keep theirs');
    // a pool that asks for less never raises a thread's priority again (a nice value is absolute)
    const milder = new ThumbnailPool({ threads: 1, tasksPerThread: 1, threadNice: 2 });
    try {
      await milder.run(task(photo));
      const raised = threadsNow().filter((t) => t.comm.startsWith('libvips') && t.nice < expected);
      assert.equal(raised.map((t) => `${t.tid} nice ${t.nice}`), []);
    } finally {
      await milder.close();
    }
  } finally {
    await pool.close();
  }
});

test.run();

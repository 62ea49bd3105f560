import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AtomicWriter } from '../spool/atomic.js';
import { WriteThread } from '../spool/write-thread.js';
import { tempDir } from './support/temp.js';

test('bytes handed over move to the thread; bytes only lent are copied and stay usable', async () => {
  const { dir, cleanup } = await tempDir();
  const thread = new WriteThread();
  try {
    const writer = new AtomicWriter(join(dir, '.tmp'), true, thread);
    const given = new Uint8Array([1, 2, 3]);
    const lent = new Uint8Array([4, 5, 6]);
    await writer.writeAll([{ path: join(dir, 'img', 'given'), data: given }], { handOver: true });
    await writer.writeAll([{ path: join(dir, 'img', 'lent'), data: lent }]);
    assert.equal([...(await readFile(join(dir, 'img', 'given')))], [1, 2, 3]);
    assert.equal([...(await readFile(join(dir, 'img', 'lent')))], [4, 5, 6]);
    assert.is(given.byteLength, 0, 'transferred: no copy made');
    assert.equal([...lent], [4, 5, 6]);
    // one buffer behind several files is sent once (a transfer list may not name it twice), and a
    // detached one is refused at once, not left waiting
    const shared = new Uint8Array(8);
    await writer.writeAll([{ path: join(dir, 'img', 's1'), data: shared.subarray(0, 8) }, { path: join(dir, 'img', 's2'), data: shared }], { handOver: true });
    const refused = await writer.writeAll([{ path: join(dir, 'img', 'gone'), data: given }], { handOver: true }).then(() => 'written', (error: unknown) => (error as Error).name);
    assert.is(refused, 'DataCloneError', 'bytes already handed over are refused, not sent as nothing');
  } finally {
    await thread.close();
    await cleanup();
  }
});

test('an idle write thread keeps no process alive', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const script = `
      import { AtomicWriter } from ${JSON.stringify(new URL('../spool/atomic.js', import.meta.url).href)};
      import { WriteThread } from ${JSON.stringify(new URL('../spool/write-thread.js', import.meta.url).href)};
      const writer = new AtomicWriter(${JSON.stringify(join(dir, '.tmp'))}, true, new WriteThread());
      await writer.write(${JSON.stringify(join(dir, 'out.txt'))}, 'done');
      console.log('written');`;
    await writeFile(join(dir, 'once.mjs'), script);
    const child = spawnSync(process.execPath, [join(dir, 'once.mjs')], { encoding: 'utf8', timeout: 20_000 });
    assert.is(child.signal, null, 'it ended by itself, not by the timeout');
    assert.is(child.status, 0, child.stderr);
    assert.is(child.stdout.trim(), 'written');
    assert.is(await readFile(join(dir, 'out.txt'), 'utf8'), 'done');
  } finally {
    await cleanup();
  }
});

/**
 * Runs `body` with a write thread whose one write under way is stuck: a directory sync opens its path
 * for reading, and on a FIFO without a writer that open blocks, as a call on a dead NFS mount would.
 * Afterwards the open is let go, so that no pool thread stays stuck: a writer is held open on the FIFO
 * (O_RDWR never blocks on Linux) until the thread is closed, which frees an open under way and any that
 * starts later. (Opening a writer once and closing it at once freed only an open already waiting: on a
 * loaded machine the thread's open could begin after it, and then waited forever: the suite hung.)
 */
async function withStuckWrite(body: (thread: WriteThread, writer: AtomicWriter, stuck: Promise<string>, dir: string, unblock: () => void) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir();
  const thread = new WriteThread();
  const fifo = join(dir, 'stuck');
  let held: number | undefined;
  const unblock = (): void => {
    held ??= openSync(fifo, constants.O_RDWR);
  };
  try {
    assert.is(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const writer = new AtomicWriter(join(dir, '.tmp'), true, thread);
    await writer.write(join(dir, 'first'), '1');
    const stuck = writer.syncDir(fifo).then(() => 'synced', (error: unknown) => (error as Error).message);
    await body(thread, writer, stuck, dir, unblock);
  } finally {
    unblock();
    await thread.close();
    if (held !== undefined) closeSync(held);
    await cleanup();
  }
}

test('a write stuck in the file system fails once close gives up on it; the next write starts another thread', () =>
  withStuckWrite(async (thread, writer, stuck, dir) => {
    const began = Date.now();
    await thread.close(300);
    assert.ok(Date.now() - began < 5_000, 'close did not wait for the stuck call');
    assert.match(await stuck, /closed before this write was done/);
    await writer.write(join(dir, 'after'), '2');
    assert.is(await readFile(join(dir, 'after'), 'utf8'), '2');
  }));

test('a write thread that dies fails the writes it had, and the next write starts another', () =>
  withStuckWrite(async (thread, writer, stuck, dir, unblock) => {
    // as a crash of that thread would (the field is private: nothing else may end it). Once asked to
    // end, it runs no more code, so it never answers; but it ends only once its blocked call returns
    const ended = (thread as unknown as { lane: { worker: Worker } }).lane.worker.terminate();
    unblock();
    await ended;
    assert.match(await stuck, /write thread ended/);
    await writer.write(join(dir, 'third'), '3');
    assert.is(await readFile(join(dir, 'third'), 'utf8'), '3');
  }));

test.run();

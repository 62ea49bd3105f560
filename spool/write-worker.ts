/**
 * The write thread's worker (see write-thread.ts): runs each request with an AtomicWriter of its own,
 * one per temporary folder, and answers when it is done. Its calls are fs's asynchronous ones, so
 * many writes are under way at once, as on the engine's thread before.
 */
import { parentPort } from 'node:worker_threads';
import { AtomicWriter } from './atomic.js';
import { toWire, type WriteReply, type WriteRequest } from './write-protocol.js';

const writers = new Map<string, AtomicWriter>();

function writerFor(tmpDir: string, fsync: boolean): AtomicWriter {
  const key = `${fsync ? 1 : 0}${tmpDir}`;
  let writer = writers.get(key);
  if (!writer) writers.set(key, (writer = new AtomicWriter(tmpDir, fsync)));
  return writer;
}

async function perform(request: WriteRequest): Promise<void> {
  const writer = writerFor(request.tmpDir, request.fsync);
  switch (request.op) {
    case 'write': {
      const file = request.files[0];
      if (!file) throw new Error('a write without its file');
      return writer.write(request.path, file.data, { ...(request.mustExist ? { mustExist: true } : {}), ...(request.skipDirSync ? { skipDirSync: true } : {}) });
    }
    case 'writeAll':
      return writer.writeAll(request.files);
    case 'move':
      return writer.move(request.from, request.to, request.skipSync ? { skipSync: true } : {});
    case 'syncDir':
      return writer.syncDir(request.dir);
  }
}

parentPort?.on('message', (request: WriteRequest) => {
  perform(request).then(
    () => parentPort?.postMessage({ id: request.id } satisfies WriteReply),
    (error: unknown) => parentPort?.postMessage({ id: request.id, error: toWire(error) } satisfies WriteReply),
  );
});
// a request that cannot be read has no id to answer: end, so the engine's side fails what this thread had
parentPort?.on('messageerror', (error) => {
  throw error;
});

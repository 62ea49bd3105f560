/** The piscina worker: bytes in, thumbnails out. It knows nothing of the spool or the tree. */
import { getPriority, setPriority } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { workerData } from 'node:worker_threads';
import { loadersRestrictedByParent, makeThumbnails } from './pipeline.js';
import type { ThumbnailResult, ThumbnailTask } from './thumbnail-task.js';

const data = workerData as { nice?: number; loadersRestricted?: boolean } | undefined;
if (data?.loadersRestricted) loadersRestrictedByParent();

// On Linux a thread has its own nice value: lower only the sharp threads' priority.
const nice = data?.nice ?? 0;
if (nice > 0) {
  try {
    if (getPriority(0) < nice) setPriority(0, nice); // lower only, never raise
  } catch {
    // not allowed here: run at normal priority
  }
}

/**
 * An original handed over (transferred) stays in this thread's heap until its garbage collector runs,
 * and V8 starts one for external memory only past tens of MiB per thread: two threads kept 50-100 MiB
 * of finished originals alive on a corpus of camera photos. So after a large one the thread collects
 * at once (its heap is a few MiB: a millisecond or two, against hundreds for the image). `gc` is V8's,
 * exposed to a fresh context only (the usual way without a command-line flag, which a worker cannot take).
 */
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
/** Originals at least this large are collected right after their task. */
export const COLLECT_AFTER_BYTES = 1024 * 1024;

// Results are small (tens of kilobytes) and cross back by structured clone.
export default async function thumbnail(task: ThumbnailTask): Promise<ThumbnailResult> {
  const large = task.input.byteLength >= COLLECT_AFTER_BYTES;
  try {
    return await makeThumbnails(task);
  } finally {
    if (large) collect();
  }
}

/** The piscina worker: bytes in, thumbnails out. It knows nothing of the spool or the tree. */
import { setPriority } from 'node:os';
import { workerData } from 'node:worker_threads';
import { loadersRestrictedByParent, makeThumbnails } from './pipeline.js';
import type { ThumbnailResult, ThumbnailTask } from './thumbnail-task.js';

const data = workerData as { nice?: number; loadersRestricted?: boolean } | undefined;
if (data?.loadersRestricted) loadersRestrictedByParent();

// On Linux a thread has its own nice value: lower only the sharp threads' priority.
const nice = data?.nice ?? 0;
if (nice > 0) {
  try {
    setPriority(0, nice);
  } catch {
    // not allowed here: run at normal priority
  }
}

// Results are small (tens of kilobytes) and cross back by structured clone.
export default async function thumbnail(task: ThumbnailTask): Promise<ThumbnailResult> {
  return makeThumbnails(task);
}

/**
 * Images per class, for `status` and the page, without walking the tree: each engine run keeps the
 * changes it made (an image classed, reclassed) in memory and writes its totals to its own file,
 * `<tree>/.index/counts/<host>~<pid>~<run>.json`, at most once a second and when it stops; `imagesys
 * classify` adds its changes to `<host>~classify.json`; a reader adds up every file. A crash loses at
 * most the last second's changes; purge does not subtract what it removes.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AtomicWriter } from '../../spool/atomic.js';
import { IMAGE_CLASSES, type ImageClass, type ManifestClass } from '../core/image-class.js';
import { countsDir } from './layout.js';

export type ClassCounts = Record<ImageClass, number>;

const none = (): ClassCounts => ({ photo: 0, placeholder: 0, duplicate: 0 });
const FLUSH_EVERY_MS = 1_000;

/** Every engine's counts under `tree`, added up. */
export async function readClassCounts(tree: string): Promise<ClassCounts> {
  const total = none();
  const dir = countsDir(tree);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    try {
      const counts = JSON.parse(await readFile(join(dir, name), 'utf8')) as Partial<ClassCounts>;
      for (const c of IMAGE_CLASSES) if (Number.isFinite(counts[c])) total[c] += counts[c]!;
    } catch {
      // being replaced, or damaged: the next read has it
    }
  }
  return total;
}

/** This process's counts, written now and then. */
export class ClassCounter {
  private readonly totals = none();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly writer: AtomicWriter,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts from the totals its file holds (a file shared by runs: `imagesys classify`'s). */
  async load(): Promise<void> {
    try {
      const saved = JSON.parse(await readFile(this.path, 'utf8')) as Partial<ClassCounts>;
      for (const c of IMAGE_CLASSES) if (Number.isFinite(saved[c])) this.totals[c] = saved[c]!;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(error);
    }
  }

  /** One image more in `to` (and one less in `from`, when it was classed before). */
  moved(to: ManifestClass, from?: ManifestClass): void {
    if (from === to) return;
    // canaries are no images of the website's: not counted
    if (to !== 'canary') this.totals[to]++;
    if (from && from !== 'canary') this.totals[from]--;
    this.dirty = true;
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS).unref();
  }

  /** Writes the totals if they changed (a failure is retried at the next change). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return this.writing;
    this.dirty = false;
    const text = `${JSON.stringify(this.totals)}\n`;
    this.writing = this.writing.then(() => this.writer.write(this.path, text)).catch((error: unknown) => {
      this.dirty = true; // written with the next change
      this.onError(error);
    });
    return this.writing;
  }
}

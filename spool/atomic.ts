import { randomBytes } from 'node:crypto';
import { mkdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { closeFd, openDirectory, renamePath, syncDirectory, syncFd, writeWhole } from './fs-calls.js';
import { ownerTag, SELF } from './owner.js';
import type { WriteCall } from './write-protocol.js';
import type { WriteThread } from './write-thread.js';

/**
 * Temporary names are unique per process: a random part drawn once, and a counter (a random draw per
 * file cost the main thread more than the name is worth). Twelve hex digits, as before.
 */
const TMP_PREFIX = randomBytes(3).toString('hex');
let tmpCount = 0;
const tmpId = (): string => `${TMP_PREFIX}${(tmpCount++ & 0xffffff).toString(16).padStart(6, '0')}`;

/**
 * Writes files so that they appear whole or not at all: temporary name in `tmpDir` (same file
 * system), fsync, rename into place, fsync the directory. Readers never see a partial file.
 *
 * With a `thread` (the daemon's), every write, move and directory sync is sent there as one message
 * and done by an AtomicWriter without one, in that thread: the same calls, off the event loop.
 */
export class AtomicWriter {
  /** Directories known to exist; forgotten when a rename finds one gone (purge, an operator's rm). */
  private readonly madeDirs = new Set<string>();

  constructor(
    readonly tmpDir: string,
    readonly fsync: boolean,
    private readonly thread?: WriteThread,
  ) {}

  async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  /** A fresh temporary path, tagged with its writer so recovery knows whose it is. */
  tmpPath(finalPath: string): string {
    return join(this.tmpDir, `${ownerTag(SELF)}~${tmpId()}~${basename(finalPath)}`);
  }

  /**
   * Writes `path` whole. With `mustExist`, replaces an existing file only: a holder whose claim went
   * stale must not recreate a job that another engine has moved on. `handOver` as for writeAll.
   */
  async write(path: string, data: string | Uint8Array, options: { mustExist?: boolean; skipDirSync?: boolean; handOver?: boolean } = {}): Promise<void> {
    if (this.thread) {
      const { handOver, ...rest } = options;
      return this.sent({ op: 'write', path, ...rest, files: [{ path, data }] }, handOver);
    }
    await this.ensureDir(this.tmpDir);
    await this.ensureDir(dirname(path));
    const tmp = await this.stage(path, data);
    try {
      if (options.mustExist) await stat(path);
      await this.renameInto(tmp, path);
    } catch (error) {
      await unlink(tmp).catch(() => {});
      throw error;
    }
    if (this.fsync && !options.skipDirSync) await syncDir(dirname(path));
  }

  /** Makes earlier writes with `skipDirSync` durable: one directory sync for many files. */
  async syncDir(dir: string): Promise<void> {
    if (!this.fsync) return;
    if (this.thread) return this.sent({ op: 'syncDir', dir, files: [] });
    await syncDir(dir);
  }

  /**
   * Writes several files whole, in parallel, syncing each directory once at the end. Each file appears
   * whole; they do not appear together (write whatever must come last, like a manifest, afterwards).
   * `handOver`: the caller will not use the bytes again (a write thread may then take them over
   * instead of copying them).
   */
  async writeAll(files: ReadonlyArray<{ path: string; data: string | Uint8Array }>, options: { handOver?: boolean } = {}): Promise<void> {
    if (this.thread) return this.sent({ op: 'writeAll', files: [...files] }, options.handOver);
    await this.renameAll(files);
    if (this.fsync) await Promise.all([...new Set(files.map((f) => dirname(f.path)))].map(syncDir));
  }

  /**
   * writeAll(files), then the file `last()` gives (called once they are durable; it may throw to stop
   * there), written whole and its directory synced: a manifest after the files it lists. When `last`
   * goes to the directory of the files (the tree: an image's files and its manifest), that directory
   * is opened once for both syncs (open, fsync, fsync, close) instead of twice: the same guarantees,
   * two system calls fewer (in this thread; with a write thread, the files and `last` are two messages).
   */
  async writeAllThen(files: ReadonlyArray<{ path: string; data: string | Uint8Array }>, last: () => { path: string; data: string | Uint8Array }, options: { handOver?: boolean } = {}): Promise<void> {
    const dirs = [...new Set(files.map((f) => dirname(f.path)))];
    if (this.thread || !this.fsync || dirs.length !== 1) {
      await this.writeAll(files, options);
      const file = last();
      await this.write(file.path, file.data);
      return;
    }
    const dir = dirs[0]!;
    await this.renameAll(files);
    // opened after the renames: the directory they went to (renameInto may have made it again)
    const fd = await openDirectory(dir);
    try {
      await syncFd(fd);
      const file = last();
      if (dirname(file.path) !== dir) {
        await this.write(file.path, file.data);
        return;
      }
      const tmp = await this.stage(file.path, file.data);
      let remade: boolean;
      try {
        remade = await this.renameInto(tmp, file.path);
      } catch (error) {
        await unlink(tmp).catch(() => {});
        throw error;
      }
      // a directory made again meanwhile is not the one open here: sync the new one
      if (remade) await syncDir(dir);
      else await syncFd(fd);
    } finally {
      await closeFd(fd).catch(() => {});
    }
  }

  /** Stages files in parallel, then renames each into place (no directory sync). */
  private async renameAll(files: ReadonlyArray<{ path: string; data: string | Uint8Array }>): Promise<void> {
    await this.ensureDir(this.tmpDir);
    await Promise.all([...new Set(files.map((f) => dirname(f.path)))].map((dir) => this.ensureDir(dir)));
    const staged = await Promise.all(files.map(async (file) => ({ ...file, tmp: await this.stage(file.path, file.data) })));
    try {
      for (const file of staged) await this.renameInto(file.tmp, file.path);
    } catch (error) {
      await Promise.all(staged.map((file) => unlink(file.tmp).catch(() => {})));
      throw error;
    }
  }

  /** Writes data to a fresh temporary file and syncs it; returns the temporary's path. */
  private async stage(path: string, data: string | Uint8Array): Promise<string> {
    const tmp = this.tmpPath(path);
    try {
      await writeWhole(tmp, data, this.fsync);
      return tmp;
    } catch (error) {
      await unlink(tmp).catch(() => {});
      throw error;
    }
  }

  /**
   * Moves a file between directories of one file system: one rename, both directories synced, unless
   * `skipSync` (the caller can redo the move after a crash from what is already durable).
   */
  async move(from: string, to: string, options: { skipSync?: boolean } = {}): Promise<void> {
    if (this.thread) return this.sent({ op: 'move', from, to, ...options, files: [] });
    await this.ensureDir(dirname(to));
    await this.renameInto(from, to);
    if (this.fsync && !options.skipSync) {
      await syncDir(dirname(to));
      if (dirname(from) !== dirname(to)) await syncDir(dirname(from));
    }
  }

  /** The call, made by the write thread's writer for this one's folder. */
  private sent(call: WriteCall, handOver = false): Promise<void> {
    return this.thread!.run({ ...call, tmpDir: this.tmpDir, fsync: this.fsync }, handOver);
  }

  /** rename(2); when the target directory vanished since it was made, makes it again once (then true). */
  private async renameInto(from: string, to: string): Promise<boolean> {
    try {
      await renamePath(from, to);
      return false;
    } catch (error) {
      if (!isMissing(error)) throw error;
      await stat(from); // the source is gone: that is the caller's ENOENT
      this.madeDirs.delete(dirname(to));
      await this.ensureDir(dirname(to));
      await renamePath(from, to);
      return true;
    }
  }
}

export function syncDir(dir: string): Promise<void> {
  return syncDirectory(dir);
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

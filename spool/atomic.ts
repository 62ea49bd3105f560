import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ownerTag, SELF } from './owner.js';

/**
 * Writes files so that they appear whole or not at all: temporary name in `tmpDir` (same file
 * system), fsync, rename into place, fsync the directory. Readers never see a partial file.
 */
export class AtomicWriter {
  /** Directories known to exist; forgotten when a rename finds one gone (purge, an operator's rm). */
  private readonly madeDirs = new Set<string>();

  constructor(
    readonly tmpDir: string,
    readonly fsync: boolean,
  ) {}

  async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  /** A fresh temporary path, tagged with its writer so recovery knows whose it is. */
  tmpPath(finalPath: string): string {
    return join(this.tmpDir, `${ownerTag(SELF)}~${randomBytes(6).toString('hex')}~${basename(finalPath)}`);
  }

  /**
   * Writes `path` whole. With `mustExist`, replaces an existing file only: a holder whose claim went
   * stale must not recreate a job that another engine has moved on.
   */
  async write(path: string, data: string | Uint8Array, options: { mustExist?: boolean } = {}): Promise<void> {
    await this.ensureDir(this.tmpDir);
    await this.ensureDir(dirname(path));
    const tmp = this.tmpPath(path);
    let handle: FileHandle | undefined;
    try {
      handle = await open(tmp, 'w', 0o644);
      await handle.writeFile(data);
      if (this.fsync) await handle.sync();
      await handle.close();
      handle = undefined;
      if (options.mustExist) await stat(path);
      await this.renameInto(tmp, path);
    } catch (error) {
      await handle?.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw error;
    }
    if (this.fsync) await syncDir(dirname(path));
  }

  /** Moves a file between directories of one file system: one rename, both directories synced. */
  async move(from: string, to: string): Promise<void> {
    await this.ensureDir(dirname(to));
    await this.renameInto(from, to);
    if (this.fsync) {
      await syncDir(dirname(to));
      if (dirname(from) !== dirname(to)) await syncDir(dirname(from));
    }
  }

  /** rename(2); when the target directory vanished since it was made, makes it again once. */
  private async renameInto(from: string, to: string): Promise<void> {
    try {
      await rename(from, to);
    } catch (error) {
      if (!isMissing(error)) throw error;
      await stat(from); // the source is gone: that is the caller's ENOENT
      this.madeDirs.delete(dirname(to));
      await this.ensureDir(dirname(to));
      await rename(from, to);
    }
  }
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

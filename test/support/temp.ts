import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory, removed by the returned cleanup unless KEEP_TEST_DIRS is set. */
export async function tempDir(prefix = 'imagesys-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => (process.env.KEEP_TEST_DIRS ? Promise.resolve() : rm(dir, { recursive: true, force: true })) };
}

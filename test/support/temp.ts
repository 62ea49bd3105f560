import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invalidManifestsUnder } from './manifest-schema.js';

/**
 * A fresh temporary directory, removed by the returned cleanup unless KEEP_TEST_DIRS is set. Before
 * it goes, every manifest in it is checked against the manifest's JSON Schema: a test whose product
 * wrote one that does not validate fails at its cleanup, naming the file and what is wrong.
 */
export async function tempDir(prefix = 'imagesys-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const cleanup = async (): Promise<void> => {
    const { invalid } = await invalidManifestsUnder(dir);
    if (!process.env.KEEP_TEST_DIRS) await rm(dir, { recursive: true, force: true });
    if (invalid.length > 0) throw new Error(`manifests that do not validate against engine/tree/manifest.v1.schema.json:\n${invalid.slice(0, 10).join('\n')}`);
  };
  return { dir, cleanup };
}

import type { Dirent } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { isMissing } from './atomic.js';

/**
 * A directory's entries, streamed (a state directory may hold a million jobs); none when the
 * directory does not exist. Leaving the loop early closes the directory.
 */
export async function* entriesOf(path: string): AsyncGenerator<Dirent> {
  let dir;
  try {
    dir = await opendir(path, { bufferSize: 256 });
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }
  yield* dir;
}

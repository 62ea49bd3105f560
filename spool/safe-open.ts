/**
 * Opens a file that anyone who can write the spool may have put there: never follows a symbolic link,
 * never blocks on a FIFO or a device (O_NONBLOCK), and accepts only a regular file of bounded size.
 * What it refuses comes back with a one-line reason.
 */
import { close as fsClose, constants, fstat, open as fsOpen, read as fsRead, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { isMissing } from './atomic.js';

export type SafeOpen = { handle: FileHandle; size: number } | { missing: true } | { refused: string };

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Opens `path` for reading if it is a regular file of at most `maxBytes` (the caller closes it). */
export async function openRegular(path: string, maxBytes = Number.POSITIVE_INFINITY): Promise<SafeOpen> {
  let handle: FileHandle;
  try {
    handle = await open(path, FLAGS);
  } catch (error) {
    if (isMissing(error)) return { missing: true };
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') return { refused: 'a symbolic link: only regular files are read' };
    throw error;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      return { refused: `${kindOf(stats)}: only regular files are read` };
    }
    if (stats.size > maxBytes) {
      await handle.close();
      return { refused: `${stats.size} bytes, more than the ${maxBytes} allowed` };
    }
    return { handle, size: stats.size };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

/**
 * Reads a whole regular file of at most `maxBytes`, with the checks of openRegular. Over fs's callback
 * API (open, fstat, reads to the end, close): the same calls as a FileHandle's, at a fraction of the
 * event loop's cost; intake looks for a manifest this way for every new URL.
 */
export function readRegularBytes(path: string, maxBytes: number): Promise<{ bytes: Buffer } | { missing: true } | { refused: string }> {
  return new Promise((resolve, reject) => {
    fsOpen(path, FLAGS, (openError, fd) => {
      if (openError) {
        if (isMissing(openError)) resolve({ missing: true });
        else if (openError.code === 'ELOOP') resolve({ refused: 'a symbolic link: only regular files are read' });
        else reject(openError);
        return;
      }
      const finish = (error: Error | null, result?: { bytes: Buffer } | { refused: string }): void => {
        fsClose(fd, (closeError) => {
          const failed = error ?? closeError;
          if (failed) reject(failed);
          else resolve(result!);
        });
      };
      fstat(fd, (statError, stats) => {
        if (statError) return finish(statError);
        if (!stats.isFile()) return finish(null, { refused: `${kindOf(stats)}: only regular files are read` });
        if (stats.size > maxBytes) return finish(null, { refused: `${stats.size} bytes, more than the ${maxBytes} allowed` });
        // to the end, as readFile does (a file that grew since fstat is read whole)
        let buffer = Buffer.allocUnsafe(Math.max(stats.size, 1));
        let length = 0;
        const more = (): void => {
          if (length === buffer.length) {
            const bigger = Buffer.allocUnsafe(buffer.length * 2);
            buffer.copy(bigger, 0, 0, length);
            buffer = bigger;
          }
          fsRead(fd, buffer, length, buffer.length - length, null, (readError, read) => {
            if (readError) return finish(readError);
            if (read === 0) return finish(null, { bytes: length === buffer.length ? buffer : buffer.subarray(0, length) });
            length += read;
            more();
          });
        };
        more();
      });
    });
  });
}

/** Reads a whole regular file of at most `maxBytes` as UTF-8 (a byte-order mark dropped). */
export async function readRegular(path: string, maxBytes: number): Promise<{ text: string } | { missing: true } | { refused: string }> {
  const read = await readRegularBytes(path, maxBytes);
  if (!('bytes' in read)) return read;
  const text = read.bytes.toString('utf8');
  return { text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
}

/** Bytes of a state, status or manifest file the engine writes itself: anything larger is not its own. */
export const OWN_FILE_BYTES = 16 * 1024 * 1024;

/**
 * A file the engine wrote itself (a manifest, a state file, a backlog note), read as text without
 * following a link or blocking on a FIFO that someone put in its place; undefined when it is missing
 * or not a regular file of at most `maxBytes`.
 */
export async function readOwnText(path: string, maxBytes = OWN_FILE_BYTES): Promise<string | undefined> {
  const read = await readRegular(path, maxBytes);
  return 'text' in read ? read.text : undefined;
}

export function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** Running other programs from a bench: the promise form of execFile, their errors as one line, binaries. */
import { execFile } from 'node:child_process';
import { open, realpath } from 'node:fs/promises';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);

/** A failed run (or any error) as one short line: the program's stderr if it wrote one, else the message. */
export function errorText(error: unknown): string {
  const e = error as { stderr?: string | Buffer; message?: string } | null;
  const stderr = e?.stderr ? String(e.stderr).trim() : '';
  return (stderr || e?.message || String(error)).replace(/\s+/g, ' ').slice(0, 300);
}

/** Whether `path` (links followed) is an ELF binary rather than, say, a stand-in script. */
export async function isElf(path: string): Promise<boolean> {
  const handle = await open(await realpath(path), 'r');
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    await handle.close();
  }
}

/**
 * The expiry index: which images were made or refreshed on which day, so that purge reads only the
 * days that have expired instead of walking a tree of millions of files.
 *
 * `spool/.expiry/<yyyy-mm-dd>/<host>~<pid>.log`, one line per event: `<country> <hash>`. Appends only,
 * one file per writer (no two processes append to one file, which NFS would not make atomic). An image
 * refreshed every day is listed every day; purge checks each candidate's real mtime in the tree.
 */
import { mkdir, open, opendir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isMissing } from './atomic.js';
import { ownerTag, SELF } from './owner.js';

export function expiryDir(spool: string): string {
  return join(spool, '.expiry');
}

/** The UTC day of a moment: the index's bucket name. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const LINE_PATTERN = /^([a-z]{2,3}) ([0-9a-f]{32})$/;

/** Parses an index file; a torn last line (a crash mid-append) is skipped. Pure. */
export function parseExpiryLines(text: string): Array<{ country: string; hash: string }> {
  const out: Array<{ country: string; hash: string }> = [];
  for (const line of text.split('\n')) {
    const match = LINE_PATTERN.exec(line);
    if (match) out.push({ country: match[1]!, hash: match[2]! });
  }
  return out;
}

/** Appends to today's file; the handle is kept open for the day. */
export class ExpiryLog {
  private day = '';
  private handle: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;

  constructor(private readonly spool: string) {}

  async record(country: string, hash: string, at: Date): Promise<void> {
    const handle = await this.handleFor(dayOf(at));
    await handle.write(`${country} ${hash}\n`);
  }

  private async handleFor(day: string): Promise<FileHandle> {
    if (day === this.day && this.handle) return this.handle;
    if (day === this.day && this.opening) return this.opening;
    const previous = this.handle;
    this.day = day;
    this.handle = undefined;
    this.opening = (async () => {
      await previous?.close().catch(() => {});
      const dir = join(expiryDir(this.spool), day);
      await mkdir(dir, { recursive: true });
      const handle = await open(join(dir, `${ownerTag(SELF)}.log`), 'a');
      this.handle = handle;
      return handle;
    })();
    return this.opening;
  }

  async close(): Promise<void> {
    await this.handle?.close().catch(() => {});
    this.handle = undefined;
    this.day = '';
  }
}

/** Days in the index strictly before `day`, oldest first. */
export async function daysBefore(spool: string, day: string): Promise<string[]> {
  const days: string[] = [];
  try {
    for await (const entry of await opendir(expiryDir(spool))) if (DAY_PATTERN.test(entry.name) && entry.name < day) days.push(entry.name);
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  return days.sort();
}

/** Every entry of one day, from all writers. */
export async function readDay(spool: string, day: string): Promise<Array<{ country: string; hash: string }>> {
  const dir = join(expiryDir(spool), day);
  const out: Array<{ country: string; hash: string }> = [];
  try {
    for await (const entry of await opendir(dir)) out.push(...parseExpiryLines(await readFile(join(dir, entry.name), 'utf8')));
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  return out;
}

export async function removeDay(spool: string, day: string): Promise<void> {
  await rm(join(expiryDir(spool), day), { recursive: true, force: true });
}

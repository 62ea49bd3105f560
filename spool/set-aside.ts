/**
 * Sets aside what the spool will not read (a FIFO, a symbolic link, a directory, a file whose name is
 * too long): renamed as it is (rename never follows a link nor opens a FIFO) into failed/<cc>/ as
 * `<name>.refused`, with a one-line reason in `<name>.error` beside it. Nothing opens a `.refused`
 * entry; `mv failed/uk/<name>.refused incoming/uk/<name>` tries it again. A name that is itself too
 * long is replaced by `long-name-<hash of the name>`.
 */
import { lstat, unlink } from 'node:fs/promises';
import { hashOfText } from '../engine/core/hash.js';
import { isMissing } from './atomic.js';
import { entryPath, type State } from './layout.js';
import { nameProblem } from './limits.js';
import type { Spool } from './spool.js';

export const REFUSED_SUFFIX = '.refused';
export const REASON_SUFFIX = '.error';

/** The name under which an entry called `name` is set aside (without suffix). Pure. */
export function setAsideBase(name: string): string {
  return nameProblem(name) ? `long-name-${hashOfText(name)}` : name;
}

/**
 * Moves `<state>/<country>/<name>` aside; the path it now has, or undefined when it was gone. The
 * reason is written first: a crash in between leaves the entry where it was, to be refused again.
 */
export async function setAside(spool: Spool, state: State, country: string, name: string, reason: string): Promise<string | undefined> {
  try {
    return await setAsideAs(spool, state, country, name, reason, setAsideBase(name));
  } catch (error) {
    // something set aside under that name before is a directory (rename cannot replace it): a name of its own
    if (!['EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    return setAsideAs(spool, state, country, name, reason, `${setAsideBase(name)}~${spool.now().getTime()}`);
  }
}

async function setAsideAs(spool: Spool, state: State, country: string, name: string, reason: string, base: string): Promise<string | undefined> {
  const target = entryPath(spool.root, 'failed', country, `${base}${REFUSED_SUFFIX}`);
  const reasonPath = entryPath(spool.root, 'failed', country, `${base}${REASON_SUFFIX}`);
  await spool.writer.write(reasonPath, `${reason} (was ${state}/${country}/${name}, set aside ${spool.now().toISOString()})\n`);
  try {
    await spool.writer.move(entryPath(spool.root, state, country, name), target);
  } catch (error) {
    if (!isMissing(error)) throw error;
    // gone: set aside by another engine (its reason is the same file), or never there
    if (!(await lstat(target).then(() => true, () => false))) await unlink(reasonPath).catch(() => {});
    return undefined;
  }
  return target;
}

/**
 * A job file that was read but is not a job (corrupt, half written long ago) goes to failed/ under its
 * own name, replaced by a note of why, what it held (its start) and when.
 */
export async function setAsideUnreadable(spool: Spool, state: State, country: string, name: string, reason: string, text: string): Promise<void> {
  const note = { errorCode: 'bad_job', error: reason, original: text.slice(0, 4096), updatedAt: spool.now().toISOString() };
  const from = entryPath(spool.root, state, country, name);
  await spool.writer.write(from, `${JSON.stringify(note, null, 2)}\n`);
  await spool.writer.move(from, entryPath(spool.root, 'failed', country, name));
}

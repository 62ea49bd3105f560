/**
 * The canaries' records in the spool (`.canary/<slot>.json`, spool/layout.ts). A slot is claimed by
 * hard-linking a whole temporary file to its name: the link fails if another engine (on this host or
 * another over NFS) got there first, so one canary goes out per interval whoever is running.
 */
import { link, open, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import type { AtomicWriter } from '../../spool/atomic.js';
import { isMissing, syncDir } from '../../spool/atomic.js';
import { canaryDir, canaryRecordPath, canaryServedPath } from '../../spool/layout.js';
import { readOwnText } from '../../spool/safe-open.js';
import { parseRecord, type CanaryRecord } from './record.js';

/** Records kept: the newest ones, enough for status and a look back over a few hours. */
export const RECORDS_KEPT = 48;

const RECORD_NAME = /^(\d+)\.json$/;

/** Writes `record` as its slot's record unless one is there: true when this engine got the slot. */
export async function claimSlot(writer: AtomicWriter, spool: string, record: CanaryRecord): Promise<boolean> {
  const path = canaryRecordPath(spool, record.slot);
  await writer.ensureDir(canaryDir(spool));
  await writer.ensureDir(writer.tmpDir);
  const tmp = writer.tmpPath(path);
  const file = await open(tmp, 'wx');
  try {
    await file.writeFile(`${JSON.stringify(record, null, 2)}\n`);
    if (writer.fsync) await file.sync();
  } finally {
    await file.close();
  }
  try {
    await link(tmp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  if (writer.fsync) await syncDir(canaryDir(spool));
  return true;
}

/** Replaces a record this engine holds (its slot claimed by claimSlot). */
export function saveRecord(writer: AtomicWriter, spool: string, record: CanaryRecord): Promise<void> {
  return writer.write(canaryRecordPath(spool, record.slot), `${JSON.stringify(record, null, 2)}\n`);
}

/** The slots that have a record, newest first. */
async function slots(spool: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(canaryDir(spool));
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
  return names.flatMap((name) => {
    const match = RECORD_NAME.exec(name);
    return match ? [Number(match[1])] : [];
  }).sort((a, b) => b - a);
}

/** The record of `slot`, or undefined (none, or damaged). */
export async function readRecord(spool: string, slot: number): Promise<CanaryRecord | undefined> {
  const text = await readOwnText(canaryRecordPath(spool, slot)).catch(() => undefined);
  return text === undefined ? undefined : parseRecord(text);
}

/** Notes when the canary's picture was first served (by whichever daemon's server): later serves change nothing. */
export async function markServed(spool: string, slot: number, at: string): Promise<void> {
  await writeFile(canaryServedPath(spool, slot), `${at}\n`, { flag: 'wx' }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
}

/** When the canary's picture was first served, if it was. */
export async function servedAt(spool: string, slot: number): Promise<string | undefined> {
  const text = (await readFile(canaryServedPath(spool, slot), 'utf8').catch(() => '')).trim();
  return Number.isNaN(Date.parse(text)) || text === '' ? undefined : text;
}

/** The newest `limit` records (a damaged one is left out). */
export async function readRecords(spool: string, limit = RECORDS_KEPT): Promise<CanaryRecord[]> {
  const texts = await Promise.all((await slots(spool)).slice(0, limit).map((slot) => readOwnText(canaryRecordPath(spool, slot)).catch(() => undefined)));
  return texts.flatMap((text) => {
    const record = text === undefined ? undefined : parseRecord(text);
    return record ? [record] : [];
  });
}

/** Removes all but the newest RECORDS_KEPT records (and their served marks). */
export async function pruneRecords(spool: string): Promise<void> {
  for (const slot of (await slots(spool)).slice(RECORDS_KEPT)) {
    await unlink(canaryRecordPath(spool, slot)).catch(() => {});
    await unlink(canaryServedPath(spool, slot)).catch(() => {});
  }
}

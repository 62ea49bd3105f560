/**
 * The arrival log: the order in which jobs came into incoming/, so that a backlog of a million jobs is
 * worked through oldest first without reading the directory (or the jobs) into memory.
 *
 * `spool/.arrivals/<cc>/<time>~<host>~<pid>~<seq>.log` are segments, one job file name per line.
 * A writer (intake, `imagesys enqueue`, `retry`) appends to its own hidden open segment
 * (`.<name>.open`) and closes it by renaming it to its final name after SEGMENT_LINES lines or
 * SEGMENT_MS, and when it stops. Readers take closed segments in name order (by time), each under a
 * claim so that engines share the backlog rather than race through the same part of it, offer their
 * lines, and remove them. A job whose line is lost (a writer killed before its segment was closed and
 * recovered, a reader killed before its queue was worked off) is still in incoming/: the engine's
 * full scan finds it once the log is empty. The log orders work; it never decides whether work exists.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { entriesOf } from './dirs.js';
import { isMissing } from './atomic.js';
import { ABANDONED_TMP_MS } from './recovery.js';
import { isOwnerDead, ownerTag, SELF } from './owner.js';

/** A segment is closed after this many lines, or this long after its first line. */
const SEGMENT_LINES = 10_000;
const SEGMENT_MS = 2_000;

const CLOSED = /^(\d{15})~[^~]+~\d+~\d+\.log$/;
const JOB_LINE = /^[^./][^/]*\.job$/;
const OPEN = /^\.((\d{15})~([^~]+)~(\d+)~\d+\.log)\.open$/;

export function arrivalsDir(spool: string, country: string): string {
  return join(spool, '.arrivals', country);
}

interface OpenSegment {
  handle: FileHandle;
  openPath: string;
  closedPath: string;
  lines: number;
  timer: NodeJS.Timeout;
}

/** One process's appends, per country. */
/** Segment names are unique per process, whatever the number of writers in it. */
let nextSeq = 0;

export class ArrivalWriter {
  private readonly segments = new Map<string, OpenSegment>();
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly spool: string) {}

  /** Records that these job files arrived in incoming/<country>/ (in this order). */
  append(country: string, names: readonly string[]): Promise<void> {
    if (names.length === 0) return Promise.resolve();
    // appends are serialised: lines of one segment stay whole and in order
    const next = this.chain.then(() => this.appendNow(country, names));
    this.chain = next.catch(() => {});
    return next;
  }

  /** True while a segment of the country is open: lines written that no reader can see yet. */
  holdsOpenSegment(country: string): boolean {
    return this.segments.has(country);
  }

  /** Closes every open segment: readers see them from now on. */
  async close(): Promise<void> {
    await this.chain;
    for (const country of [...this.segments.keys()]) await this.closeSegment(country);
  }

  private async appendNow(country: string, names: readonly string[]): Promise<void> {
    let segment = this.segments.get(country);
    if (!segment) {
      const dir = arrivalsDir(this.spool, country);
      await mkdir(dir, { recursive: true });
      const name = `${String(Date.now()).padStart(15, '0')}~${ownerTag(SELF)}~${nextSeq++}.log`;
      const openPath = join(dir, `.${name}.open`);
      // a segment that cannot be closed now is closed at stop, or by recovery after a crash
      const timer = setTimeout(() => void this.chain.then(() => this.closeSegment(country)).catch(() => {}), SEGMENT_MS);
      timer.unref();
      segment = { handle: await open(openPath, 'a'), openPath, closedPath: join(dir, name), lines: 0, timer };
      this.segments.set(country, segment);
    }
    await segment.handle.write(`${names.join('\n')}\n`);
    segment.lines += names.length;
    if (segment.lines >= SEGMENT_LINES) await this.closeSegment(country);
  }

  private async closeSegment(country: string): Promise<void> {
    const segment = this.segments.get(country);
    if (!segment) return;
    this.segments.delete(country);
    clearTimeout(segment.timer);
    await segment.handle.close();
    await rename(segment.openPath, segment.closedPath);
  }
}

/** Closed segments of a country, oldest first (a few hundred for a million jobs). */
export async function closedSegments(spool: string, country: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of entriesOf(arrivalsDir(spool, country))) if (CLOSED.test(entry.name)) names.push(entry.name);
  return names.sort();
}

/**
 * The job file names of one segment, streamed. A writer killed mid-line leaves half a name: only
 * whole `<name>.job` lines count (the job of a half line is found by the full scan).
 */
export async function* segmentLines(spool: string, country: string, segment: string): AsyncGenerator<string> {
  const input = createReadStream(join(arrivalsDir(spool, country), segment), { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (JOB_LINE.test(line)) yield line;
  } catch (error) {
    if (isMissing(error)) return; // another engine finished it meanwhile
    throw error;
  } finally {
    lines.close();
    input.destroy();
  }
}

export async function removeSegment(spool: string, country: string, segment: string): Promise<void> {
  await unlink(join(arrivalsDir(spool, country), segment)).catch((error) => {
    if (!isMissing(error)) throw error;
  });
}

/** Open segments of writers that died are closed (at once on this host, after an hour elsewhere). */
export async function closeAbandonedSegments(spool: string, country: string, now = Date.now()): Promise<number> {
  let closed = 0;
  const dir = arrivalsDir(spool, country);
  for await (const entry of entriesOf(dir)) {
    const match = OPEN.exec(entry.name);
    if (!match) continue;
    const owner = { host: match[3]!, pid: Number(match[4]) };
    const abandoned = isOwnerDead(owner) || (owner.host !== SELF.host && now - Number(match[2]) > ABANDONED_TMP_MS);
    if (!abandoned) continue;
    await rename(join(dir, entry.name), join(dir, match[1]!)).catch(() => {});
    closed++;
  }
  return closed;
}

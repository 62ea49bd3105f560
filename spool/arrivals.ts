/**
 * The arrival log: the order in which jobs came into incoming/, so that a backlog of a million jobs is
 * worked through oldest first without reading the directory (or the jobs) into memory.
 *
 * `spool/.arrivals/<cc>/<time>~<host>~<pid>~<seq>.log` are segments, one job file name per line,
 * optionally followed by a tab and the host (host:port) its URL is fetched from, so that the engine
 * can serve hosts in turn without reading the job first.
 * A writer (intake, `imagesys enqueue`, `retry`) appends to its own hidden open segment
 * (`.<name>.open`) and closes it by renaming it to its final name after SEGMENT_LINES lines or
 * SEGMENT_MS, and when it stops. Readers take closed segments in name order (by time), each under a
 * claim so that engines share the backlog rather than race through the same part of it, offer their
 * lines, and remove them. A job whose line is lost (a writer killed before its segment was closed and
 * recovered, a reader killed before its queue was worked off) is still in incoming/: the engine's
 * full scan finds it once the log is empty. The log orders work; it never decides whether work exists.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rmdir, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { entriesOf } from './dirs.js';
import { isMissing } from './atomic.js';
import { openRegular } from './safe-open.js';
import { ABANDONED_TMP_MS } from './recovery.js';
import { isOwnerDead, ownerTag, SELF } from './owner.js';
import { arrivalLogDir } from './layout.js';
import { systemClock, type Clock } from '../engine/core/clock.js';

/** A segment is closed after this many lines, or this long after its first line. */
const SEGMENT_LINES = 10_000;
const SEGMENT_MS = 2_000;

const CLOSED = /^(\d{15})~[^~]+~\d+~\d+\.log$/;
const JOB_LINE = /^([^./\t][^/\t]*\.job)(?:\t([^\s/]{1,300}))?$/;

/** One line of a segment: a job file name and, when known, the host its URL is fetched from. */
export interface ArrivalLine {
  name: string;
  host?: string;
}

function encodeLine(line: string | ArrivalLine): string {
  if (typeof line === 'string') return line;
  return line.host && /^[^\s/]{1,300}$/.test(line.host) ? `${line.name}\t${line.host}` : line.name;
}

/** A line as read back; undefined for half a line (a writer killed mid-line) or anything else. Pure. */
export function decodeLine(text: string): ArrivalLine | undefined {
  const match = JOB_LINE.exec(text);
  if (!match) return undefined;
  return match[2] ? { name: match[1]!, host: match[2] } : { name: match[1]! };
}
const OPEN = /^\.((\d{15})~([^~]+)~(\d+)~\d+\.log)\.open$/;

/**
 * A country's log, or with `host` that host's overflow log (`.arrivals/<cc>/@<host>/`): lines of a
 * host that already has its share of the engine's queue wait there, read only when it has room again.
 */
export function arrivalsDir(spool: string, country: string, host?: string): string {
  return arrivalLogDir(spool, country, host === undefined ? undefined : overflowDirName(host));
}

/** `@<host>`, or `@h-<digest>` for a host too long (or odd) for a directory name. Pure. */
export function overflowDirName(host: string): string {
  return /^[A-Za-z0-9.:[\]_-]{1,200}$/.test(host) ? `@${host}` : `@h-${createHash('sha256').update(host).digest('hex').slice(0, 32)}`;
}

/** The overflow logs of a country, by directory name (each holds one host's lines). */
export async function overflowLogs(spool: string, country: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of entriesOf(arrivalsDir(spool, country))) if (entry.isDirectory() && entry.name.startsWith('@')) out.push(entry.name);
  return out.sort();
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

  /** `clock` names the segments: by time, so that readers take them oldest first. */
  constructor(
    private readonly spool: string,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * Records that these job files arrived in incoming/<country>/ (in this order); with `host`, in that
   * host's overflow log.
   */
  append(country: string, names: ReadonlyArray<string | ArrivalLine>, host?: string): Promise<void> {
    if (names.length === 0) return Promise.resolve();
    // appends are serialised: lines of one segment stay whole and in order
    const next = this.chain.then(() => this.appendNow(country, names, host));
    this.chain = next.catch(() => {});
    return next;
  }

  /** True while a segment of the country's log (or a host's overflow log) is open: lines no reader can see yet. */
  holdsOpenSegment(country: string, host?: string): boolean {
    return this.segments.has(segmentKey(country, host));
  }

  /** True while any segment of the country is open, in its log or in an overflow log. */
  holdsAnyOpenSegment(country: string): boolean {
    const prefix = segmentKey(country, undefined);
    for (const key of this.segments.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /** Closes every open segment: readers see them from now on. */
  async close(): Promise<void> {
    await this.chain;
    for (const key of [...this.segments.keys()]) await this.closeSegment(key);
  }

  private async appendNow(country: string, names: ReadonlyArray<string | ArrivalLine>, host: string | undefined): Promise<void> {
    const key = segmentKey(country, host);
    let segment = this.segments.get(key);
    if (!segment) {
      const dir = arrivalsDir(this.spool, country, host);
      await mkdir(dir, { recursive: true });
      const name = `${String(this.clock()).padStart(15, '0')}~${ownerTag(SELF)}~${nextSeq++}.log`;
      const openPath = join(dir, `.${name}.open`);
      // a segment that cannot be closed now is closed at stop, or by recovery after a crash
      const timer = setTimeout(() => void this.chain.then(() => this.closeSegment(key)).catch(() => {}), SEGMENT_MS);
      timer.unref();
      segment = { handle: await open(openPath, 'a'), openPath, closedPath: join(dir, name), lines: 0, timer };
      this.segments.set(key, segment);
    }
    await segment.handle.write(`${names.map(encodeLine).join('\n')}\n`);
    segment.lines += names.length;
    if (segment.lines >= SEGMENT_LINES) await this.closeSegment(key);
  }

  private async closeSegment(key: string): Promise<void> {
    const segment = this.segments.get(key);
    if (!segment) return;
    this.segments.delete(key);
    clearTimeout(segment.timer);
    await segment.handle.close();
    await rename(segment.openPath, segment.closedPath);
  }
}

const segmentKey = (country: string, host: string | undefined): string => `${country}\0${host ?? ''}`;

/**
 * Closed segments of a country's log (or of an overflow log: `overflow` is its directory name),
 * oldest first (a few hundred for a million jobs).
 */
export async function closedSegments(spool: string, country: string, overflow?: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of entriesOf(logDir(spool, country, overflow))) if (CLOSED.test(entry.name)) names.push(entry.name);
  return names.sort();
}

function logDir(spool: string, country: string, overflow: string | undefined): string {
  return arrivalLogDir(spool, country, overflow);
}

/**
 * The lines of one segment, streamed. A writer killed mid-line leaves half a line: only whole
 * `<name>.job` lines count (the job of a half line is found by the full scan).
 */
export async function* segmentLines(spool: string, country: string, segment: string, overflow?: string): AsyncGenerator<ArrivalLine> {
  // the spool is writable by others: a segment is read only as a regular file, never through a link
  const opened = await openRegular(join(logDir(spool, country, overflow), segment));
  if (!('handle' in opened)) return;
  const input = opened.handle.createReadStream({ encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      const line = decodeLine(text);
      if (line) yield line;
    }
  } catch (error) {
    if (isMissing(error)) return; // another engine finished it meanwhile
    throw error;
  } finally {
    lines.close();
    input.destroy();
  }
}

/**
 * Replaces a closed segment by the lines of it still to feed, under the same name (so it keeps its
 * place, oldest first): a whole new file renamed over it. The caller holds the segment's claim.
 */
export async function replaceSegment(spool: string, country: string, segment: string, lines: readonly ArrivalLine[], overflow?: string): Promise<void> {
  const dir = logDir(spool, country, overflow);
  const tmp = join(dir, `.${segment}.${ownerTag(SELF)}${REWRITE_SUFFIX}`);
  await writeFile(tmp, `${lines.map(encodeLine).join('\n')}\n`);
  await rename(tmp, join(dir, segment));
}

export async function removeSegment(spool: string, country: string, segment: string, overflow?: string): Promise<void> {
  await unlink(join(logDir(spool, country, overflow), segment)).catch((error: unknown) => {
    if (!isMissing(error)) throw error;
  });
}

/**
 * Open segments of writers that died are closed (at once on this host, after an hour without a write
 * elsewhere), in the country's log and its overflow logs. `now`: the file system's time (Spool.fsTime),
 * always given: a default of this host's clock would undo the skew-proofing for a caller who forgot it.
 */
export async function closeAbandonedSegments(spool: string, country: string, now: number): Promise<number> {
  let closed = 0;
  for (const dir of [arrivalLogDir(spool, country), ...(await overflowLogs(spool, country)).map((o) => arrivalLogDir(spool, country, o))]) closed += await closeAbandonedIn(dir, now);
  return closed;
}

const REWRITE_SUFFIX = '.rewrite';
/** `.<segment>.<host>~<pid>.rewrite`: replaceSegment's temporary. */
const REWRITE = /^\.(\d{15})~[^~]+~\d+~\d+\.log\.([^~]+)~(\d+)\.rewrite$/;

async function closeAbandonedIn(dir: string, now: number): Promise<number> {
  let closed = 0;
  for await (const entry of entriesOf(dir)) {
    const rewrite = REWRITE.exec(entry.name);
    if (rewrite) {
      // a replacement its writer did not get to rename over the segment: the segment is still whole
      const writer = { host: rewrite[2]!, pid: Number(rewrite[3]) };
      if (isOwnerDead(writer) || (writer.host !== SELF.host && (await idleFor(join(dir, entry.name), now)) > ABANDONED_TMP_MS)) await unlink(join(dir, entry.name)).catch(() => {});
      continue;
    }
    const match = OPEN.exec(entry.name);
    if (!match) continue;
    const owner = { host: match[3]!, pid: Number(match[4]) };
    const abandoned = isOwnerDead(owner) || (owner.host !== SELF.host && (await idleFor(join(dir, entry.name), now)) > ABANDONED_TMP_MS);
    if (!abandoned) continue;
    await rename(join(dir, entry.name), join(dir, match[1]!)).catch(() => {});
    closed++;
  }
  return closed;
}

/**
 * How long a file of another host's writer has not been written, by the file system's time (`now`,
 * Spool.fsTime) against its mtime, both stamped by the file server: not by the time in its name,
 * which is the writer's clock (a host an hour ahead would close live segments). 0 when gone.
 */
async function idleFor(path: string, now: number): Promise<number> {
  try {
    return now - (await stat(path)).mtimeMs;
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
}

/** Removes an overflow log's directory once it is empty; one that is not (a segment came meanwhile) stays. */
export async function removeEmptyOverflow(spool: string, country: string, overflow: string): Promise<void> {
  await rmdir(arrivalLogDir(spool, country, overflow)).catch(() => {});
}

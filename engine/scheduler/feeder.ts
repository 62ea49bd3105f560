import { closedSegments, overflowLogs, removeEmptyOverflow, removeSegment, replaceSegment, segmentLines, type ArrivalLine } from '../../spool/arrivals.js';
import { arrivalOf, type Job } from '../../spool/job.js';
import type { Spool } from '../../spool/spool.js';
import type { Candidate, Queues } from './queues.js';

/** A candidate for the download stage from a line of the arrival log. */
export function candidateOf(country: string, line: ArrivalLine): Candidate {
  return line.host ? { state: 'incoming', country, name: line.name, host: line.host } : { state: 'incoming', country, name: line.name };
}

/** Lines grouped by a key (their host, their country), in order. */
function pushTo(groups: Map<string, ArrivalLine[]>, key: string, line: ArrivalLine): void {
  const lines = groups.get(key);
  if (lines) lines.push(line);
  else groups.set(key, [line]);
}

/**
 * The arrival log into the download queue, in arrival order: closed segments of all countries, oldest
 * first, each under a claim (engines share the backlog), waiting for queue space; a segment is removed
 * once all its lines are queued. A host whose line in the queue is full is not let in: its lines go to
 * its overflow log, read again once its line is down to half its share, so that no host's backlog
 * blocks another's. While a country's log holds work, new jobs of that country queue behind it.
 */
export class ArrivalFeeder {
  private feeding: Promise<number> | undefined;
  /** Countries whose arrival log this engine is feeding now: their jobs are queued in arrival order. */
  private readonly feedingSegment = new Set<string>();
  /** Countries whose arrival log may hold jobs not fed yet: new jobs of theirs queue behind them. */
  private readonly logPending: Set<string>;

  constructor(
    private readonly spool: Spool,
    private readonly countries: readonly string[],
    private readonly queues: Queues,
    private readonly isStopping: () => boolean,
  ) {
    this.logPending = new Set(countries);
  }

  /** Resolves when the feed in progress (if any) has ended. */
  settled(): Promise<unknown> {
    return this.feeding ?? Promise.resolve();
  }

  /**
   * A job intake has just made: straight into the queue while nothing older waits in the arrival log
   * and there is room; otherwise it is written to the log, behind what came before it.
   */
  async takeFresh(country: string, job: Job): Promise<void> {
    const line = arrivalOf(job);
    const candidate: Candidate = { state: 'incoming', country, name: line.name, fresh: job, ...(line.host ? { host: line.host } : {}) };
    if (!this.logPending.has(country) && !this.feedingSegment.has(country) && !this.queues.hostLineFull(candidate) && this.queues.offerNow(candidate)) return;
    this.logPending.add(country);
    await this.spool.arrivals.append(country, [line]);
  }

  /** Incoming jobs queued or waiting for their backoff, at a stop: back into the arrival log, keeping their hosts. */
  async journal(waiting: readonly Candidate[], onError: (error: unknown, country: string) => void): Promise<void> {
    const byCountry = new Map<string, ArrivalLine[]>();
    for (const { country, name, host } of waiting) pushTo(byCountry, country, host ? { name, host } : { name });
    for (const [country, lines] of byCountry) await this.spool.arrivals.append(country, lines).catch((error: unknown) => onError(error, country));
  }

  /** Feeds what the log holds; returns how many lines it fed. One feed at a time. */
  feed(): Promise<number> {
    this.feeding ??= this.feedNow().finally(() => (this.feeding = undefined));
    return this.feeding;
  }

  /**
   * Whether the country's arrival log still orders work (closed segments, an open one of ours, an
   * overflow log): then the scan counts incoming/ but leaves its jobs to the log, which knows their
   * hosts; a job whose line was lost is offered by the scan once the log is empty.
   */
  async holdsWork(country: string): Promise<boolean> {
    const root = this.spool.root;
    if (this.spool.arrivals.holdsAnyOpenSegment(country)) return true;
    if ((await closedSegments(root, country)).length > 0) return true;
    // only segments count: a stray file in an overflow directory orders nothing
    for (const overflow of await overflowLogs(root, country)) {
      if ((await closedSegments(root, country, overflow)).length > 0) return true;
    }
    return false;
  }

  private async feedNow(): Promise<number> {
    const root = this.spool.root;
    let fed = 0;
    const found: Array<{ country: string; segment: string }> = [];
    for (const country of this.countries) for (const segment of await closedSegments(root, country)) found.push({ country, segment });
    found.sort((a, b) => a.segment.localeCompare(b.segment)); // names begin with their time
    for (const { country, segment } of found) {
      if (this.isStopping()) return fed;
      const claim = await this.spool.claims.tryClaim(`arrivals.${country}.${segment}`);
      if (!claim) continue; // another engine feeds this one
      this.feedingSegment.add(country);
      try {
        const later = new Map<string, ArrivalLine[]>();
        for await (const line of segmentLines(root, country, segment)) {
          if (this.isStopping() || claim.lost) return fed; // the segment stays for whoever comes next
          const candidate = candidateOf(country, line);
          if (line.host && this.queues.hostLineFull(candidate)) pushTo(later, line.host, line);
          // turned away by the stop (even its last line): the segment stays for whoever comes next
          else if (!(await this.queues.offer(candidate, true)) && this.queues.isClosed) return fed;
          fed++;
        }
        for (const [host, lines] of later) await this.spool.arrivals.append(country, lines, host);
        await removeSegment(root, country, segment);
      } finally {
        this.feedingSegment.delete(country);
        await claim.release();
      }
    }
    // a country without closed segments (and none of ours still open) has nothing older waiting
    for (const country of this.countries) {
      if (!found.some((f) => f.country === country) && !this.spool.arrivals.holdsOpenSegment(country)) this.logPending.delete(country);
    }
    for (const country of this.countries) {
      if (this.isStopping()) return fed;
      fed += await this.feedOverflow(country);
    }
    return fed;
  }

  /**
   * The overflow logs of a country's hosts: read, oldest segment first, only for a host with room in
   * the queue again, up to its share; what does not fit stays in its segment (holdsWork then keeps
   * the scan from offering those very jobs without their host).
   */
  private async feedOverflow(country: string): Promise<number> {
    const root = this.spool.root;
    let fed = 0;
    for (const overflow of await overflowLogs(root, country)) {
      const segments = await closedSegments(root, country, overflow);
      const host = overflow.startsWith('@h-') ? await this.firstHostOf(country, overflow, segments[0]) : overflow.slice(1);
      if (segments.length === 0) {
        // empty: gone, unless one of our segments is still open there
        if (host === undefined || !this.spool.arrivals.holdsOpenSegment(country, host)) await removeEmptyOverflow(root, country, overflow);
        continue;
      }
      // refilled only once the host's line is down to half its share: a segment is read and rewritten
      // every few hundred jobs of the host, not at every one
      if (host !== undefined && this.queues.hostWaiting(host) > this.queues.hostShare() / 2) continue;
      const claim = await this.spool.claims.tryClaim(`arrivals.${country}.${overflow}`);
      if (!claim) continue;
      try {
        for (const segment of segments) {
          const rest: ArrivalLine[] = [];
          for await (const line of segmentLines(root, country, segment, overflow)) {
            if (this.isStopping() || claim.lost) return fed;
            const candidate = candidateOf(country, line);
            if (rest.length > 0 || this.queues.hostLineFull(candidate)) rest.push(line);
            else {
              if (!(await this.queues.offer(candidate, true)) && this.queues.isClosed) return fed;
              fed++;
            }
          }
          // what did not fit stays in the same segment, in its place (oldest first)
          if (rest.length > 0) {
            await replaceSegment(root, country, segment, rest, overflow);
            break; // the host's line is full again
          }
          await removeSegment(root, country, segment, overflow);
        }
      } finally {
        await claim.release();
      }
    }
    return fed;
  }

  /** The host of an overflow log whose directory name is a digest: its first line says. */
  private async firstHostOf(country: string, overflow: string, segment: string | undefined): Promise<string | undefined> {
    if (segment === undefined) return undefined;
    for await (const line of segmentLines(this.spool.root, country, segment, overflow)) return line.host;
    return undefined;
  }
}

/**
 * A stage's queue, one FIFO per source host taken in turn: a host with a backlog of 80,000 jobs and a
 * host with 20 each get their share, and a host that may not start now (its perHost downloads are all
 * in progress) is passed over instead of holding up the others. Items whose host is not known (jobs
 * found by a scan, the thumbnail stage) wait under '', served when no known host may start: they
 * come after the backlog the arrival log ordered, as before hosts were known. Pure data structure:
 * the engine decides who may start.
 */
export class HostQueue<T extends { host?: string }> {
  private readonly byHost = new Map<string, T[]>();
  /** Hosts with waiting items, in turn: the next to serve first. */
  private order: string[] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** Items waiting for one host. */
  lengthOf(host: string | undefined): number {
    return this.byHost.get(host ?? '')?.length ?? 0;
  }

  push(item: T): void {
    this.listOf(item.host ?? '').push(item);
    this.count++;
  }

  /** At the front of its host's line (work that was due before anything queued now). */
  unshift(item: T): void {
    this.listOf(item.host ?? '').unshift(item);
    this.count++;
  }

  /**
   * The first item of the first known host in turn that `mayStart` (else of the unknown host ''); that
   * host goes to the back of the turn. Undefined when no waiting host may start.
   */
  take(mayStart: (host: string) => boolean): T | undefined {
    const known = this.order.findIndex((host) => host !== '' && mayStart(host));
    const i = known >= 0 ? known : this.order.indexOf('');
    if (i < 0 || (known < 0 && !mayStart(''))) return undefined;
    const host = this.order[i]!;
    const list = this.byHost.get(host)!;
    const item = list.shift()!;
    this.order.splice(i, 1);
    if (list.length > 0) this.order.push(host);
    else this.byHost.delete(host);
    this.count--;
    return item;
  }

  /** Empties the queue, returning what it held (hosts in turn, each in its order). */
  drain(): T[] {
    const all = [...this];
    this.byHost.clear();
    this.order = [];
    this.count = 0;
    return all;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const host of this.order) yield* this.byHost.get(host)!;
  }

  private listOf(host: string): T[] {
    let list = this.byHost.get(host);
    if (!list) {
      list = [];
      this.byHost.set(host, list);
      this.order.push(host);
    }
    return list;
  }
}

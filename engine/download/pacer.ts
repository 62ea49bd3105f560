/**
 * A per-host request rate: request starts to one host are spaced at least 1/rate seconds apart,
 * whatever the concurrency allows. Pure bookkeeping with the clock passed in; `wait` sleeps.
 */
export class HostPacer {
  private readonly next = new Map<string, number>();
  private readonly intervalMs: number;
  private calls = 0;

  /** `perSecond` 0: no limit. */
  constructor(perSecond: number) {
    this.intervalMs = perSecond > 0 ? 1000 / perSecond : 0;
  }

  /** How long a request to `host` starting at `now` must wait; books its slot. */
  reserve(host: string, now: number): number {
    if (this.intervalMs === 0) return 0;
    if (++this.calls % 1_000 === 0) this.forget(now);
    const at = Math.max(now, this.next.get(host) ?? 0);
    this.next.set(host, at + this.intervalMs);
    return at - now;
  }

  /** Waits for the slot of a request to `host` starting at `now`. */
  async wait(host: string, now: number): Promise<void> {
    const delay = this.reserve(host, now);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  }

  /** Hosts not asked for a while are forgotten, so memory follows the hosts in use. */
  private forget(now: number): void {
    for (const [host, next] of this.next) if (next < now - 60_000) this.next.delete(host);
  }
}

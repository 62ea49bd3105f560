/**
 * A budget of bytes (the originals an engine holds in memory): takers wait, in order, until theirs
 * fit. One taker larger than the whole budget still goes, alone, when nothing else is held: an image
 * under the download limit is never refused for the budget, only made to wait.
 */
export class ByteBudget {
  private held = 0;
  private highest = 0;
  private readonly waiters: Array<{ bytes: number; go: () => void }> = [];

  constructor(readonly limit: number) {}

  /** Bytes taken and not yet given back. */
  get inUse(): number {
    return this.held;
  }

  /** The most ever held at once. */
  get peak(): number {
    return this.highest;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Waits until `bytes` fit (after those who waited before), then takes them; rejects if `signal` aborts first. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.add(bytes);
      return;
    }
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal?.reason);
        this.serve(); // the head of the queue may have been what held the others back
      };
      const waiter = {
        bytes,
        go: (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Takes `bytes` now, whatever is held (what is already in memory, to be counted while it is). */
  force(bytes: number): void {
    this.add(bytes);
  }

  /** Gives `bytes` back; the waiters whose bytes fit now go, in order. */
  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
    this.serve();
  }

  private fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limit;
  }

  private add(bytes: number): void {
    this.held += bytes;
    this.highest = Math.max(this.highest, this.held);
  }

  private serve(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const next = this.waiters.shift()!;
      this.add(next.bytes);
      next.go();
    }
  }
}

/**
 * One job's share of a budget: what it has taken, given back once whatever path it takes. Its bytes
 * are known from the response's Content-Length (taken before the body is read: the download waits)
 * or, without one, from the body read (counted once in memory).
 */
export class BudgetHold {
  private taken = 0;

  constructor(private readonly budget: ByteBudget) {}

  get bytes(): number {
    return this.taken;
  }

  /** Waits for `bytes` more than held (a declared length, before the body is read). */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const more = bytes - this.taken;
    if (more <= 0) return;
    await this.budget.take(more, signal);
    this.taken += more;
  }

  /** The bytes are in memory: the hold becomes exactly `bytes`, without waiting. */
  settle(bytes: number): void {
    if (bytes > this.taken) this.budget.force(bytes - this.taken);
    else this.budget.release(this.taken - bytes);
    this.taken = bytes;
  }

  /** Gives everything back (idempotent). */
  release(): void {
    if (this.taken === 0) return;
    this.budget.release(this.taken);
    this.taken = 0;
  }
}

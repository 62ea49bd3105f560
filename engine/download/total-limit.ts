/**
 * The total time limit of one download, and the engine's abort, as one signal. A timer and a listener
 * held here, not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: Node lets a garbage collection
 * take the timeout signal that only `any()` refers to, and a collected timeout never fires.
 */
export class TotalLimit {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.controller.abort(this.engine?.reason);
  private readonly onTimeout = (): void => this.controller.abort(new DOMException('download took longer than the total time limit', 'TimeoutError'));
  private deadline = 0;
  /** While paused: the time that was left. */
  private left: number | undefined;

  constructor(private readonly ms: number, private readonly engine: AbortSignal | undefined) {}

  /** The signal, with the clock started at the first call. */
  start(): AbortSignal {
    if (this.timer === undefined) {
      this.deadline = performance.now() + this.ms;
      this.timer = setTimeout(this.onTimeout, this.ms);
      if (this.engine?.aborted) this.controller.abort(this.engine.reason);
      else this.engine?.addEventListener('abort', this.onAbort, { once: true });
    }
    return this.controller.signal;
  }

  /** Stops the clock (a wait for the memory budget is not the download's time); `resume` goes on with what was left. */
  pause(): void {
    if (this.timer === undefined || this.left !== undefined) return;
    clearTimeout(this.timer);
    this.left = Math.max(0, this.deadline - performance.now());
  }

  resume(): void {
    if (this.left === undefined) return;
    this.deadline = performance.now() + this.left;
    this.timer = setTimeout(this.onTimeout, this.left);
    this.left = undefined;
  }

  clear(): void {
    clearTimeout(this.timer);
    this.left = undefined;
    this.engine?.removeEventListener('abort', this.onAbort);
  }
}

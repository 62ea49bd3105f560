import { readFileSync, writeFileSync } from 'node:fs';

/** The kernel's high-water mark of this process's RSS (Linux), or null. */
function readHwmBytes(): number | null {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0). */
function resetHwm(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Peak RSS of this process over the spans between start() and stop(): sampled every 50 ms and, with
 * `kernelHighWater` (the default), also the kernel's high-water mark, reset at each start when allowed
 * (it catches peaks between samples).
 */
export class RssSampler {
  peakBytes = 0;
  /** RSS when sampling first started (corpus loaded, pool threads up): what the spans add comes on top. */
  firstBytes: number | undefined;
  hwmResetWorked = true;
  /** The peaks of V8's heap in use, of external memory (Buffers, sharp's inputs) and of ArrayBuffers, at the samples. */
  peakHeapBytes = 0;
  peakExternalBytes = 0;
  peakArrayBuffersBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: { kernelHighWater: boolean } = { kernelHighWater: true }) {}

  start(): void {
    this.firstBytes ??= process.memoryUsage.rss();
    if (this.options.kernelHighWater) this.hwmResetWorked = resetHwm() && this.hwmResetWorked;
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    const hwm = this.options.kernelHighWater ? readHwmBytes() : null;
    if (hwm !== null) this.peakBytes = Math.max(this.peakBytes, hwm);
  }

  private sample(): void {
    const usage = process.memoryUsage();
    this.peakBytes = Math.max(this.peakBytes, usage.rss);
    this.peakHeapBytes = Math.max(this.peakHeapBytes, usage.heapUsed);
    this.peakExternalBytes = Math.max(this.peakExternalBytes, usage.external);
    this.peakArrayBuffersBytes = Math.max(this.peakArrayBuffersBytes, usage.arrayBuffers);
  }
}

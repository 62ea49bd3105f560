import type { Logger } from 'pino';
import { describeLowDisks, measureDisks, writeProblem, type DiskFree } from './disk.js';

export interface DiskWatchOptions {
  /** The file systems watched, by role. */
  roots: { spool: string; tree: string };
  /** Where a write is tried on each (the temporaries' directories). */
  probes: { spool: string; tree: string };
  minFreeMiB: number;
  log: Logger;
  /** Downloads may go on again. */
  onResume: () => void;
}

/** Why downloads pause, from the free space found and the writes refused, or undefined. Pure. */
export function pauseReason(disks: readonly DiskFree[], minFreeMiB: number, unwritable: readonly string[]): string | undefined {
  const low = describeLowDisks(disks, minFreeMiB);
  if (unwritable.length === 0) return low;
  return `${[...unwritable, ...(low ? [low.replace(/: downloads paused$/, '')] : [])].join(', ')}: downloads paused`;
}

/**
 * The disk watermark: below the free space on the spool's or the tree's file system, or while either
 * takes no write, downloads pause. One check at a time (a refused write asks for one at once); the
 * log speaks only of changes.
 */
export class DiskWatch {
  disks: DiskFree[] = [];
  /** Why downloads are paused; undefined while they run. */
  paused: string | undefined;
  /** The last check found the spool or the tree taking no write. */
  unwritable = false;
  private checking: Promise<void> | undefined;

  constructor(private readonly options: DiskWatchOptions) {}

  check(): Promise<void> {
    this.checking ??= this.checkNow().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkNow(): Promise<void> {
    const { roots, probes, minFreeMiB, log } = this.options;
    this.disks = await measureDisks(roots, minFreeMiB);
    const unwritable: string[] = [];
    for (const role of ['spool', 'tree'] as const) {
      const problem = await writeProblem(probes[role]);
      if (problem) unwritable.push(`${role} ${probes[role]} takes no write (${problem})`);
    }
    this.unwritable = unwritable.length > 0;
    const reason = pauseReason(this.disks, minFreeMiB, unwritable);
    const wasPaused = this.paused !== undefined;
    this.paused = reason; // the text (free MiB) is refreshed
    if (wasPaused === (reason !== undefined)) return;
    if (reason) log.warn({ disks: this.disks }, reason);
    else {
      log.info({ disks: this.disks }, 'free space above the watermark again: downloads resume');
      this.options.onResume();
    }
  }
}

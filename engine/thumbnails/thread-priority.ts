/**
 * The sharp threads run below the engine's own priority. On a machine whose cores sharp keeps busy,
 * the event loop that feeds them (claims, job moves, tree writes, downloads) otherwise waits for a
 * core at nearly every wake-up: measured on 2 cores, it was ready but not running for two thirds of
 * its active time, and the threads it feeds then wait for it.
 *
 * libvips does the pixel work in its own threads ("libvips worker"), which GLib starts from a helper
 * thread of its own: they inherit neither a worker's nor the main thread's nice value (lowering the
 * piscina worker alone left every libvips thread at 0). So they are found by name in
 * /proc/self/task and set one by one: on Linux a thread has a nice value of its own. New ones appear
 * while the pool warms up and when GLib replaces idle ones, so the pool asks again after its tasks,
 * at most once per SCAN_EVERY_MS. Elsewhere than Linux, nothing happens.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';

/** How often, at most, the thread list is read again (a readdir of procfs: tens of microseconds). */
export const SCAN_EVERY_MS = 1_000;

const TASKS = '/proc/self/task';

/** Whether a thread of this name does sharp's pixel work. */
export const isSharpThread = (comm: string): boolean => comm.startsWith('libvips');

export class SharpThreadPriority {
  /** Threads looked at (set, or refused): not looked at again while they live. */
  private readonly done = new Set<string>();
  private set = 0;
  private refused = 0;
  private lastScan = -Infinity;
  private failed = false;

  /** `nice`: the value the sharp threads get, at least (0: leave them alone). */
  constructor(readonly nice: number) {}

  /** Sets every sharp thread not yet set, unless that was looked at less than SCAN_EVERY_MS ago. */
  maybeScan(): void {
    if (this.nice <= 0 || this.failed || process.platform !== 'linux') return;
    const now = performance.now();
    if (now - this.lastScan < SCAN_EVERY_MS) return;
    this.lastScan = now;
    this.scan();
  }

  /** libvips threads found at (or set to) the pool's nice value so far, and those whose change was refused. */
  get counts(): { lowered: number; refused: number } {
    return { lowered: this.set, refused: this.refused };
  }

  private scan(): void {
    let tids: string[];
    try {
      tids = readdirSync(TASKS);
    } catch {
      this.failed = true; // no procfs here: give up quietly, priorities are a nicety
      return;
    }
    const alive = new Set(tids);
    for (const tid of this.done) if (!alive.has(tid)) this.done.delete(tid);
    for (const tid of tids) {
      if (this.done.has(tid)) continue;
      let comm: string;
      try {
        comm = readFileSync(`${TASKS}/${tid}/comm`, 'utf8');
      } catch {
        continue; // ended meanwhile
      }
      if (!isSharpThread(comm)) continue; // (read each time: a thread is named only after it starts)
      this.done.add(tid);
      try {
        // only ever lower a thread's priority: a nice value is absolute, and raising one (as root
        // can) would put the sharp threads above an engine started with `nice`
        if (getPriority(Number(tid)) < this.nice) setPriority(Number(tid), this.nice);
        this.set++;
      } catch {
        this.refused++; // not allowed here: that thread keeps its priority
      }
    }
  }
}

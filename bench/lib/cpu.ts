import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fmt } from './format.js';

/** Busy and total jiffies of all CPUs from /proc/stat (null elsewhere). */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * Starts a span; the function returned ends it and says how many cores' worth of CPU this process used
 * (all its threads, not child processes) and the whole machine used (everything, children and other
 * people's work included).
 */
export function cpuMeter(): () => string {
  const own = process.cpuUsage();
  const machine = machineTicks();
  const started = performance.now();
  const cores = availableParallelism();
  return () => {
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(own);
    const ownCores = (used.user + used.system) / 1e6 / seconds;
    const now = machineTicks();
    const machineCores = machine && now && now.total > machine.total ? ((now.busy - machine.busy) / (now.total - machine.total)) * cores : null;
    return `cpu: bench process ${ownCores.toFixed(2)}, whole machine ${fmt(machineCores, 2)} of ${cores} cores`;
  };
}

/** The main thread's own run and run-queue wait times so far, in ms (Linux schedstat; null elsewhere). */
function mainThreadTimes(): { runMs: number; waitMs: number } | null {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return run === undefined || wait === undefined ? null : { runMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return null;
  }
}

/**
 * Starts a span of the main thread; the function returned ends it and gives the CPU time the main
 * thread itself ran (not its workers nor libuv's pool) and the time it was ready but waited for a
 * core. The event loop's utilisation counts both as active: on a machine whose cores are all busy
 * with sharp, the wait is most of it.
 */
export function mainThreadMeter(): () => { runMs: number; waitMs: number } | null {
  const from = mainThreadTimes();
  return () => {
    const to = mainThreadTimes();
    return from && to ? { runMs: to.runMs - from.runMs, waitMs: to.waitMs - from.waitMs } : null;
  };
}

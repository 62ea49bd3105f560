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

/** bench:canary's meters: CPU of this process, its children, another process and the whole machine (/proc), page faults, and the processes this one spawns. */
import childProcess from 'node:child_process';
import { readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { availableParallelism } from 'node:os';
import { mainThreadMeter } from '../lib/cpu.js';


/** Linux's USER_HZ: /proc's CPU times are in ticks of 10 ms. */
const MS_PER_TICK = 10;

/** utime, stime, cutime, cstime of a process, in ms (/proc/<pid>/stat; null elsewhere). */
export function processTimes(pid: number | 'self'): { own: number; children: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after "(comm) ": the state is field 3 of the file, utime..cstime fields 14 to 17
    const [utime, stime, cutime, cstime] = text.slice(text.lastIndexOf(')') + 2).split(' ').slice(11, 15).map(Number);
    if (utime === undefined || stime === undefined || cutime === undefined || cstime === undefined) return null;
    return { own: (utime + stime) * MS_PER_TICK, children: (cutime + cstime) * MS_PER_TICK };
  } catch {
    return null;
  }
}

/** Busy and total jiffies of all CPUs (/proc/stat; null elsewhere). */
export function machineTicks(): { busy: number; total: number } | null {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  } catch {
    return null;
  }
}

/**
 * Child processes this process starts (the shell the canary's listings run from), counted: child_process.spawn
 * wrapped, and the wrapper handed to the modules that imported it by name (syncBuiltinESMExports).
 */
export const spawned = { count: 0 };
{
  const original = childProcess.spawn;
  childProcess.spawn = function (this: unknown, ...args: Parameters<typeof original>) {
    spawned.count++;
    return original.apply(this, args);
  } as typeof original;
  syncBuiltinESMExports();
}

export interface CpuFigures {
  /** The daemon: this process, all its threads, and the child processes it waited for (rsync), per image. */
  daemonMs: number;
  /** Of that, the child processes'; null where not measured. */
  rsyncMs: number | null;
  /** The processes it started. */
  spawns: number;
  /** Its minor page faults, per image: each fork of the daemon (an rsync started) makes its pages copy-on-write, and the next write to each faults. */
  faults: number;
  /** The main thread alone (schedstat), per image. */
  mainMs: number | null;
  /** The sweeper's process and its rsyncs, per image; null without a sweeper or where not measured. */
  sweeperMs: number | null;
  /** Cores the whole machine kept busy (everything on it: other tenants too). */
  machineCores: number | null;
}

/** Starts a span; the function returned ends it and gives its CPU figures for `images` images. */
export function cpuSpan(sweeper: { cpuMs(): number | null } | undefined): (images: number) => CpuFigures {
  const own = process.cpuUsage();
  const self = processTimes('self');
  const sweeperFrom = sweeper?.cpuMs() ?? null;
  const machine = machineTicks();
  const main = mainThreadMeter();
  const spawns = spawned.count;
  const faults = process.resourceUsage().minorPageFault;
  return (images) => {
    const used = process.cpuUsage(own);
    const selfNow = processTimes('self');
    const sweeperTo = sweeper?.cpuMs() ?? null;
    const machineNow = machineTicks();
    const ran = main();
    const rsyncMs = self && selfNow ? (selfNow.children - self.children) / images : null;
    return {
      daemonMs: (used.user + used.system) / 1000 / images + (rsyncMs ?? 0),
      rsyncMs,
      spawns: spawned.count - spawns,
      faults: (process.resourceUsage().minorPageFault - faults) / images,
      mainMs: ran ? ran.runMs / images : null,
      sweeperMs: sweeperFrom !== null && sweeperTo !== null ? (sweeperTo - sweeperFrom) / images : null,
      machineCores: machine && machineNow && machineNow.total > machine.total ? ((machineNow.busy - machine.busy) / (machineNow.total - machine.total)) * availableParallelism() : null,
    };
  };
}

/** Processes found by their command line in /proc (Linux), so that tests need no procps (pkill). */
import { readdirSync, readFileSync } from 'node:fs';

/** Sends `signal` to every process whose command line (arguments joined by spaces) matches; how many. */
export function signalMatching(pattern: RegExp, signal: NodeJS.Signals = 'SIGKILL'): number {
  let count = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let commandLine: string;
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      continue; // gone meanwhile
    }
    if (Number(pid) === process.pid || !pattern.test(commandLine)) continue;
    try {
      process.kill(Number(pid), signal);
      count++;
    } catch {
      // gone meanwhile
    }
  }
  return count;
}

import { spawn } from 'node:child_process';
import { targetKind, type SweepTarget } from '../config/targets.js';

export interface RsyncOptions {
  rsync: string;
  timeoutSeconds: number;
  connectTimeoutSeconds: number;
  bwlimitKiB: number;
}

/** The dest with exactly one trailing slash, as rsync wants for "into this directory". */
export function destRoot(target: SweepTarget): string {
  return `${target.dest.replace(/\/+$/, '')}/`;
}

/** Options every rsync run of the sweeper shares: timeouts, politeness, the transport. Pure. */
export function commonArgs(target: SweepTarget, options: RsyncOptions): string[] {
  const args = [`--timeout=${options.timeoutSeconds}`];
  const kind = targetKind(target.dest);
  if (kind === 'daemon') args.push(`--contimeout=${options.connectTimeoutSeconds}`);
  if (kind === 'ssh') {
    const alive = Math.max(5, Math.ceil(options.timeoutSeconds / 4));
    args.push('-e', `ssh -o BatchMode=yes -o ConnectTimeout=${options.connectTimeoutSeconds} -o ServerAliveInterval=${alive} -o ServerAliveCountMax=4`);
  }
  const bwlimit = target.bwlimitKiB ?? options.bwlimitKiB;
  if (bwlimit > 0) args.push(`--bwlimit=${bwlimit}`);
  return args;
}

/**
 * Seeding a target new to the sweeper with the whole tree of some countries, one walk per pass:
 * `files` sends every file but the manifests, `manifests` then the rest (only manifests are left), so
 * that no manifest arrives before its files. Each file lands whole (rsync's temporary name). Pure.
 */
export function seedArgs(tree: string, target: SweepTarget, countries: readonly string[], pass: 'files' | 'manifests', options: RsyncOptions): string[] {
  const filters = [...(pass === 'files' ? ['--exclude=*.json'] : []), ...countries.map((c) => `--include=/${c}/***`), '--exclude=*'];
  // --size-only: a target that has an image already is not sent it again for a refreshed mtime (files
  // of an image are never rewritten in place: a remade image also comes through the backlog)
  return ['--recursive', '--links', '--times', '--omit-dir-times', '--size-only', ...filters, ...commonArgs(target, options), `${tree.replace(/\/+$/, '')}/`, destRoot(target)];
}

/**
 * Sending a list of paths (relative to the tree root): present ones are sent, missing ones are deleted
 * on the target (--delete-missing-args); files land in place only when all of the run's files have
 * arrived (--delay-updates), each written under a temporary name first. Pure.
 */
export function sendListArgs(tree: string, target: SweepTarget, listFile: string, options: RsyncOptions): string[] {
  return [
    '--links', '--times', '--omit-dir-times', '--files-from', listFile, '--from0',
    '--delete-missing-args', '--delay-updates', ...commonArgs(target, options), `${tree.replace(/\/+$/, '')}/`, destRoot(target),
  ];
}

/** Listing one path of a target (the canary's check that an image arrived), nothing sent. Pure. */
export function listArgs(target: SweepTarget, relPath: string, options: RsyncOptions): string[] {
  return ['--list-only', ...commonArgs(target, options), `${destRoot(target)}${relPath}`];
}

/** rsync's exit code when a path asked for does not exist ("some files could not be transferred"). */
export const RSYNC_PARTIAL = 23;

export interface RsyncResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * rsync's exit codes that leave the target complete for what was asked: 0, and 24 (a source file
 * vanished during the run: the engine remade or purged it, and that change has its own backlog entry).
 */
export function rsyncSucceeded(result: RsyncResult): boolean {
  return result.code === 0 || result.code === 24;
}

/** rsync runs in progress, each in its own process group (with the ssh it may start). */
const running = new Set<number>();

/** Kills every rsync this process started (on SIGTERM, so that no transfer outlives the sweep). */
export function killRunningRsync(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Runs rsync; a watchdog kills its whole process group (ssh included) if it outlives its own
 * timeouts by far. Resolves when rsync itself exits, even if a child still holds its pipes.
 */
export function runRsync(rsync: string, args: string[], watchdogMs: number): Promise<RsyncResult> {
  return new Promise((resolve) => {
    const child = spawn(rsync, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    if (child.pid) running.add(child.pid);
    const kill = (): void => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(kill, watchdogMs);
    let settled = false;
    const done = (result: RsyncResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.pid) running.delete(child.pid);
      kill(); // whatever rsync left behind (a hung ssh) goes with it
      child.stdout.destroy();
      child.stderr.destroy();
      resolve(result);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'ENOENT' ? `${rsync} is not installed (sweep.rsync; scripts/setup.sh installs rsync)` : error.message;
      done({ code: 127, signal: null, stdout, stderr: `${stderr}${why}` });
    });
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
    child.on('exit', (code, signal) => {
      // normally 'close' follows at once; if a child of rsync (ssh) still holds the pipes, stop waiting
      setTimeout(() => done({ code, signal, stdout, stderr }), 2_000).unref();
    });
  });
}

/** The first meaningful line of rsync's complaint, for a one-line report. */
export function rsyncReason(result: RsyncResult): string {
  const line = result.stderr.split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  const how = result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
  return line ? `${how}: ${line.slice(0, 200)}` : how;
}

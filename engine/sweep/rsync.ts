import { spawn } from 'node:child_process';
import type { SweepTarget } from '../config.js';

export interface RsyncOptions {
  rsync: string;
  timeoutSeconds: number;
  connectTimeoutSeconds: number;
  bwlimitKiB: number;
}

export type TargetKind = 'local' | 'ssh' | 'daemon';

/** What kind of place a target's dest names: rsync://..., host:/path, or a local directory. Pure. */
export function targetKind(dest: string): TargetKind {
  if (dest.startsWith('rsync://')) return 'daemon';
  if (/^[^/:]+:/.test(dest)) return 'ssh';
  return 'local';
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
  if (kind === 'ssh') args.push('-e', `ssh -o BatchMode=yes -o ConnectTimeout=${options.connectTimeoutSeconds}`);
  const bwlimit = target.bwlimitKiB ?? options.bwlimitKiB;
  if (bwlimit > 0) args.push(`--bwlimit=${bwlimit}`);
  return args;
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

export interface RsyncResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** rsync's exit codes that leave the target complete for what was asked. */
export function rsyncSucceeded(result: RsyncResult): boolean {
  return result.code === 0;
}

/** Runs rsync; a watchdog kills it if it outlives its own timeouts by far (a hung ssh, say). */
export function runRsync(rsync: string, args: string[], watchdogMs: number): Promise<RsyncResult> {
  return new Promise((resolve) => {
    const child = spawn(rsync, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), watchdogMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, signal: null, stdout, stderr: `${stderr}${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The first meaningful line of rsync's complaint, for a one-line report. */
export function rsyncReason(result: RsyncResult): string {
  const line = result.stderr.split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  const how = result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
  return line ? `${how}: ${line.slice(0, 200)}` : how;
}

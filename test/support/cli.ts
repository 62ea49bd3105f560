import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../scripts/imagesys.js', import.meta.url));
/** The command as users run it: bin/imagesys, which sets the environment (thread pool, malloc arenas) and execs node. */
export const BIN = fileURLToPath(new URL('../../../bin/imagesys', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `imagesys ...` as a real child process (`env`: added to this process's environment). */
export function runCli(args: string[], options: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(options.env ? { env: { ...process.env, ...options.env } } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`imagesys ${args.join(' ')} timed out\n${stderr.slice(-3000)}`));
    }, options.timeoutMs ?? 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Starts `imagesys run` (the daemon) and returns the child (`env`: added to this process's environment). */
export function startDaemon(args: string[], env?: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
  const child = spawn(BIN, ['run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return Object.assign(child, { output: () => output });
}

export type Daemon = ReturnType<typeof startDaemon>;

/** Polls `check` every 100 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Signals a daemon (SIGKILL unless told) and waits for it to exit; nothing if it already has. */
export async function kill(daemon: Daemon, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (daemon.exitCode !== null || daemon.signalCode !== null) return;
  daemon.kill(signal);
  await new Promise((resolve) => daemon.once('exit', resolve));
}

/** The status page address a live engine announced in its state file (spool/.state/). */
export async function statusPageOf(spool: string): Promise<string | undefined> {
  for (const name of await readdir(join(spool, '.state')).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const state = JSON.parse(await readFile(join(spool, '.state', name), 'utf8').catch(() => '{}')) as { http?: string };
    if (state.http) return state.http;
  }
  return undefined;
}

/** A config file for tests: fast retries, quick settling, short stale time, loopback source. */
export async function writeTestConfig(dir: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const config: Record<string, unknown> = {
    spool: join(dir, 'spool'),
    tree: join(dir, 'tree'),
    countries: ['uk', 'de'],
    baseUrl: 'https://img.example.com/t',
    pool: { threads: 2 },
    download: { concurrency: 16, perHost: 8, headersTimeoutMs: 3000, bodyTimeoutMs: 3000, totalTimeoutMs: 10_000 },
    retry: { baseMs: 50, maxMs: 300, maxAttempts: 3, factor: 2, jitter: 0.5 },
    claims: { staleMs: 4000 },
    intake: { settleMs: 300, rescanMs: 500 },
    log: { level: 'warn', dir: join(dir, 'log') },
    // a canary would land in any test's spool at the next interval: the canary's tests turn it on
    canary: { intervalMinutes: 0 },
    ...overrides,
  };
  // the sources here are on loopback, which the SSRF guard refuses unless allowed
  // and reached directly, whatever proxy the environment names
  config.download = { allow: ['127.0.0.1'], perHostRate: 0, proxy: 'none', ...(config.download as object) };
  // several daemons may run at once: each serves its status page on a port of its own
  config.http = { listen: '127.0.0.1:0', refreshSeconds: 1, ...(config.http as object) };
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

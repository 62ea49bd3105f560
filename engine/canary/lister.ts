/**
 * The canary's rsync listings, run from one small shell kept for them. A process the daemon spawns
 * is a fork of the daemon: hundreds of MiB made copy-on-write, whose every page then faults again at
 * its next write (bench:canary measured about 7,000 faults and 0.1 s of CPU per rsync). A fork of
 * the shell costs a few pages. One listing at a time; a listing that outlives its watchdog takes the
 * shell with it (its process group), and the next starts a new one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { RsyncResult } from '../sweep/rsync.js';

/** `arg` as one word of a POSIX shell, whatever it holds. Pure. */
export function shellWord(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The shell's line for one run: its output and errors together, then a line with the marker and the exit code. Pure. */
export function shellLine(program: string, args: readonly string[], marker: string): string {
  return `${[program, ...args].map(shellWord).join(' ')} </dev/null 2>&1; printf '\\n%s %d\\n' ${shellWord(marker)} "$?"\n`;
}

export class RsyncLister {
  private shell: ChildProcess | undefined;
  private output = '';
  private waiting: ((chunk: string) => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** Runs `rsync args` in the shell; resolves with its exit code and output (as stdout and stderr alike). */
  run(rsync: string, args: readonly string[], watchdogMs: number): Promise<RsyncResult> {
    const result = this.queue.then(() => this.runOne(rsync, args, watchdogMs));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Ends the shell and whatever it runs. */
  close(): void {
    this.closed = true;
    this.kill();
  }

  private start(): ChildProcess {
    const shell = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    shell.stdout.setEncoding('utf8');
    shell.stdout.on('data', (chunk: string) => {
      this.output += chunk;
      this.waiting?.(this.output);
    });
    shell.on('exit', () => {
      if (this.shell === shell) this.shell = undefined;
      this.waiting?.(this.output);
    });
    shell.stdin.on('error', () => {}); // a shell that died: the exit says so
    shell.unref();
    return shell;
  }

  private kill(): void {
    const pid = this.shell?.pid;
    this.shell = undefined;
    try {
      if (pid) process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }

  private runOne(rsync: string, args: readonly string[], watchdogMs: number): Promise<RsyncResult> {
    if (this.closed) return Promise.resolve({ code: null, signal: 'SIGKILL', stdout: '', stderr: 'stopped' });
    const shell = (this.shell ??= this.start());
    const marker = `--imagesys-${randomBytes(6).toString('hex')}`;
    this.output = '';
    return new Promise((resolve) => {
      const end = new RegExp(`\\n?${marker} (\\d+)\\n`);
      const timer = setTimeout(() => finish({ code: null, signal: 'SIGKILL', stdout: this.output, stderr: `${this.output}killed after ${watchdogMs} ms` }, true), watchdogMs);
      const finish = (result: RsyncResult, kill = false): void => {
        clearTimeout(timer);
        this.waiting = undefined;
        if (kill) this.kill();
        resolve(result);
      };
      this.waiting = (text) => {
        const done = end.exec(text);
        if (done) finish({ code: Number(done[1]), signal: null, stdout: text.slice(0, done.index), stderr: text.slice(0, done.index) });
        else if (this.shell !== shell) finish({ code: null, signal: 'SIGKILL', stdout: text, stderr: `${text}the shell ended` });
      };
      shell.stdin!.write(shellLine(rsync, args, marker));
    });
  }
}

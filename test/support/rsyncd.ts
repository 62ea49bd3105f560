/** A real rsync daemon on a loopback port, standing for one frontend (n1, n2, n3). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { freePort, waitForPort } from './ports.js';
import { join, relative } from 'node:path';

export interface RsyncDaemon {
  name: string;
  /** The target's dest for the sweeper: rsync://127.0.0.1:<port>/tree */
  url: string;
  /** The directory the module serves. */
  data: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Paths the daemon received, one per transfer (from its transfer log). */
  received(): Promise<string[]>;
}

export async function rsyncDaemon(name: string, root: string): Promise<RsyncDaemon> {
  const dir = join(root, name);
  const data = join(dir, 'data');
  await mkdir(data, { recursive: true });
  const port = await freePort();
  const log = join(dir, 'rsyncd.log');
  const conf = join(dir, 'rsyncd.conf');
  await writeFile(conf, [
    'use chroot = false',
    `log file = ${log}`,
    'transfer logging = true',
    'log format = %o %n',
    `pid file = ${join(dir, 'rsyncd.pid')}`,
    '[tree]',
    `  path = ${data}`,
    '  read only = false',
    '  uid = root',
    '  gid = root',
    '',
  ].join('\n'));
  let child: ChildProcess | undefined;
  const daemon: RsyncDaemon = {
    name,
    url: `rsync://127.0.0.1:${port}/tree`,
    data,
    async start() {
      child = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1'], { stdio: 'ignore' });
      await waitForPort(port, 10_000, 'rsync daemon');
    },
    async stop() {
      if (child?.exitCode !== null) return; // never started, or gone already
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      child = undefined;
    },
    async received() {
      const text = await readFile(log, 'utf8').catch(() => '');
      return text.split('\n').map((line) => /\] recv (.+)$/.exec(line)?.[1]).filter((p): p is string => p !== undefined && !p.endsWith('/'));
    },
  };
  await daemon.start();
  return daemon;
}

/** Every file below a directory, by relative path, with a digest of its content. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.set(relative(dir, path), createHash('sha1').update(await readFile(path)).digest('hex'));
    }
  };
  await walk(dir);
  return out;
}

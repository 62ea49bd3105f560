/** A real HTTP proxy for the tests: Debian's tinyproxy in the foreground, logging every request. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { freePort, waitForPort } from './ports.js';
import { join } from 'node:path';

export interface Tinyproxy {
  url: string;
  /** What tinyproxy has logged so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export async function startTinyproxy(dir: string): Promise<Tinyproxy> {
  const port = await freePort();
  const logFile = join(dir, 'tinyproxy.log');
  const conf = join(dir, 'tinyproxy.conf');
  await writeFile(logFile, '');
  await writeFile(conf, [`Port ${port}`, 'Listen 127.0.0.1', 'Timeout 30', `LogFile "${logFile}"`, 'LogLevel Info', 'MaxClients 50', 'Allow 127.0.0.1', 'DisableViaHeader Yes', ''].join('\n'));
  const child: ChildProcess = spawn('tinyproxy', ['-d', '-c', conf], { stdio: 'ignore' });
  await waitForPort(port, 10_000, 'tinyproxy');
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => readFile(logFile, 'utf8'),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** bench:canary's sweeper: a process of its own, as cron runs `imagesys sweep --sync`, and the parent's side of it. This file is also that process's entry. */
import { fork, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../engine/config/config.js';
import { sweep } from '../../engine/sweep/sweep.js';
import { SWEEPER_CHILD } from './args.js';
import { processTimes } from './meters.js';

/** What the parent tells the sweeper's process, and what it hears back. */
export interface SweeperStart {
  kind: 'start';
  config: Record<string, unknown>;
  countries: string[];
  everyMs: number;
}
export type SweeperReport = { kind: 'swept'; sent: number; deleted: number; errors: string[] } | { kind: 'done' };

/** The sweeper's process: `sweep --sync` of the countries asked for, every everyMs, until told to finish (one sweep more). */
export async function sweeperChild(): Promise<void> {
  const start = await new Promise<SweeperStart>((resolve) => process.once('message', (m: SweeperStart) => resolve(m)));
  const finishing = new AbortController();
  process.on('message', (m: { kind: string }) => {
    if (m.kind === 'finish') finishing.abort();
  });
  process.once('disconnect', () => process.exit(0)); // the bench is gone
  // the sweeper's config names the countries it is run for: the photos' own are left out (see the top)
  const config = { ...parseConfig(start.config), countries: start.countries };
  const once = async (): Promise<void> => {
    const report: SweeperReport = { kind: 'swept', sent: 0, deleted: 0, errors: [] };
    try {
      const result = await sweep(config, { sync: true, purge: false, fsCheck: false, repair: false, countries: start.countries });
      for (const t of result.targets) {
        report.sent += t.sent;
        report.deleted += t.deleted;
        if (t.error) report.errors.push(`${t.target}: ${t.error}`);
      }
    } catch (error) {
      report.errors.push((error as Error).message);
    }
    process.send?.(report);
  };
  while (!finishing.signal.aborted) {
    await once();
    await sleep(start.everyMs, undefined, { signal: finishing.signal }).catch(() => {});
  }
  await once(); // what the last removals queued
  process.send?.({ kind: 'done' } satisfies SweeperReport);
  process.disconnect();
}

/** The parent's side of the sweeper's process. */
export class SweeperProcess {
  runs = 0;
  sent = 0;
  deleted = 0;
  readonly errors: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(config: Record<string, unknown>, countries: string[], everyMs: number) {
    this.child = fork(fileURLToPath(import.meta.url), [SWEEPER_CHILD], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.on('message', (m: SweeperReport) => {
      if (m.kind !== 'swept') return;
      this.runs++;
      this.sent += m.sent;
      this.deleted += m.deleted;
      this.errors.push(...m.errors);
    });
    this.child.send({ kind: 'start', config, countries, everyMs } satisfies SweeperStart);
  }

  /** Its CPU so far with its rsyncs', in ms. */
  cpuMs(): number | null {
    const times = this.child.pid === undefined ? null : processTimes(this.child.pid);
    return times ? times.own + times.children : null;
  }

  /** One sweep more (the deletions the last removals queued), then it exits. */
  async finish(): Promise<void> {
    if (this.child.connected) this.child.send({ kind: 'finish' });
    await this.exited;
  }
}

// run as the sweeper's process (SweeperProcess forks this file)
if (process.argv[2] === SWEEPER_CHILD && process.argv[1] === fileURLToPath(import.meta.url)) void sweeperChild();

import type { Logger } from 'pino';
import type { AtomicWriter } from '../../spool/atomic.js';
import type { Clock } from '../core/clock.js';
import { writeDaemonState, type DaemonState } from './daemon-state.js';
import { appendHistory, type MinuteBuckets } from './history.js';

export interface StateWriterDeps {
  writer: AtomicWriter;
  spoolRoot: string;
  historyKey: string;
  minutes: MinuteBuckets;
  clock: Clock;
  log: Logger;
  /** The engine's state at `now`, as the state file shows it. */
  snapshot: (now: number) => DaemonState;
}

/**
 * What an engine tells `imagesys status` and `imagesys report`: the state file (rewritten every few
 * seconds) and the per-minute history (finished minutes appended before the state file stops showing
 * them). One write at a time; a history that cannot be written keeps its minutes for the next try.
 */
export class StateWriter {
  private writing: Promise<void> | undefined;

  constructor(private readonly deps: StateWriterDeps) {}

  write(): Promise<void> {
    this.writing ??= this.writeNow().finally(() => (this.writing = undefined));
    return this.writing;
  }

  settled(): Promise<unknown> {
    return this.writing ?? Promise.resolve();
  }

  /** Appends the finished minutes (all of them at a stop). */
  async writeHistory(stopping: boolean, now = this.deps.clock()): Promise<void> {
    const { minutes, log } = this.deps;
    const finished = minutes.takeFinished(now, stopping);
    try {
      await appendHistory(this.deps.spoolRoot, this.deps.historyKey, finished);
    } catch (error) {
      if (stopping) {
        log.error({ err: error, minutes: finished.length }, 'history could not be written at the stop: these minutes are lost to `imagesys report`');
        return;
      }
      minutes.putBack(finished);
      log.warn({ err: error }, 'history could not be written; its minutes are kept for the next try');
    }
  }

  private async writeNow(): Promise<void> {
    const now = this.deps.clock();
    await this.writeHistory(false, now);
    try {
      await writeDaemonState(this.deps.writer, this.deps.spoolRoot, this.deps.snapshot(now));
    } catch (error) {
      this.deps.log.warn({ err: error }, 'state file could not be written');
    }
  }
}

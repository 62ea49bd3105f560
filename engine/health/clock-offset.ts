/**
 * How far this host's clock is from the spool's file system's (spool/fs-time.ts), measured at start
 * and with every disk check (`disk.checkMs`). Claims do not depend on it (they are judged by the file system's time alone),
 * but what engines write with their own clock does: a job's due time after a failure, its
 * timestamps, the expiry day, the history minutes. So past `claims.clockWarnMs` the engine says so in
 * its log, and past `claims.clockRefuseMs` it does not start.
 */
import type { Logger } from 'pino';
import type { FsReading, FsTime } from '../../spool/fs-time.js';
import { ProgramError } from '../core/program-errors.js';

/** The offset as shown by `status`, the page and /metrics. */
export interface ClockOffset {
  /** The spool's time minus this host's, in ms: negative when this host is ahead. */
  offsetMs: number;
  /** How precise the measurement is (half the probe's round trip), in ms. */
  uncertaintyMs: number;
  /** When it was measured, by the spool's time. */
  checkedAt: string;
  level: ClockLevel;
}

export type ClockLevel = 'ok' | 'warn' | 'refuse';

/** What an offset means against the two bounds; the probe's own uncertainty is given the benefit. Pure. */
export function clockLevel(offsetMs: number, uncertaintyMs: number, warnMs: number, refuseMs: number): ClockLevel {
  const surely = Math.max(0, Math.abs(offsetMs) - uncertaintyMs);
  if (surely > refuseMs) return 'refuse';
  if (surely > warnMs) return 'warn';
  return 'ok';
}

/** The sentence an operator reads: by how much, which way, and what to fix. Pure. */
export function clockAdvice(offsetMs: number, spool: string): string {
  const seconds = (Math.abs(offsetMs) / 1000).toFixed(1);
  const way = offsetMs < 0 ? 'ahead of' : 'behind';
  return `this host's clock is ${seconds} s ${way} the spool's file system (${spool}): synchronise the clocks of this host and the file server with NTP (e.g. \`timedatectl set-ntp true\`, or chrony)`;
}

export class ClockOffsetWatch {
  private last: ClockOffset | undefined;
  /** The last probe failed (told once, until one succeeds). */
  private failing = false;

  constructor(
    private readonly options: { fsTime: FsTime; spool: string; warnMs: number; refuseMs: number; log: Logger },
  ) {}

  get current(): ClockOffset | undefined {
    return this.last;
  }

  /**
   * Measures at start: throws ERR_IMAGESYS_CLOCK past claims.clockRefuseMs, warns past clockWarnMs.
   * A spool that takes no write now cannot be measured: the engine starts (its disk watch pauses
   * downloads and says why) and measures again with each disk check.
   */
  async checkAtStart(): Promise<ClockOffset | undefined> {
    const offset = await this.check();
    if (offset?.level === 'refuse') {
      throw new ProgramError('ERR_IMAGESYS_CLOCK', `${clockAdvice(offset.offsetMs, this.options.spool)}, then start again (or raise claims.clockRefuseMs, now ${this.options.refuseMs} ms)`);
    }
    return offset;
  }

  /** Measures again (a probe that fails, on a spool that takes no write, keeps the last measurement). */
  async check(): Promise<ClockOffset | undefined> {
    try {
      const offset = this.measured(await this.options.fsTime.probe());
      this.failing = false;
      return offset;
    } catch (error) {
      if (!this.failing) this.options.log.warn({ err: error }, 'clock offset could not be measured: the spool takes no write');
      this.failing = true;
      return this.last;
    }
  }

  /** Records a reading; logs when the level changes (a warning once past a bound, a line when back). */
  private measured(reading: FsReading): ClockOffset {
    const { warnMs, refuseMs, log, spool } = this.options;
    const level = clockLevel(reading.offsetMs, reading.uncertaintyMs, warnMs, refuseMs);
    const before = this.last?.level ?? 'ok';
    this.last = { offsetMs: Math.round(reading.offsetMs), uncertaintyMs: Math.round(reading.uncertaintyMs), checkedAt: new Date(reading.fsTime).toISOString(), level };
    const fields = { offsetMs: this.last.offsetMs, uncertaintyMs: this.last.uncertaintyMs, warnMs, refuseMs };
    if (level !== 'ok' && level !== before) log.warn({ ...fields, advice: clockAdvice(reading.offsetMs, spool) }, "this host's clock is off the spool's: claims are safe, job times and retries are not");
    else if (level === 'ok' && before !== 'ok') log.info(fields, "this host's clock agrees with the spool's again");
    return this.last;
  }
}

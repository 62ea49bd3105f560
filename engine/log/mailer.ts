/**
 * Mail alerts, the I/O edge: a log stream (`write(line)`, a pino multistream entry) that gathers the
 * lines at or above `alert.email.level` into an AlertBatch and mails it through nodemailer (an SMTP
 * relay or the local sendmail), at most once per `alert.minIntervalMinutes`. The log path never waits:
 * a line is parsed and counted, and the sending runs on a timer. A mail that cannot be sent is logged
 * at warn (with `component: 'mail'`, which this stream never mails, so a dead relay cannot feed itself)
 * and its lines go with the next mail. `close` sends what is left, giving up after a short time.
 */
import { hostname } from 'node:os';
import { createTransport } from 'nodemailer';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import { AlertBatch, renderAlertMail, type LogEvent } from './mail-batch.js';

/** The component of the mailer's own log lines: they are never mailed. */
export const MAIL_COMPONENT = 'mail';

/** The first mail after a quiet spell waits this long (or the interval, if shorter) to gather what follows. */
export const GATHER_MS = 30_000;

/** `close` waits at most this long for the last mail. */
export const CLOSE_TIMEOUT_MS = 5_000;

/** An SMTP relay that does not answer is given up after these (nodemailer's defaults are minutes). */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

/** When the waiting lines are mailed: a gather after the first, and no sooner than an interval after the last try. Pure. */
export function nextSendAt(firstPendingAt: number, lastTryAt: number | undefined, intervalMs: number): number {
  const gathered = firstPendingAt + Math.min(GATHER_MS, intervalMs);
  return lastTryAt === undefined ? gathered : Math.max(gathered, lastTryAt + intervalMs);
}

/** What a mailer sends through (nodemailer's transporter, or a test's). */
export interface MailTransport {
  /** `signal` ends a mail in flight (nodemailer's SMTP transport closes its connection). */
  sendMail(mail: { from: string; to: string[]; subject: string; text: string; signal?: AbortSignal }): Promise<unknown>;
  close(): void;
}

/** The transporter for `alert.email.smtp`: the local sendmail, or an SMTP relay URL. */
export function transportFor(smtp: string): MailTransport {
  return smtp === 'sendmail' ? createTransport({ sendmail: true }) : createTransport({ url: smtp, ...SMTP_TIMEOUTS });
}

/** A relay as the logs show it: never its credentials. Pure. */
export function relayName(smtp: string): string {
  if (smtp === 'sendmail') return 'sendmail';
  const url = new URL(smtp);
  return `${url.protocol}//${url.host}`;
}

export interface AlertMailerOptions {
  settings: Config['alert'];
  /** The process's component (`engine`): named in the mail. */
  component: string;
  clock: Clock;
  /** Default: `transportFor(settings.email.smtp)`. */
  transport?: MailTransport;
  /** Default: this machine's name. */
  host?: string;
}

/** True when `alert.email` sends mail at all (it has recipients). */
export function mailsAlerts(settings: Config['alert']): boolean {
  return settings.email.to.length > 0;
}

export class AlertMailer {
  /** The level name the stream is given in the multistream. */
  readonly level: string;
  private readonly levelValue: number;
  private readonly intervalMs: number;
  private readonly from: string;
  private readonly host: string;
  private readonly transport: MailTransport;
  private pending = new AlertBatch();
  private pendingSince: number | undefined;
  private lastTryAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  /** Ends the mail in flight when close() gives up on it. */
  private inFlight: AbortController | undefined;
  private closed = false;
  private log: Logger | undefined;

  constructor(private readonly options: AlertMailerOptions) {
    const { email, minIntervalMinutes } = options.settings;
    this.level = email.level;
    this.levelValue = pino.levels.values[email.level]!;
    this.intervalMs = minIntervalMinutes * 60_000;
    this.host = options.host ?? hostname();
    this.from = email.from || `imagesys@${this.host}`;
    this.transport = options.transport ?? transportFor(email.smtp);
  }

  /** The logger the mailer reports its own troubles to (a child with `component: 'mail'` is taken). */
  useLog(log: Logger): void {
    this.log = log.child({ component: MAIL_COMPONENT });
  }

  /** The pino stream: one serialized line at a time. Never throws, never waits. */
  readonly write = (line: string): void => {
    if (this.closed) return;
    let event: LogEvent;
    try {
      event = JSON.parse(line) as LogEvent;
    } catch {
      return;
    }
    if (typeof event.level !== 'number' || event.level < this.levelValue || event.component === MAIL_COMPONENT) return;
    this.pending.add(event);
    this.pendingSince ??= this.options.clock();
    this.schedule();
  };

  /** Lines waiting for a mail. */
  get waiting(): number {
    return this.pending.count;
  }

  private schedule(): void {
    if (this.timer || this.sending || this.closed || this.pendingSince === undefined) return;
    const wait = Math.max(0, nextSendAt(this.pendingSince, this.lastTryAt, this.intervalMs) - this.options.clock());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, wait);
    this.timer.unref();
  }

  /** Mails what is waiting; on failure it waits again, before what came since. */
  private send(): Promise<void> {
    if (this.sending) return this.sending;
    if (this.pending.empty) return Promise.resolve();
    const batch = this.pending;
    const since = this.pendingSince!;
    this.pending = new AlertBatch();
    this.pendingSince = undefined;
    this.lastTryAt = this.options.clock();
    const { email, minIntervalMinutes } = this.options.settings;
    const mail = renderAlertMail(batch, { program: 'imagesys', host: this.host, component: this.options.component, pid: process.pid, level: email.level, minIntervalMinutes });
    const controller = (this.inFlight = new AbortController());
    const done = async (): Promise<void> => {
      try {
        await this.transport.sendMail({ from: this.from, to: email.to, subject: mail.subject, text: mail.text, signal: controller.signal });
        this.log?.info({ lines: batch.count, to: email.to, relay: relayName(email.smtp) }, 'alert mail sent');
      } catch (error) {
        batch.failedSends++;
        this.pending = AlertBatch.merged(batch, this.pending);
        this.pendingSince = Math.min(since, this.pendingSince ?? since);
        this.log?.warn({ err: error, lines: this.pending.count, relay: relayName(email.smtp) }, 'alert mail could not be sent; its lines go with the next one');
      } finally {
        this.sending = undefined;
        this.inFlight = undefined;
        this.schedule();
      }
    };
    this.sending = done();
    return this.sending;
  }

  /** Sends what is waiting once (after a mail in flight), for at most `timeoutMs`, then closes the transport. */
  async close(timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    let timeout: NodeJS.Timeout | undefined;
    const last = (async () => {
      await this.sending;
      await this.send();
    })();
    const gaveUp = await Promise.race([last.then(() => false), new Promise<boolean>((resolve) => (timeout = setTimeout(() => resolve(true), timeoutMs)))]);
    clearTimeout(timeout);
    // a relay that holds the connection open must not hold the process: the mail in flight is ended
    this.inFlight?.abort();
    // a failure was logged as such; a relay that did not answer in time is said here
    if (gaveUp) this.log?.warn({ timeoutMs, relay: relayName(this.options.settings.email.smtp) }, 'alert mail not sent at the stop: the relay did not answer in time (the log has its lines)');
    this.transport.close();
  }
}

/**
 * Issue 16, part 3: mail at a threshold. The batch and its text are pure and tested as such; the
 * mailer's timing with a transport of the test's; then the real daemon against a real SMTP server on
 * loopback (smtp-server): one batched mail with the counts and the first examples, and with the server
 * down the daemon goes on, says the mail failed, and the next mail carries the lines it missed.
 */
import { readdir, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, DEFAULT_CONFIG, parseConfig, type Config } from '../engine/config/config.js';
import { hashForUrl } from '../engine/core/hash.js';
import { createLogger } from '../engine/log/logger.js';
import { AlertBatch, exampleOf, kindOf, levelCounts, MAIL_LIMITS, OTHER_KINDS, renderAlertMail, type LogEvent } from '../engine/log/mail-batch.js';
import { AlertMailer, GATHER_MS, MAIL_COMPONENT, nextSendAt, relayName, type MailTransport } from '../engine/log/mailer.js';
import { startSourceServer } from '../scripts/source-server.js';
import { kill, startDaemon, statusPageOf, waitUntil, writeTestConfig } from './support/cli.js';
import { tempDir } from './support/temp.js';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const WARN = 40;
const ERROR = 50;

const event = (msg: string, fields: Record<string, unknown> = {}, level = ERROR, time = T0): LogEvent => ({ level, time, msg, pid: 1, hostname: 'h', name: 'engine', ...fields });

const CONTEXT = { program: 'imagesys', host: 'web1', component: 'engine', pid: 42, level: 'warn', minIntervalMinutes: 10 };

function alertSettings(overrides: Partial<Config['alert']['email']> = {}, minIntervalMinutes = 10): Config['alert'] {
  return { email: { ...DEFAULT_CONFIG.alert.email, to: ['ops@example.com'], ...overrides }, minIntervalMinutes };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('config: mail is off by default; addresses and the relay are checked by key name', () => {
  assert.equal(DEFAULT_CONFIG.alert, { email: { to: [], from: '', level: 'error', smtp: 'sendmail' }, minIntervalMinutes: 10 });
  const ok = parseConfig({ alert: { email: { to: ['ops@example.com', 'a.b+c@mail.example.org'], from: 'imagesys@web1.example.com', level: 'warn', smtp: 'smtp://user:pw@relay.example.com:587' }, minIntervalMinutes: 0.5 } });
  assert.equal(ok.alert.email.to, ['ops@example.com', 'a.b+c@mail.example.org']);
  assert.is(ok.alert.email.smtp, 'smtp://user:pw@relay.example.com:587');
  const refused = (raw: unknown): ConfigError => {
    try {
      parseConfig(raw);
    } catch (error) {
      assert.instance(error, ConfigError);
      return error as ConfigError;
    }
    throw new Error(`accepted: ${JSON.stringify(raw)}`);
  };
  assert.is(refused({ alert: { email: { to: ['ops@example.com', 'not an address'] } } }).key, 'alert.email.to[1]');
  assert.is(refused({ alert: { email: { to: ['Ops <ops@example.com>'] } } }).key, 'alert.email.to[0]');
  assert.is(refused({ alert: { email: { to: 'ops@example.com' } } }).key, 'alert.email.to');
  assert.is(refused({ alert: { email: { from: 'imagesys' } } }).key, 'alert.email.from');
  assert.is(refused({ alert: { email: { level: 'info' } } }).key, 'alert.email.level');
  assert.is(refused({ alert: { email: { smtp: 'http://relay:25' } } }).key, 'alert.email.smtp');
  assert.is(refused({ alert: { email: { smtp: 'relay.example.com' } } }).key, 'alert.email.smtp');
  assert.is(refused({ alert: { minIntervalMinutes: 0 } }).key, 'alert.minIntervalMinutes');
  assert.is(refused({ alert: { email: { cc: [] } } }).key, 'alert.email.cc');
  assert.match(refused({ alert: { email: { to: ['x'] } } }).message, /expected a mail address like ops@example.com for alert.email.to\[0\] but received "x"/);
});

test('a batch counts per message and code, keeps the first examples, and counts past every cap exactly', () => {
  assert.is(kindOf(event('job failed', { code: 'http_not_found' })), 'job failed [http_not_found]');
  assert.is(kindOf(event('rescan failed', { err: { type: 'Error', message: 'x', code: 'EACCES' } })), 'rescan failed [EACCES]');
  assert.is(kindOf(event('rescan failed')), 'rescan failed');
  const example = exampleOf(event('job failed', { job: 'abc', code: 'http_not_found' }), 1_000);
  assert.is(example, '2026-12-01T12:00:00.000Z {"job":"abc","code":"http_not_found"}', 'the time, then the own fields');
  assert.is(exampleOf(event('x', { pad: 'y'.repeat(5_000) }), 100).length, 100, 'cut');

  const batch = new AlertBatch();
  assert.ok(batch.empty);
  for (let i = 0; i < 1_000; i++) batch.add(event('job failed', { job: `j${i}`, code: 'http_not_found' }, WARN, T0 + i));
  batch.add(event('batch could not be read; it stays for the next scan', { batch: 'b1.urls' }));
  for (let k = 0; k < 100; k++) batch.add(event(`message ${k}`));
  assert.is(batch.count, 1_101, 'every line counted');
  const kinds = batch.list();
  assert.is(kinds.length, MAIL_LIMITS.kinds + 1, 'kinds past the cap share one');
  assert.is(kinds[0]!.label, 'job failed [http_not_found]');
  assert.is(kinds[0]!.count, 1_000);
  assert.equal(kinds[0]!.examples.map((e) => /"job":"(j\d+)"/.exec(e)?.[1]), ['j0', 'j1', 'j2', 'j3', 'j4'], 'the first five');
  assert.is(kinds[0]!.firstAt, T0);
  assert.is(kinds[0]!.lastAt, T0 + 999);
  assert.is(kinds.find((k) => k.label === OTHER_KINDS)!.count, 100 - (MAIL_LIMITS.kinds - 2));
  assert.is(kinds.reduce((n, k) => n + k.examples.length, 0), MAIL_LIMITS.examplesTotal, 'examples capped in all');
});

test('a failed batch merged before the new lines: counts add up, the old examples first, the failed tries counted', () => {
  const older = new AlertBatch();
  older.add(event('job failed', { job: 'old1', code: 'http_not_found' }, WARN, T0));
  older.add(event('job failed', { job: 'old2', code: 'http_not_found' }, WARN, T0 + 1));
  older.failedSends = 1;
  const newer = new AlertBatch();
  newer.add(event('job failed', { job: 'new1', code: 'http_not_found' }, WARN, T0 + 10));
  newer.add(event('rescan failed', {}, ERROR, T0 + 11));
  const merged = AlertBatch.merged(older, newer);
  assert.is(merged.count, 4);
  assert.is(merged.failedSends, 1);
  const failed = merged.list()[0]!;
  assert.is(failed.count, 3);
  assert.equal(failed.examples.map((e) => /"job":"(\w+)"/.exec(e)?.[1]), ['old1', 'old2', 'new1']);
  assert.is(failed.firstAt, T0);
  assert.is(failed.lastAt, T0 + 10);
});

test('the mail: subject with counts by level and kinds, text with counts per message and the first examples', () => {
  const batch = new AlertBatch();
  for (let i = 0; i < 9; i++) batch.add(event('job failed', { job: `j${i}`, code: 'http_not_found' }, WARN, T0 + i * 1_000));
  batch.add(event('rescan failed', { err: { type: 'Error', message: 'EIO', code: 'EIO' } }, ERROR, T0 + 500));
  batch.add(event('spool directory cannot be read; the others go on, it is tried at every scan', { dir: 'incoming/uk' }, ERROR, T0 + 600));
  const { subject, text } = renderAlertMail(batch, CONTEXT);
  assert.is(subject, 'imagesys on web1: 2 errors, 9 warnings (3 kinds)');
  assert.match(text, 'imagesys engine on web1 (pid 42) logged 11 lines at warn or above from 2026-12-01T12:00:00.000Z to 2026-12-01T12:00:08.000Z.');
  assert.match(text, /Lines per message:\n {2}9 {2}warn {3}job failed \[http_not_found\]\n {2}1 {2}error {2}rescan failed \[EIO\]\n {2}1 {2}error {2}spool directory cannot be read/);
  assert.match(text, /job failed \[http_not_found\] \(9\):\n {2}2026-12-01T12:00:00.000Z \{"job":"j0","code":"http_not_found"\}\n/);
  assert.match(text, /"job":"j4"/);
  assert.not.match(text, /"job":"j5"/, 'five examples per message');
  assert.not.match(text, /could not be sent/);
  assert.not.match(text, /\n\n\n/, 'no double blank lines');
  batch.failedSends = 2;
  assert.match(renderAlertMail(batch, CONTEXT).text, 'They include lines whose mail could not be sent (2 tries failed).');
  const one = new AlertBatch();
  one.add(event('rescan failed'));
  assert.is(renderAlertMail(one, CONTEXT).subject, 'imagesys on web1: 1 error (1 kind)');
  assert.is(levelCounts([{ label: 'x', level: 60, count: 2, firstAt: 0, lastAt: 0, examples: [] }]), '2 fatal');
});

test('timing: the first mail a gather after the first line, then no sooner than an interval after the last try', () => {
  const interval = 600_000;
  assert.is(nextSendAt(T0, undefined, interval), T0 + GATHER_MS);
  assert.is(nextSendAt(T0, T0 - 10 * interval, interval), T0 + GATHER_MS, 'long after the last mail: a gather');
  assert.is(nextSendAt(T0, T0 - 1_000, interval), T0 - 1_000 + interval, 'soon after a mail: the interval');
  assert.is(nextSendAt(T0, undefined, 2_000), T0 + 2_000, 'an interval shorter than the gather is the gather');
  assert.is(relayName('smtp://user:secret@relay.example.com:587'), 'smtp://relay.example.com:587', 'no credentials in the logs');
  assert.is(relayName('sendmail'), 'sendmail');
});

/** A transport of the test's: it records mails, fails while `down`, hangs while `hang`. */
function fakeTransport(): MailTransport & { mails: Array<{ subject: string; text: string; to: string[] }>; down: boolean; hang: boolean; closed: boolean } {
  const t = {
    mails: [] as Array<{ subject: string; text: string; to: string[] }>,
    down: false,
    hang: false,
    closed: false,
    sendMail(mail: { subject: string; text: string; to: string[] }): Promise<unknown> {
      if (t.hang) return new Promise(() => {});
      if (t.down) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2525'), { code: 'ECONNREFUSED' }));
      t.mails.push(mail);
      return Promise.resolve({});
    },
    close(): void {
      t.closed = true;
    },
  };
  return t;
}

test('the mailer: one mail per interval, a failed one logged but not mailed and its lines carried to the next, the logger never waits', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const transport = fakeTransport();
    const intervalMs = 400;
    const mailer = new AlertMailer({ settings: alertSettings({ level: 'warn' }, intervalMs / 60_000), component: 'engine', clock: Date.now, transport, host: 'web1' });
    const log = createLogger({ level: 'info', component: 'engine', dir, extra: mailer });
    mailer.useLog(log);
    const jobs = log.child({ component: 'jobs' });
    for (let i = 0; i < 3; i++) jobs.warn({ job: `j${i}`, code: 'http_not_found' }, 'job failed');
    jobs.info('not mailed: below the level');
    log.error({ dir: 'incoming/uk' }, 'spool directory cannot be read');
    assert.is(mailer.waiting, 4);
    assert.is(transport.mails.length, 0, 'nothing sent from the log call');
    await waitUntil('the first mail', () => transport.mails.length === 1, 5_000);
    assert.is(transport.mails[0]!.subject, 'imagesys on web1: 1 error, 3 warnings (2 kinds)');
    assert.equal(transport.mails[0]!.to, ['ops@example.com']);

    transport.down = true;
    jobs.warn({ job: 'j3', code: 'http_not_found' }, 'job failed');
    jobs.warn({ job: 'j4', code: 'http_not_found' }, 'job failed');
    const logged = (): string => readFileSync(join(dir, 'engine.log'), 'utf8');
    await waitUntil('the failed mail is logged', () => logged().includes('alert mail could not be sent'), 5_000);
    const failure = logged().split('\n').find((l) => l.includes('alert mail could not be sent'))!;
    assert.is((JSON.parse(failure) as { component?: string }).component, MAIL_COMPONENT);
    assert.is(mailer.waiting, 2, 'the failure line itself is not mailed');
    jobs.warn({ job: 'j5', code: 'http_not_found' }, 'job failed');
    transport.down = false;
    await waitUntil('the next mail', () => transport.mails.length === 2, 5_000);
    assert.match(transport.mails[1]!.subject, /: 3 warnings \(1 kind\)$/);
    assert.match(transport.mails[1]!.text, /"job":"j3".*\n.*"job":"j4".*\n.*"job":"j5"/);
    assert.match(transport.mails[1]!.text, /could not be sent \(1 try failed\)/);
    await sleep(intervalMs * 2);
    assert.is(transport.mails.length, 2, 'nothing more without new lines');

    // at the stop: what waits is sent once; a relay that hangs does not hold the stop up
    transport.hang = true;
    log.error('rescan failed');
    const began = Date.now();
    await mailer.close(300);
    assert.ok(Date.now() - began < 2_000, `close took ${Date.now() - began} ms`);
    assert.ok(transport.closed);
    assert.match(logged(), /alert mail not sent at the stop/);
  } finally {
    await cleanup();
  }
});

test('the logger: the extra stream gets its level even where log.level is higher, and log files keep theirs', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const got: string[] = [];
    const log = createLogger({ level: 'error', component: 'engine', dir, extra: { level: 'warn', write: (line) => void got.push(line) } });
    log.info('info');
    log.warn('warn');
    log.error('error');
    const msg = (line: string): string | undefined => (JSON.parse(line) as { msg?: string }).msg;
    assert.equal(got.map(msg), ['warn', 'error']);
    const lines = (name: string): Array<string | undefined> => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean).map(msg);
    assert.equal(lines('engine.log'), ['error'], 'log.level still rules the files');
    assert.equal(lines('engine.error.log'), ['error']);
  } finally {
    await cleanup();
  }
});

interface Received {
  subject: string;
  text: string;
  to: string;
  from: string;
}

/** A real SMTP server on loopback (no TLS, no auth) that parses what it receives. */
async function startSmtp(port = 0): Promise<{ port: number; mails: Received[]; close: () => Promise<void> }> {
  const mails: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    closeTimeout: 500,
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const address = (a: typeof mail.to): string => (Array.isArray(a) ? a.map((x) => x.text).join(', ') : (a?.text ?? ''));
          mails.push({ subject: mail.subject ?? '', text: mail.text ?? '', to: address(mail.to), from: address(mail.from) });
          callback();
        })
        .catch((error: unknown) => callback(error as Error));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  let closed = false;
  return {
    port: (server.server.address() as AddressInfo).port,
    mails,
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function jobFailedCount(mail: Received): number {
  const match = /^ +(\d+) +warn +job failed \[http_not_found\]$/m.exec(mail.text);
  return match ? Number(match[1]) : 0;
}

test('the daemon mails a real SMTP server one batch with counts and examples; with the server down it goes on, and the next mail carries what was missed', async () => {
  const { dir, cleanup } = await tempDir();
  let smtp = await startSmtp();
  const source = await startSourceServer(new Map()); // every path: 404, a job failed at its first attempt
  const intervalMinutes = 0.1; // 6 s: the first mail 6 s after the first line, the next no sooner than 6 s after
  const config = await writeTestConfig(dir, {
    countries: ['uk'],
    alert: { email: { to: ['ops@example.com'], from: 'imagesys@test.example', level: 'warn', smtp: `smtp://127.0.0.1:${smtp.port}` }, minIntervalMinutes: intervalMinutes },
  });
  const incoming = join(dir, 'spool', 'incoming', 'uk');
  const failed = join(dir, 'spool', 'failed', 'uk');
  const drop = async (name: string, paths: string[]): Promise<void> => {
    await writeFile(join(incoming, `.${name}.tmp`), `${paths.map((p) => source.url(p)).join('\n')}\n`);
    await rename(join(incoming, `.${name}.tmp`), join(incoming, name));
  };
  const failedJobs = async (): Promise<number> => (await readdir(failed).catch(() => [] as string[])).filter((n) => n.endsWith('.job')).length;
  // in the foreground: the lines go to stderr, and the mail goes too
  const daemon = startDaemon(['--config', config]);
  try {
    await waitUntil('the daemon announced its status page', async () => (await statusPageOf(join(dir, 'spool'))) !== undefined, 20_000);
    await drop('first.urls', ['/a.jpg', '/b.jpg', '/c.jpg']);
    await waitUntil('three jobs failed', async () => (await failedJobs()) === 3, 20_000);
    await waitUntil('a mail arrived', () => smtp.mails.length >= 1, 20_000);
    const first = smtp.mails[0]!;
    assert.match(first.subject, /^imagesys on \S+: 3 warnings \(1 kind\)$/, first.subject);
    assert.is(first.to, 'ops@example.com');
    assert.is(first.from, 'imagesys@test.example');
    assert.is(jobFailedCount(first), 3, first.text);
    assert.match(first.text, /logged 3 lines at warn or above/);
    assert.is((first.text.match(/"code":"http_not_found"/g) ?? []).length, 3, 'one example per line, all three');
    for (const path of ['/a.jpg', '/b.jpg', '/c.jpg']) assert.ok(first.text.includes(`"job":"${hashForUrl(source.url(path))}"`), `an example names the job of ${path}:\n${first.text}`);
    await sleep(intervalMinutes * 60_000 + 1_500);
    assert.is(smtp.mails.length, 1, 'one batched mail, nothing more without new lines');

    // the relay goes away: the daemon goes on, says so, and keeps the lines
    await smtp.close();
    const port = smtp.port;
    await drop('second.urls', ['/d.jpg', '/e.jpg']);
    await waitUntil('five jobs failed', async () => (await failedJobs()) === 5, 20_000);
    await waitUntil('the failed mail is logged', () => daemon.output().includes('alert mail could not be sent'), 30_000);
    const page = await statusPageOf(join(dir, 'spool'));
    assert.ok(page, 'the daemon announced its status page');
    const status = await fetch(new URL('/api/status', page));
    assert.is(status.status, 200, 'the daemon answers while the relay is down');
    await status.arrayBuffer();
    const warning = daemon.output().split('\n').find((l) => l.includes('alert mail could not be sent'))!;
    assert.is((JSON.parse(warning) as { component?: string }).component, 'mail', warning);
    assert.match(warning, /ECONNREFUSED/);

    // back up on the same port: the next mail carries the missed lines
    smtp = await startSmtp(port);
    await drop('third.urls', ['/f.jpg']);
    await waitUntil('six jobs failed', async () => (await failedJobs()) === 6, 20_000);
    await waitUntil('the missed lines arrived', () => smtp.mails.reduce((n, m) => n + jobFailedCount(m), 0) === 3, 30_000);
    const next = smtp.mails[0]!;
    assert.ok(jobFailedCount(next) >= 2, `the next mail carries the two missed lines:\n${next.text}`);
    assert.match(next.text, /could not be sent \((1 try|\d+ tries) failed\)/, 'the next mail says a try failed (more than one if the relay stayed down past an interval)');
    for (const path of ['/d.jpg', '/e.jpg']) assert.ok(next.text.includes(`"job":"${hashForUrl(source.url(path))}"`), `an example names the job of ${path}:\n${next.text}`);
    assert.not.match(next.text, /alert mail could not be sent/, 'the failure line itself is not mailed');

    const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
    daemon.kill('SIGTERM');
    assert.is(await exited, 0, daemon.output().slice(-3_000));
  } finally {
    await kill(daemon);
    await smtp.close();
    await source.close();
    await cleanup();
  }
});

test.run();

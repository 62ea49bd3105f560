import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { archiveName, archivesOf, archivesToPrune, LogFile, LogFileOptionError, nextArchive, parseArchive } from '../engine/log/log-file.js';
import { createLogger, reopenLogFiles } from '../engine/log/logger.js';
import { kill, startDaemon, waitUntil, writeTestConfig } from './support/cli.js';
import { tempDir } from './support/temp.js';

interface Line {
  level: number;
  msg: string;
  i?: number;
}

/** Every line of a log file, parsed (a line that is not JSON fails the test). */
function linesOf(path: string): Line[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((text) => text !== '')
    .map((text) => {
      try {
        return JSON.parse(text) as Line;
      } catch {
        throw new Error(`not JSON in ${path}: ${text}`);
      }
    });
}

/** The lines of a log, archives oldest first, then the live file. */
function history(dir: string, base: string): Line[] {
  return [...archivesOf(base, readdirSync(dir)), base].flatMap((name) => linesOf(join(dir, name)));
}

const WARN = 40;

test('archive names carry the date and a number; other logs and strays are not archives', () => {
  assert.is(archiveName('engine.log', '2026-11-28', 1), 'engine.2026-11-28.001.log');
  assert.is(archiveName('engine.error.log', '2026-11-28', 12), 'engine.error.2026-11-28.012.log');
  assert.equal(parseArchive('engine.log', 'engine.2026-11-28.1000.log'), { date: '2026-11-28', n: 1000 });
  for (const stray of ['engine.error.2026-11-28.001.log', 'engine.log.1', 'engine.log', 'engine.2026-11-28.log', 'enginex.2026-11-28.001.log', 'engine.2026-11-28.001.log.gz']) {
    assert.is(parseArchive('engine.log', stray), undefined, stray);
  }
  assert.equal(parseArchive('engine.error.log', 'engine.error.2026-11-28.002.log'), { date: '2026-11-28', n: 2 });
  assert.is(nextArchive('engine.log', '2026-11-28', ['engine.2026-11-28.009.log', 'engine.2026-11-28.010.log', 'engine.error.2026-11-28.050.log', 'engine.2026-11-29.077.log']), 'engine.2026-11-28.011.log');
  assert.is(nextArchive('engine.log', '2026-11-30', ['engine.2026-11-28.009.log']), 'engine.2026-11-30.001.log');
});

test('pruning keeps the newest archives of one log, by date then number, and touches nothing else', () => {
  const names = [
    'engine.log',
    'engine.log.1',
    'engine.2026-11-29.002.log',
    'engine.2026-11-28.999.log',
    'engine.2026-11-29.1000.log',
    'engine.2026-11-29.010.log',
    'engine.error.2026-11-27.001.log',
    'engine.error.2026-11-28.001.log',
  ];
  assert.equal(archivesOf('engine.log', names), ['engine.2026-11-28.999.log', 'engine.2026-11-29.002.log', 'engine.2026-11-29.010.log', 'engine.2026-11-29.1000.log']);
  assert.equal(archivesToPrune('engine.log', names, 2), ['engine.2026-11-28.999.log', 'engine.2026-11-29.002.log']);
  assert.equal(archivesToPrune('engine.log', names, 10), []);
  assert.equal(archivesToPrune('engine.error.log', names, 1), ['engine.error.2026-11-27.001.log']);
});

test('options are checked before a file is opened', () => {
  assert.throws(() => new LogFile('/nonexistent/x.log', { maxBytes: 0, keep: 3 }), (e: unknown) => e instanceof LogFileOptionError && e.code === 'ERR_LOG_FILE_OPTION' && e.message.includes('maxBytes'));
  assert.throws(() => new LogFile('/nonexistent/x.log', { maxBytes: 10, keep: 1.5 }), /keep/);
});

test('a logger rotates by size, keeps `keep` archives per log, loses nothing in that window; the error log holds warnings and errors', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const maxBytes = 4096;
    const keep = 3;
    const log = createLogger({ level: 'debug', component: 'engine', dir, maxBytes, keep });
    const levels = ['debug', 'info', 'warn', 'info', 'error', 'debug'] as const;
    const total = 1200;
    for (let i = 0; i < total; i++) log[levels[i % levels.length]!]({ i, pad: 'x'.repeat(i % 40) }, 'a line to fill the file');

    const names = readdirSync(dir).sort();
    const main = archivesOf('engine.log', names);
    const errors = archivesOf('engine.error.log', names);
    assert.is(main.length, keep, `main archives: ${names.join(' ')}`);
    assert.is(errors.length, keep, `error archives: ${names.join(' ')}`);
    assert.equal(names, [...new Set(['engine.log', 'engine.error.log', ...main, ...errors])].sort(), 'nothing but the two logs and their archives');
    for (const name of [...main, ...errors]) assert.ok(statSync(join(dir, name)).size <= maxBytes, `${name} is at most maxBytes`);
    // numbered on from the pruned ones: many rotations happened, the oldest archives were deleted
    assert.ok(parseArchive('engine.log', main[0]!)!.n > keep + 5, `main log rotated many times: ${main.join(' ')}`);
    assert.ok(parseArchive('engine.error.log', errors[0]!)!.n > 1, `error log rotated and pruned: ${errors.join(' ')}`);

    const kept = history(dir, 'engine.log');
    assert.ok(kept.length > (keep * maxBytes) / 200 && kept.length < total, `kept ${kept.length} of ${total} lines`);
    assert.equal(kept.map((l) => l.i), Array.from({ length: kept.length }, (_, k) => total - kept.length + k), 'the newest lines, all of them, in order');
    assert.equal([...new Set(kept.map((l) => l.level))].sort(), [20, 30, 40, 50], 'the main log holds every level');

    const warnings = history(dir, 'engine.error.log');
    assert.ok(warnings.every((l) => l.level >= WARN), 'the error log holds only warnings and errors');
    const expected = Array.from({ length: total }, (_, i) => i).filter((i) => levels[i % levels.length] === 'warn' || levels[i % levels.length] === 'error');
    assert.equal(warnings.map((l) => l.i), expected.slice(-warnings.length), 'the newest warnings and errors, all of them, in order');
  } finally {
    await cleanup();
  }
});

test('without rotation the error log holds every warning and error, the main log every line', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = createLogger({ level: 'debug', component: 'intake', dir, maxBytes: 1024 * 1024, keep: 3 });
    const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
    for (let i = 0; i < 60; i++) log[levels[i % levels.length]!]({ i }, 'mixed');
    assert.equal(readdirSync(dir).sort(), ['intake.error.log', 'intake.log']);
    assert.equal(linesOf(join(dir, 'intake.log')).map((l) => l.i), Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 6 !== 0), 'all but trace (below the level)');
    assert.equal(linesOf(join(dir, 'intake.error.log')).map((l) => l.i), Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 6 >= 3), 'warn, error and fatal');
  } finally {
    await cleanup();
  }
});

test('the first line of a new UTC day rotates the file under the previous date', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    let clock = Date.UTC(2026, 10, 28, 23, 59, 0);
    const log = createLogger({ level: 'info', component: 'engine', dir, maxBytes: 4096, keep: 5, now: () => clock });
    log.info({ day: 1 }, 'before midnight');
    log.warn({ day: 1 }, 'a warning before midnight');
    assert.equal(readdirSync(dir).sort(), ['engine.error.log', 'engine.log'], 'no rotation within the day');
    clock = Date.UTC(2026, 10, 29, 0, 0, 1);
    log.info({ day: 2 }, 'after midnight');
    assert.equal(linesOf(join(dir, 'engine.2026-11-28.001.log')).map((l) => l.msg), ['before midnight', 'a warning before midnight']);
    assert.equal(linesOf(join(dir, 'engine.log')).map((l) => l.msg), ['after midnight']);
    assert.ok(!readdirSync(dir).includes('engine.error.2026-11-28.001.log'), 'the error log rotates at its own next line');
    log.error({ day: 2 }, 'an error after midnight');
    assert.equal(linesOf(join(dir, 'engine.error.2026-11-28.001.log')).map((l) => l.msg), ['a warning before midnight']);
    assert.equal(linesOf(join(dir, 'engine.error.log')).map((l) => l.msg), ['an error after midnight']);
    // a size rotation on the new day numbers from 001 for that date
    for (let i = 0; i < 60; i++) log.info({ i }, 'filling the second day');
    assert.ok(readdirSync(dir).includes('engine.2026-11-29.001.log'), readdirSync(dir).join(' '));
  } finally {
    await cleanup();
  }
});

test('reopen: after logrotate renamed the file, new lines go to a new file', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = createLogger({ level: 'info', component: 'engine', dir, maxBytes: 1024 * 1024, keep: 3 });
    log.info('before the rename');
    renameSync(join(dir, 'engine.log'), join(dir, 'engine.log.1'));
    log.info('after the rename, before the reopen');
    assert.ok(reopenLogFiles(log));
    log.info('after the reopen');
    assert.equal(linesOf(join(dir, 'engine.log.1')).map((l) => l.msg), ['before the rename', 'after the rename, before the reopen']);
    assert.equal(linesOf(join(dir, 'engine.log')).map((l) => l.msg), ['after the reopen']);
    assert.is(reopenLogFiles(log.child({ job: 'x' })), false, 'a child has no files of its own');
    assert.is(reopenLogFiles(createLogger({ level: 'silent', component: 'x' })), false);
  } finally {
    await cleanup();
  }
});

test('an I/O failure is reported once, never thrown, and writing resumes when the path works again', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const reports: string[] = [];
    const logs = join(dir, 'logs');
    const file = new LogFile(join(logs, 'engine.log'), { maxBytes: 1024, keep: 2, report: (m) => reports.push(m) });
    file.write('{"n":1}\n');
    rmSync(logs, { recursive: true });
    writeFileSync(logs, 'a file where the directory was');
    file.reopen();
    for (let n = 2; n < 5; n++) file.write(`{"n":${n}}\n`); // must not throw
    assert.is(reports.length, 1, reports.join('\n'));
    assert.match(reports[0]!, /cannot write \((EEXIST|ENOTDIR)\)/);
    rmSync(logs);
    mkdirSync(logs);
    file.write('{"n":5}\n');
    assert.equal(linesOf(join(logs, 'engine.log')), [{ n: 5 }]);
    assert.is(reports.length, 2);
    assert.match(reports[1]!, /works again/);
  } finally {
    await cleanup();
  }
});

test('two processes writing one log (two engines on a host): every line kept once, no archive overwritten, sizes bounded', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, 'engine.log');
    const maxBytes = 4096;
    const a = new LogFile(path, { maxBytes, keep: 1000 });
    const b = new LogFile(path, { maxBytes, keep: 1000 });
    const lines: string[] = [];
    for (let i = 0; i < 600; i++) {
      for (const [name, writer] of [['a', a], ['b', b]] as const) {
        const line = `{"writer":"${name}","n":${i},"pad":"${'x'.repeat(20)}"}\n`;
        lines.push(line.trim());
        writer.write(line);
      }
    }
    a.end();
    b.end();
    const files = readdirSync(dir).filter((n) => n.startsWith('engine'));
    assert.ok(files.length > 5, `rotated many times (${files.length} files)`);
    const written = files.flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean));
    assert.is(written.length, lines.length, 'no line lost or doubled');
    assert.equal([...written].sort(), [...lines].sort());
    const lineBytes = Buffer.byteLength(`${lines[0]}\n`);
    for (const name of files) assert.ok(statSync(join(dir, name)).size <= maxBytes + 2 * 64 * lineBytes, `${name} is ${statSync(join(dir, name)).size} bytes`);
  } finally {
    await cleanup();
  }
});

test('two processes at once on one log file: every line kept exactly once across the rotations', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, 'engine.log');
    const module = new URL('../engine/log/log-file.js', import.meta.url).href;
    const writer = (name: string) =>
      new Promise<void>((resolve, reject) => {
        const code = `const { LogFile } = await import(${JSON.stringify(module)});
          const log = new LogFile(${JSON.stringify(path)}, { maxBytes: 8192, keep: 100000 });
          for (let i = 0; i < 4000; i++) log.write(JSON.stringify({ writer: '${name}', n: i }) + '\\n');
          log.end();`;
        const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'inherit', 'inherit'] });
        child.on('exit', (status) => (status === 0 ? resolve() : reject(new Error(`writer ${name} exited ${status}`))));
      });
    await Promise.all([writer('a'), writer('b')]);
    const files = readdirSync(dir).filter((n) => n.startsWith('engine'));
    const lines = files.flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean));
    const seen = new Map<string, number>();
    for (const line of lines) seen.set(line, (seen.get(line) ?? 0) + 1);
    assert.is(seen.size, 8000, 'every line is somewhere');
    assert.equal([...seen.values()].filter((n) => n !== 1), [], 'and only once');
    assert.ok(files.length > 10, `rotated (${files.length} files)`);
  } finally {
    await cleanup();
  }
});

test('a log file removed by hand is followed: the next rotation starts a new one', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, 'engine.log');
    const log = new LogFile(path, { maxBytes: 200, keep: 3, report: () => {} });
    log.write('{"n":1}\n');
    rmSync(path);
    for (let i = 2; i < 40; i++) log.write(`{"n":${i}}\n`);
    log.end();
    assert.ok(existsSync(path), 'a new engine.log was made');
    assert.ok(readFileSync(path, 'utf8').includes('"n":39'), 'the last lines are in it');
  } finally {
    await cleanup();
  }
});

test('a full disk (ENOSPC on write) is reported once, not thrown into pino', () => {
  if (!existsSync('/dev/full')) return console.log('no /dev/full here: the ENOSPC case is not checked');
  const reports: string[] = [];
  const file = new LogFile('/dev/full', { maxBytes: 1024, keep: 2, report: (m) => reports.push(m) });
  for (let n = 0; n < 5; n++) file.write(`{"n":${n}}\n`);
  file.end();
  assert.is(reports.length, 1, reports.join('\n'));
  assert.match(reports[0]!, /cannot write \(ENOSPC\)/);
});

test('the daemon writes engine.log and reopens it on SIGHUP', async () => {
  const { dir, cleanup } = await tempDir();
  const logs = join(dir, 'log');
  const config = await writeTestConfig(dir, { log: { dir: logs, level: 'debug', maxMiB: 1, keep: 3 }, http: { listen: '' } });
  const daemon = startDaemon(['--daemon', '--config', config, '--country', 'uk']);
  const read = (name: string): string => {
    try {
      return readFileSync(join(logs, name), 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitUntil('engine.log says the engine started', () => read('engine.log').includes('"engine started"'));
    renameSync(join(logs, 'engine.log'), join(logs, 'engine.log.1'));
    daemon.kill('SIGHUP');
    await waitUntil('a new engine.log says it was reopened', () => read('engine.log').includes('log files reopened'));
    const reopened = linesOf(join(logs, 'engine.log'));
    assert.ok(reopened.some((l) => l.msg === 'log files reopened'));
    assert.ok(!reopened.some((l) => l.msg === 'engine started'), 'the new file starts after the reopen');
    assert.ok(linesOf(join(logs, 'engine.log.1')).some((l) => l.msg === 'engine started'), 'the renamed file kept the old lines');
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
    daemon.kill('SIGTERM');
    assert.is(await exited, 0, daemon.output());
    assert.ok(linesOf(join(logs, 'engine.log')).some((l) => l.msg.startsWith('run:')), 'the summary went to the new file');
  } finally {
    await kill(daemon);
    await cleanup();
  }
});

test.run();

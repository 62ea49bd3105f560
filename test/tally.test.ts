/**
 * The suite's counts are honest: skips are counted as skips with their reasons (failures under CI),
 * a file that runs nothing or dies early fails. The pure tally, then the real runner on a real test file
 * with a program taken off the PATH.
 */
import { spawn } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSkipRecords, programMissing, SKIP_RECORD, testsNeeding } from './support/needs.js';
import { tallyFile } from './support/tally.js';
import { tempDir } from './support/temp.js';

const summary = (total: number, passed: number, skipped: number): string =>
  `  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n  Duration:  1.00ms\n`;
const ok = { code: 0, signal: null };
const record = { test: 'a proxy test', reason: 'tinyproxy is not installed' };

test('tally: passes, failures, skips with their reasons, and what fails a file without a failed test', () => {
  const cases: Array<[string, string, { code: number | null; signal: NodeJS.Signals | null }, Array<typeof record>, boolean, [number, number, number]]> = [
    ['all passed', summary(3, 3, 0), ok, [], false, [3, 0, 0]],
    ['one failed', summary(3, 2, 0), { code: 1, signal: null }, [], false, [2, 1, 0]],
    ['a skip with its record', summary(1, 1, 1), ok, [record], false, [1, 0, 1]],
    ['a skip under CI is a failure', summary(1, 1, 1), ok, [record], true, [1, 1, 0]],
    ['every test skipped is not "ran nothing"', summary(0, 0, 2), ok, [record, record], false, [0, 0, 2]],
    ['ran no test at all', summary(0, 0, 0), ok, [], false, [0, 1, 0]],
    ['died before the summary', 'Error: boom\n', { code: 1, signal: null }, [], false, [0, 1, 0]],
    ['killed after passing tests', summary(2, 2, 0), { code: null, signal: 'SIGKILL' }, [], false, [2, 1, 0]],
    ['a quoted summary of another run does not count', `${summary(1, 1, 0)}FAIL quoting it\n${summary(5, 2, 0)}`, { code: 1, signal: null }, [], false, [2, 3, 0]],
    ['a skip record whose suite never ran still fails CI', summary(1, 1, 0), ok, [record], true, [1, 1, 0]],
  ];
  for (const [name, output, exit, records, strict, [passed, failed, skipped]] of cases) {
    const tally = tallyFile(output, exit, records, strict);
    assert.equal([tally.passed, tally.failed, tally.skipped], [passed, failed, skipped], name);
  }
  const skippedOne = tallyFile(summary(1, 1, 1), ok, [record], false);
  assert.equal(skippedOne.skips, [record]);
  assert.match(skippedOne.notes.join('\n'), /skipped: a proxy test: tinyproxy is not installed/);
  assert.match(tallyFile(summary(0, 0, 0), ok, [], false).notes.join('\n'), /ran no test/);
  assert.match(tallyFile(summary(1, 1, 1), ok, [], false).notes.join('\n'), /without a skip record/);
});

test('skip records: written by testsNeeding, read back by the runner; other lines ignored', () => {
  const registered: string[] = [];
  const fake = Object.assign((name: string) => void registered.push(`ran ${name}`), {
    only: () => {}, skip: (name?: string) => void registered.push(`skipped ${name}`), before: Object.assign(() => {}, { each: () => {} }),
    after: Object.assign(() => {}, { each: () => {} }), run: () => {},
  });
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => void lines.push(line);
  try {
    testsNeeding(fake, undefined)('runs', () => {});
    const missing = testsNeeding(fake, 'rsync is not installed');
    missing.before(() => void registered.push('hook ran'));
    missing('sweeps', () => {});
  } finally {
    console.log = log;
  }
  assert.equal(registered, ['ran runs', 'skipped sweeps'], 'the hook of a suite whose need is missing does not run');
  assert.equal(parseSkipRecords([...lines, `${SKIP_RECORD}not json`, 'plain output'].join('\n')), [{ test: 'sweeps', reason: 'rsync is not installed' }]);
  assert.match(programMissing('imagesys-no-such-program') ?? '', /not installed/);
  assert.is(programMissing(process.execPath), undefined);
  assert.match(programMissing(process.execPath, ['-e', 'process.exit(3)']) ?? '', /exited 3/);
});

/** The real runner on one real test file, with a PATH that has node and nothing else. */
async function runSuite(filter: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; lastLine: string; output: string }> {
  const runner = join(dirname(fileURLToPath(import.meta.url)), 'run.js');
  const child = spawn(process.execPath, [runner, filter], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, lastLine: output.trim().split('\n').at(-1) ?? '', output };
}

test('a program missing from the PATH: its test is skipped with the reason, and fails under CI=true', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await symlink(process.execPath, join(dir, 'node'));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: dir };
    delete env.CI;
    const local = await runSuite('proxy.test', env);
    assert.is(local.code, 0, local.output);
    assert.match(local.lastLine, /^\d+ passed, 0 failed, 1 skipped$/);
    assert.match(local.output, /proxy\.test\.js .*1 skipped.*tinyproxy is not installed/);
    const ci = await runSuite('proxy.test', { ...env, CI: 'true' });
    assert.is(ci.code, 1, ci.output);
    assert.match(ci.lastLine, /^\d+ passed, 1 failed$/);
    assert.match(ci.output, /count as failed under CI=true/);
  } finally {
    await cleanup();
  }
});

test.run();

/** Error codes are declared once (engine/core/errors.ts); the README's table says the same of each. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { asImageSysError, ERROR_CODES, ImageSysError, isErrorCode, RETRYABLE_CODES, type ErrorCode } from '../engine/core/errors.js';
import { exitCodeOf, PROGRAM_ERRORS, ProgramError, programCodeOf, type ProgramErrorCode } from '../engine/core/program-errors.js';
import { ConfigError } from '../engine/config/config.js';
import { UsageError } from '../scripts/cli-config.js';

const README = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');

/** The README's error table: code -> class, from rows like "| `a` / `b` | transient | ... |". */
function readmeTable(): Map<string, string> {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('| code | class | meaning |');
  assert.ok(start >= 0, 'the README has the error table');
  const rows = text.slice(start).split('\n').slice(2).filter((line, i, all) => line.startsWith('|') && all.slice(0, i).every((l) => l.startsWith('|')));
  const table = new Map<string, string>();
  for (const row of rows) {
    const [codes = '', klass = ''] = row.split('|').slice(1).map((cell) => cell.trim());
    for (const code of codes.match(/`([a-z_]+)`/g) ?? []) {
      const name = code.slice(1, -1);
      assert.not.ok(table.has(name), `${name} appears twice in the README's table`);
      table.set(name, klass);
    }
  }
  return table;
}

test('every code has one row in the README, with its retry class', () => {
  const table = readmeTable();
  assert.equal([...table.keys()].sort(), Object.keys(ERROR_CODES).sort());
  for (const [code, klass] of table) assert.is(klass, ERROR_CODES[code as ErrorCode].retry ? 'transient' : 'permanent', code);
});

test('the retry class comes from the table; unknown codes are internal', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    assert.is(new ImageSysError(code, 'x').retryable, ERROR_CODES[code].retry, code);
    assert.is(RETRYABLE_CODES.has(code), ERROR_CODES[code].retry);
    assert.ok(isErrorCode(code));
  }
  assert.not.ok(isErrorCode('toString'), 'not a code: an inherited property');
  assert.is(asImageSysError(Object.assign(new Error('x'), { code: 'ENOENT' })).code, 'internal');
  assert.is(asImageSysError(Object.assign(new Error('x'), { code: 'too_big' })).code, 'too_big');
});

test("program errors: the README's exit table is the declared one; exit codes come from codes", () => {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('| program error | exit | meaning |');
  assert.ok(start >= 0, 'the README has the exit table');
  const rows = text.slice(start).split('\n').slice(2);
  const table = new Map<string, { exit: number; meaning: string }>();
  for (const row of rows) {
    if (!row.startsWith('|')) break;
    const [code = '', exit = '', meaning = ''] = row.split('|').slice(1).map((cell) => cell.trim());
    table.set(code.replace(/`/g, ''), { exit: Number(exit), meaning });
  }
  assert.equal(Object.fromEntries(table), PROGRAM_ERRORS);
  for (const code of Object.keys(PROGRAM_ERRORS) as ProgramErrorCode[]) assert.is(exitCodeOf(new ProgramError(code, 'x')), PROGRAM_ERRORS[code].exit);
  assert.is(programCodeOf(new ConfigError('pool.threads', 'an integer', 'x')), 'ERR_IMAGESYS_CONFIG');
  assert.is(programCodeOf(new UsageError('x')), 'ERR_IMAGESYS_USAGE');
  assert.is(programCodeOf(new ImageSysError('invalid_url', 'x')), 'ERR_IMAGESYS_BAD_INPUT', "a job's code thrown at the command line is bad input");
  assert.is(programCodeOf(Object.assign(new Error('x'), { code: 'ENOENT' })), 'ERR_IMAGESYS_INTERNAL');
  assert.is(programCodeOf('thrown string'), 'ERR_IMAGESYS_INTERNAL');
  assert.is(exitCodeOf(new TypeError('x')), 1);
});

test.run();

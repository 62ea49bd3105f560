/**
 * The suite runner: each test file runs in its own Node process (so a crash, a leaked handle or a
 * signal test cannot take others down); uvu's per-file totals are added up and the last line reads
 * `N passed, N failed` (`, N skipped` when some test could not run here). `npm test -- <filter>` runs
 * the files whose name contains the filter.
 *
 * Honest counts: a test skipped for a missing program (test/support/needs.ts) is shown with its reason;
 * under CI=true a skip counts as a failure, since CI must run everything. A file that runs no test at
 * all, or ends before uvu's summary, fails.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSkipRecords } from './support/needs.js';
import { tallyFile, type FileTally } from './support/tally.js';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const strictSkips = process.env.CI === 'true';
const files = readdirSync(here, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => filters.length === 0 || filters.some((filter) => f.includes(filter)))
  .sort();

// eslint-disable-next-line no-control-regex -- the escape character (ESC, 0x1b) is what starts the colour codes this strips
const strip = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');

function runFile(file: string): Promise<FileTally & { output: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, file)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code, signal) => {
      const text = strip(output);
      const tally = tallyFile(text, { code, signal }, parseSkipRecords(text), strictSkips);
      resolve({ ...tally, output: text, seconds: (performance.now() - started) / 1000 });
    });
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
if (files.length === 0) console.log(`no test file matches ${filters.join(' ')}`);
for (const file of files) {
  const result = await runFile(file);
  passed += result.passed;
  failed += result.failed;
  skipped += result.skipped;
  const mark = result.failed > 0 ? 'FAIL' : 'ok  ';
  const reasons = [...new Set(result.skips.map((s) => s.reason))];
  const why = reasons.length > 0 ? `: skipped because ${reasons.join('; ')}` : '';
  console.log(`${mark} ${relative('.', join('test', file)).padEnd(40)} ${result.passed} passed, ${result.failed} failed${result.skipped ? `, ${result.skipped} skipped` : ''} (${result.seconds.toFixed(1)}s)${why}`);
  for (const note of result.notes) console.log(`     ${note}`);
  if (result.failed > 0) console.log(result.output.replace(/^/gm, '    '));
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;

/**
 * The suite runner: each test file runs in its own Node process (so a crash, a leaked handle or a
 * signal test cannot take others down); uvu's per-file totals are added up and the last line reads
 * `N passed, N failed`. `npm test -- <filter>` runs the files whose name contains the filter.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => filters.length === 0 || filters.some((filter) => f.includes(filter)))
  .sort();

const strip = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');

function runFile(file: string): Promise<{ passed: number; failed: number; skipped: number; output: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, file)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code, signal) => {
      const text = strip(output);
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0);
      let failed = Number.isNaN(total) ? 0 : total - passed - skipped;
      if ((code !== 0 || signal) && failed === 0) failed = 1; // a crash counts as a failure
      resolve({ passed, failed, skipped, output: text, seconds: (performance.now() - started) / 1000 });
    });
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  const result = await runFile(file);
  passed += result.passed;
  failed += result.failed;
  skipped += result.skipped;
  const mark = result.failed > 0 ? 'FAIL' : 'ok  ';
  console.log(`${mark} ${relative('.', join('test', file)).padEnd(40)} ${result.passed} passed, ${result.failed} failed${result.skipped ? `, ${result.skipped} skipped` : ''} (${result.seconds.toFixed(1)}s)`);
  if (result.failed > 0) console.log(result.output.replace(/^/gm, '    '));
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;

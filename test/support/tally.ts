/** How one test file's run counts: pure, so the runner's honesty is itself tested (test/tally.test.ts). */
import type { SkipRecord } from './needs.js';

export interface FileTally {
  passed: number;
  failed: number;
  skipped: number;
  /** The tests that could not run here, with their reasons (also when CI counts them as failed). */
  skips: SkipRecord[];
  /** Which tests were skipped, or why the file failed without a failed test, one line each. */
  notes: string[];
}

/**
 * Counts from uvu's summary (`Total:` is the tests that ran, `Passed:` those that passed, `Skipped:`
 * the others) and the file's skip records. A file that ends before the summary or exits non-zero
 * fails; one that ran no test and skipped none fails; with `strictSkips` (CI) every skip is a failure.
 */
export function tallyFile(output: string, exit: { code: number | null; signal: NodeJS.Signals | null }, records: SkipRecord[], strictSkips: boolean): FileTally {
  // the last summary is the file's own: a failure message may quote the output of another run
  const field = (name: string): number | undefined => {
    const matches = [...output.matchAll(new RegExp(`^\\s*${name}:\\s+(\\d+)\\s*$`, 'gm'))];
    const last = matches.at(-1);
    return last ? Number(last[1]) : undefined;
  };
  const total = field('Total');
  const passed = field('Passed') ?? 0;
  // a skip record counts even when its suite never reached uvu's count (a suite not run)
  let skipped = Math.max(field('Skipped') ?? 0, records.length);
  let failed = total === undefined ? 0 : total - passed;
  const notes: string[] = [];
  for (const record of records) notes.push(`skipped: ${record.test}: ${record.reason}`);
  if (skipped > records.length) notes.push(`skipped: ${skipped - records.length} test(s) without a skip record (test.skip or test.only)`);
  if (total === undefined) {
    failed = Math.max(failed, 1);
    notes.push(`failed: the file ended before uvu's summary (${describeExit(exit)})`);
  } else if (exit.code !== 0 && failed === 0) {
    failed = 1;
    notes.push(`failed: the file exited with ${describeExit(exit)} although its tests passed`);
  } else if (total === 0 && skipped === 0) {
    failed = 1;
    notes.push('failed: the file ran no test');
  }
  if (strictSkips && skipped > 0) {
    failed += skipped;
    notes.push(`failed: ${skipped} skipped test(s) count as failed under CI=true (CI must run everything)`);
    skipped = 0;
  }
  return { passed, failed, skipped, skips: records, notes };
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

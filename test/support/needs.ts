/**
 * What a test needs from the machine beyond Node and this repository (a program from the system's
 * packages, free disk space), decided when its file loads. A test whose need is missing is registered
 * with uvu's `test.skip` and announced on a skip record, one line on stdout that the runner
 * (test/run.ts) reads, so it is counted as skipped with its reason, never as passed; under CI=true the
 * runner counts it as failed. scripts/setup.sh installs every program named here.
 */
import { spawnSync } from 'node:child_process';
import type { Callback, Test } from 'uvu';

/** The start of a skip record: `#skip {"test":"...","reason":"..."}`. */
export const SKIP_RECORD = '#skip ';

export interface SkipRecord {
  test: string;
  reason: string;
}

/** Parses the skip records in a test file's output. Pure. */
export function parseSkipRecords(output: string): SkipRecord[] {
  const records: SkipRecord[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith(SKIP_RECORD)) continue;
    try {
      const record = JSON.parse(line.slice(SKIP_RECORD.length)) as Partial<SkipRecord>;
      if (typeof record.test === 'string' && typeof record.reason === 'string') records.push({ test: record.test, reason: record.reason });
    } catch {
      // not a record: a test's own output that happens to start the same way
    }
  }
  return records;
}

/**
 * Why `program` cannot be run here, or undefined when `program args` starts and exits 0. Programs
 * that print their version with another flag than --version pass it in `args`.
 */
export function programMissing(program: string, args: readonly string[] = ['--version']): string | undefined {
  const result = spawnSync(program, args, { stdio: 'ignore', timeout: 10_000 });
  if (result.error) return `${program} is not installed (scripts/setup.sh installs it)`;
  if (result.status !== 0) return `${program} ${args.join(' ')} exited ${result.status ?? result.signal}`;
  return undefined;
}

/** The first reason among several (undefined when nothing is missing). */
export function firstMissing(...reasons: Array<string | undefined>): string | undefined {
  return reasons.find((reason) => reason !== undefined);
}

/**
 * `test` itself when nothing is missing (`reason` undefined); otherwise a stand-in with the same shape
 * that registers every test as skipped, writes its skip record, and ignores the hooks (a suite's
 * `before` usually starts the very thing that is missing).
 */
export function testsNeeding<T>(test: Test<T>, reason: string | undefined): Test<T> {
  if (reason === undefined) return test;
  const skip = (name: string, _body?: Callback<T>): void => {
    test.skip(name);
    console.log(`${SKIP_RECORD}${JSON.stringify({ test: name, reason } satisfies SkipRecord)}`);
  };
  const ignore = Object.assign((_hook: Callback<T>): void => {}, { each: (_hook: Callback<T>): void => {} });
  return Object.assign(skip, { only: skip, skip, before: ignore, after: ignore, run: () => test.run() });
}

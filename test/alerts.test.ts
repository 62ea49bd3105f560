/**
 * The shipped Prometheus alert rules (engine/observe/alerts/imagesys.rules.yml), checked and unit-tested
 * with Prometheus' own promtool: every alert fires on a series made to break it and stays silent on a
 * healthy one (test/alerts/imagesys.rules.test.yml), and a rule changed against its test fails it.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test as uvuTest } from 'uvu';
import * as assert from 'uvu/assert';
import { programMissing, testsNeeding } from './support/needs.js';
import { tempDir } from './support/temp.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RULES = join(ROOT, 'engine', 'observe', 'alerts', 'imagesys.rules.yml');
const TESTS = join(ROOT, 'test', 'alerts', 'imagesys.rules.test.yml');
const test = testsNeeding(uvuTest, programMissing('promtool', ['--version']));

/** promtool's exit and output, whether it passed or not. */
async function promtool(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const alertNames = (rules: string): string[] => [...rules.matchAll(/^\s*- alert: (\S+)/gm)].map((m) => m[1]!);

test('the rules file is valid Prometheus rules', async () => {
  const checked = await promtool(['check', 'rules', RULES], ROOT);
  assert.is(checked.code, 0, checked.output);
  const names = alertNames(await readFile(RULES, 'utf8'));
  assert.match(checked.output, new RegExp(`SUCCESS: ${names.length} rules found`));
  assert.ok(names.length >= 7, names.join(', '));
});

test('promtool test rules: every alert fires on its broken series and is silent on a healthy one', async () => {
  const names = alertNames(await readFile(RULES, 'utf8'));
  const tests = await readFile(TESTS, 'utf8');
  for (const name of names) {
    const cases = [...tests.matchAll(new RegExp(`alertname: ${name}\\n\\s*exp_alerts:( \\[\\])?`, 'g'))];
    assert.ok(cases.some((c) => c[1] === undefined), `${name} has a case where it fires`);
    assert.ok(cases.some((c) => c[1] === ' []'), `${name} has a case where it stays silent`);
  }
  const result = await promtool(['test', 'rules', TESTS], join(ROOT, 'test', 'alerts'));
  assert.is(result.code, 0, result.output);
  assert.match(result.output, /SUCCESS/);
});

test('a rule changed against its test fails it: the tests can fail', async () => {
  const { dir, cleanup } = await tempDir('imagesys-alerts-');
  try {
    const rules = await readFile(RULES, 'utf8');
    assert.match(rules, /\) > 0\.25\n/);
    await writeFile(join(dir, 'rules.yml'), rules.replace(/\) > 0\.25\n/, ') > 0.5\n'));
    await writeFile(join(dir, 'tests.yml'), (await readFile(TESTS, 'utf8')).replace('../../engine/observe/alerts/imagesys.rules.yml', 'rules.yml'));
    const result = await promtool(['test', 'rules', 'tests.yml'], dir);
    assert.is(result.code, 1, result.output);
    assert.match(result.output, /FAILED:[\s\S]*alertname: ImageSysErrorRate/);
  } finally {
    await cleanup();
  }
});

test.run();

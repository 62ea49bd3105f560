/**
 * The architecture, checked on the sources: folders import one another without a cycle; spool/ and
 * workers/ stand below the engine; the time is read in one place; paths under the spool root are built
 * in spool/ only; long modules say why they are long.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PRODUCT = ['engine', 'spool', 'workers', 'scripts'];
/** Past this, a module's first lines say why it is long. */
const LONG_MODULE_LINES = 400;
const LONG_REASON = /why (it is )?long:/i;

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourcesUnder(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The folder a module belongs to: engine/<sub> inside the engine, else its top folder. Pure. */
export function folderOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] === 'engine' && parts.length > 2) return `engine/${parts[1]}`;
  return parts[0]!;
}

/** Relative imports of a module (value and type alike), as repository paths of .ts files. Pure. */
export function importsOf(path: string, text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
    out.push(relative(ROOT, resolve(ROOT, dirname(path), match[1]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** The cycles of a directed graph: its strongly connected components of more than one node (Tarjan). Pure. */
export function cyclesOf(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, indices.get(next)!));
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) visit(node);
  return cycles;
}

const modules = PRODUCT.flatMap(sourcesUnder).map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }));

test('the checks themselves: a cycle is found, a chain is not; folders are named as the tree shows them', () => {
  const graph = (edges: Array<[string, string]>): Map<string, Set<string>> => {
    const g = new Map<string, Set<string>>();
    for (const [a, b] of edges) g.set(a, (g.get(a) ?? new Set()).add(b));
    return g;
  };
  assert.equal(cyclesOf(graph([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']])), [['a', 'b', 'c']]);
  assert.equal(cyclesOf(graph([['a', 'b'], ['b', 'c'], ['a', 'c']])), []);
  assert.is(folderOf('engine/scheduler/queues.ts'), 'engine/scheduler');
  assert.is(folderOf('engine/engine.ts'), 'engine');
  assert.is(folderOf('spool/spool.ts'), 'spool');
  assert.equal(importsOf('engine/scheduler/queues.ts', "import type { X } from '../core/clock.js';\nexport { Y } from './host-queue.js';\n"), ['engine/core/clock.ts', 'engine/scheduler/host-queue.ts']);
  assert.ok(modules.length > 50, 'the sources were found');
});

test('folders import one another without a cycle', () => {
  const graph = new Map<string, Set<string>>();
  for (const { path, text } of modules) {
    const from = folderOf(path);
    for (const target of importsOf(path, text)) {
      const to = folderOf(target);
      if (to !== from) graph.set(from, (graph.get(from) ?? new Set()).add(to));
    }
  }
  assert.equal(cyclesOf(graph), [], 'folders in a cycle');
});

test('spool/ and workers/ import nothing of the engine but its core leaves; workers/ nothing of spool/', () => {
  const wrong: string[] = [];
  for (const { path, text } of modules) {
    for (const target of importsOf(path, text)) {
      if (path.startsWith('spool/') && target.startsWith('engine/') && !target.startsWith('engine/core/')) wrong.push(`${path} -> ${target}`);
      if (path.startsWith('workers/') && ((target.startsWith('engine/') && !target.startsWith('engine/core/')) || target.startsWith('spool/'))) wrong.push(`${path} -> ${target}`);
    }
  }
  assert.equal(wrong, []);
});

test('engine/core/ holds leaves: its modules import nothing of the project outside core/', () => {
  const wrong = modules.filter((m) => m.path.startsWith('engine/core/')).flatMap(({ path, text }) => importsOf(path, text).filter((t) => !t.startsWith('engine/core/')).map((t) => `${path} -> ${t}`));
  assert.equal(wrong, []);
});

/** Reading the time: Date.now() or a Date of now. */
const READS_CLOCK = /Date\.now\(\)|new Date\(\)/;

test('the time is read in one place: Date.now() and new Date() only in engine/core/clock.ts (browser code aside)', () => {
  assert.ok(READS_CLOCK.test('const t = Date.now();') && READS_CLOCK.test('at: new Date(),') && !READS_CLOCK.test('new Date(now)'));
  const readers = modules
    .filter(({ path }) => path !== 'engine/core/clock.ts' && !path.startsWith('engine/observe/page/client/'))
    .filter(({ text }) => READS_CLOCK.test(text.replace(/^\s*(\/\/|\*).*$/gm, '')))
    .map((m) => m.path);
  assert.equal(readers, []);
});

test('paths under the spool root are built in spool/ only', () => {
  const SPOOL_NAMES = /join\([^)]*'(incoming|downloaded|thumbed|failed|\.locks|\.state|\.sweep[^']*|\.arrivals|\.expiry|history)'/;
  const builders = modules.filter(({ path, text }) => !path.startsWith('spool/') && SPOOL_NAMES.test(text)).map((m) => m.path);
  assert.equal(builders, []);
});

test(`modules over ${LONG_MODULE_LINES} lines say at their top why they are long`, () => {
  const long = modules.filter(({ text }) => text.split('\n').length > LONG_MODULE_LINES && !LONG_REASON.test(text.split('\n').slice(0, 15).join('\n')));
  assert.equal(long.map((m) => `${m.path} (${m.text.split('\n').length} lines)`), []);
});

test.run();

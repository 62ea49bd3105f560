import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inlineScript } from '../engine/observe/page/inline-script.js';

const reader = (files: Record<string, string>) => (path: string): string => {
  const text = files[path];
  if (text === undefined) throw new Error(`no ${path}`);
  return text;
};

test('modules are linked into one script, each after what it imports, each in its own scope', () => {
  const script = inlineScript(
    '/p/client/main.js',
    reader({
      '/p/format.js': "const hidden = 2;\nexport function twice(n) {\n    return n * hidden;\n}\nexport const UNITS = ['B'];\n//# sourceMappingURL=format.js.map\n",
      '/p/client/dom.js': "import { twice as double } from '../format.js';\nconst hidden = 'mine';\nexport function show(n) {\n    return `${hidden} ${double(n)}`;\n}\n",
      '/p/client/main.js': "import { UNITS } from '../format.js';\nimport { show } from './dom.js';\nout.push(show(21), UNITS[0]);\nexport {};\n",
    }),
  );
  assert.not.match(script, /^\s*(import|export)\b/m);
  assert.not.match(script, /sourceMappingURL/);
  const out: string[] = [];
  runInNewContext(script, { out });
  assert.equal(out, ['mine 42', 'B']);
  assert.ok(script.indexOf('function twice') < script.indexOf('function show'), 'format.js comes first');
  assert.is(script.match(/function twice/g)?.length, 1, 'a module imported twice is linked once');
});

test('what the linker does not know is refused, not passed on', () => {
  const refuse = (main: string, pattern: RegExp): void => assert.throws(() => inlineScript('/p/main.js', reader({ '/p/main.js': main, '/p/x.js': 'export const x = 1;\n' })), pattern);
  refuse("import * as x from './x.js';\n", /does not know/);
  refuse("import './x.js';\n", /does not know/);
  refuse("export default 1;\n", /does not know/);
  refuse("export { x } from './x.js';\n", /does not know/);
  refuse("import { x } from 'lodash';\n", /not a file of the page/);
  assert.throws(() => inlineScript('/p/a.js', reader({ '/p/a.js': "import { b } from './b.js';\nexport const a = 1;\n", '/p/b.js': "import { a } from './a.js';\nexport const b = 2;\n" })), /cycle/);
});

test.run();

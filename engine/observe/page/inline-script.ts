/**
 * Links the page's compiled ES modules (page/client/*.js and the ../format.js they import) into one
 * classic script, so that the page stays one self-contained document with one inline script whose
 * hash the Content-Security-Policy names (a module script would fetch its imports from the daemon).
 *
 * Each module becomes a function scope that returns its exports; an import becomes a destructuring
 * of the imported module's exports; modules come after what they import. It understands only the
 * shapes tsc emits for this code (`import { a, b as c } from './x.js';`, `export function|const|let|
 * class name`; an export is the value it has once its module ran) and refuses anything else, so
 * a new kind of import fails loudly when the page is put together rather than break the page in a
 * browser. Pure: the modules are read through `read`.
 */
import { dirname, relative, resolve } from 'node:path';

/** The text of a compiled module, by its absolute path. */
export type ReadModule = (path: string) => string;

interface Module {
  path: string;
  /** The text without its imports, exports keywords and source map comment. */
  body: string;
  imports: Array<{ from: string; bindings: string }>;
  exports: string[];
}

const IMPORT = /^import \{([^}]*)\} from '([^']+)';$/gm;
const EXPORTED_DECLARATION = /^export ((?:async )?function\*? |const |let |class )(\w+)/gm;
const EMPTY_EXPORT = /^export \{\};$/gm;
const SOURCE_MAP = /^\/\/# sourceMappingURL=.*$/gm;
/** What is left of an import or export that the rules above did not take. */
const UNSUPPORTED = /^(?:import\b|export\b)/m;

/** `a, b as c` as a destructuring pattern: `a, b: c`. */
const pattern = (bindings: string): string =>
  bindings
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '')
    .map((b) => b.replace(/^(\w+) as (\w+)$/, '$1: $2'))
    .join(', ');

function parse(path: string, text: string): Module {
  const imports: Module['imports'] = [];
  const exports: string[] = [];
  let body = text.replace(SOURCE_MAP, '').replace(EMPTY_EXPORT, '');
  body = body.replace(IMPORT, (_line, bindings: string, specifier: string) => {
    if (!specifier.startsWith('.')) throw new Error(`status page script: ${path} imports ${specifier}, which is not a file of the page`);
    imports.push({ from: resolve(dirname(path), specifier), bindings: pattern(bindings) });
    return '';
  });
  body = body.replace(EXPORTED_DECLARATION, (_line, kind: string, name: string) => {
    exports.push(name);
    return `${kind}${name}`;
  });
  const left = UNSUPPORTED.exec(body);
  if (left) throw new Error(`status page script: ${path} has an import or export the page's linker does not know: ${body.slice(left.index, body.indexOf('\n', left.index))}`);
  return { path, body: body.trim(), imports, exports };
}

/** One classic script that runs `entry` (an absolute path) after every module it imports. */
export function inlineScript(entry: string, read: ReadModule): string {
  const ordered: Module[] = [];
  const visiting = new Set<string>();
  const visit = (path: string): void => {
    if (ordered.some((m) => m.path === path)) return;
    if (visiting.has(path)) throw new Error(`status page script: an import cycle through ${path}`);
    visiting.add(path);
    const module = parse(path, read(path));
    for (const i of module.imports) visit(i.from);
    visiting.delete(path);
    ordered.push(module);
  };
  visit(entry);
  const name = (path: string): string => `module${ordered.findIndex((m) => m.path === path)}`;
  const scopes = ordered.map((m) => {
    const imports = m.imports.map((i) => `const { ${i.bindings} } = ${name(i.from)};\n`).join('');
    return `// ${relative(dirname(entry), m.path)}\nconst ${name(m.path)} = (() => {\n${imports}${m.body}\nreturn { ${m.exports.join(', ')} };\n})();\n`;
  });
  return `(() => {\n'use strict';\n${scopes.join('')}})();\n`;
}

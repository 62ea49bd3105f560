/**
 * The package as a website installs it: `npm pack` of this repository (built), installed into a
 * temporary project with npm, then imported by name from Node and type-checked with tsc. Only the
 * Interface is reachable; a deep import fails, for Node and for TypeScript alike.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir } from './support/temp.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM_QUIET = ['--no-audit', '--no-fund', '--loglevel=error'];

/** What the consumer prints: the names it imported, and what each deep import did. */
const CONSUMER = `
const interfaceModule = await import('imagesys');
const deep = {};
for (const path of ['imagesys/dist/engine/tree/tree.js', 'imagesys/dist/engine/interface.js', 'imagesys/package.json']) {
  try { await import(path); deep[path] = 'imported'; } catch (error) { deep[path] = error.code; }
}
const { readFileSync } = await import('node:fs');
const schema = JSON.parse(readFileSync(interfaceModule.manifestSchemaPath(), 'utf8'));
console.log(JSON.stringify({ names: Object.keys(interfaceModule).sort(), deep, schemaId: schema.$id, hash: interfaceModule.hashForUrl('HTTP://Photos.Example/1.jpg') }));
`;
const TYPED = `
import { thumbnailsForUrls, pictureHtml, type Thumbnails, type Manifest } from 'imagesys';
export async function listing(tree: string, urls: string[]): Promise<string[]> {
  const all: Array<Thumbnails | undefined> = await thumbnailsForUrls({ tree, baseUrl: 'https://img.example/t' }, 'uk', urls);
  const version: Manifest['version'] = 1;
  return all.map((t) => (t ? pictureHtml(t, 'a photo of the listing') : String(version)));
}
`;
const DEEP = `import { readManifest } from 'imagesys/dist/engine/tree/tree.js';\nexport const read = readManifest;\n`;

const tsconfig = (file: string): string =>
  JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] }, files: [file] });

test('npm pack, installed into a project: the Interface imports by name, with its types; nothing else does', async () => {
  const { dir, cleanup } = await tempDir('imagesys-package-');
  try {
    const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', dir, ...NPM_QUIET], { cwd: ROOT });
    const { filename, files } = (JSON.parse(packed) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
    const paths = files.map((f) => f.path);
    assert.ok(paths.includes('dist/engine/interface.d.ts') && paths.includes('dist/engine/tree/manifest.v1.schema.json'), 'the Interface, its types and the schema ship');
    assert.not.ok(paths.some((p) => p.startsWith('dist/test/') || p.startsWith('dist/bench/')), 'no tests or benches in the package');

    const project = join(dir, 'site');
    await run('mkdir', [project]);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'site', private: true, type: 'module' }));
    // from npm's cache when it has the dependencies (set-up filled it), else from the registry
    await run('npm', ['install', '--prefer-offline', '--ignore-scripts', ...NPM_QUIET, join(dir, filename)], { cwd: project, timeout: 180_000 });
    const installed = JSON.parse(await readFile(join(project, 'node_modules', 'imagesys', 'package.json'), 'utf8')) as { exports: unknown };
    assert.equal(Object.keys(installed.exports as object), ['.'], 'one entry point');

    await writeFile(join(project, 'consumer.mjs'), CONSUMER);
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: project });
    const seen = JSON.parse(stdout) as { names: string[]; deep: Record<string, string>; schemaId: string; hash: string };
    for (const name of ['hashForUrl', 'pathForHash', 'thumbnailsForUrl', 'thumbnailsForHash', 'thumbnailsForUrls', 'pictureHtml', 'pictureData', 'manifestSchemaPath']) {
      assert.ok(seen.names.includes(name), `${name} is exported`);
    }
    assert.equal(seen.deep, {
      'imagesys/dist/engine/tree/tree.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'imagesys/dist/engine/interface.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'imagesys/package.json': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
    assert.is(seen.schemaId, 'urn:imagesys:manifest:v1');
    assert.match(seen.hash, /^[0-9a-f]{32}$/);

    await writeFile(join(project, 'typed.ts'), TYPED);
    await writeFile(join(project, 'deep.ts'), DEEP);
    await writeFile(join(project, 'tsconfig.typed.json'), tsconfig('typed.ts'));
    await writeFile(join(project, 'tsconfig.deep.json'), tsconfig('deep.ts'));
    await run(process.execPath, [TSC, '-p', 'tsconfig.typed.json'], { cwd: project }); // throws on a type error
    const deep = await run(process.execPath, [TSC, '-p', 'tsconfig.deep.json'], { cwd: project }).then(
      () => 'compiled',
      (error: unknown) => (error as { stdout: string }).stdout,
    );
    assert.match(deep, /TS2307: Cannot find module 'imagesys\/dist\/engine\/tree\/tree\.js'/);
  } finally {
    await cleanup();
  }
});

test.run();

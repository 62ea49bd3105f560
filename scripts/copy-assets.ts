/**
 * The build's last step (`npm run build`): copies the files that tsc does not emit from the source tree
 * into dist/, beside the compiled module that reads them: the status page's markup and style sheet
 * (engine/observe/page/status-page.ts) and the manifest's JSON Schema (engine/interface.ts).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Paths relative to the repository root, the same under dist/. */
const ASSETS = ['engine/observe/page/page.html', 'engine/observe/page/page.css', 'engine/tree/manifest.v1.schema.json'];

/** This file is scripts/copy-assets.ts, run as dist/scripts/copy-assets.js. */
const dist = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = dirname(dist);

for (const asset of ASSETS) {
  mkdirSync(dirname(join(dist, asset)), { recursive: true });
  copyFileSync(join(root, asset), join(dist, asset));
}

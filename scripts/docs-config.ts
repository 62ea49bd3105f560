/**
 * `npm run docs:config`: writes the README's config table from engine/config/schema.ts, the one place
 * each key's default and doc are declared (test/config.test.ts fails while the two differ).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withConfigTable } from '../engine/config/docs.js';

const readmePath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const updated = withConfigTable(readme);
if (updated === readme) {
  console.log('README.md: the config table is up to date');
} else {
  writeFileSync(readmePath, updated);
  console.log('README.md: config table written from engine/config/schema.ts');
}

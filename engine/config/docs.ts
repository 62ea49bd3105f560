/**
 * The README's config table, generated from the schema's docs and defaults (`npm run docs:config`
 * writes it; test/config.test.ts checks that the README holds exactly this). Pure.
 */
import { SCHEMA } from './schema.js';
import { keysOf, type ConfigKey, type Section } from './section.js';

const HEADER = '| key | default | meaning |';

/** One row per key, in declaration order, ending with a newline. */
export function configTable(schema: Section = SCHEMA): string {
  const rows = keysOf(schema).map(([path, key]) => `| \`${path}\` | ${cell(shownDefault(key))} | ${cell(key.doc)} |`);
  return [HEADER, '| --- | --- | --- |', ...rows, ''].join('\n');
}

/** Where the README's config table is: from its header row to the first line that is not a row. */
function tableSpan(readme: string): { start: number; end: number } {
  const start = readme.indexOf(`${HEADER}\n`);
  if (start < 0) throw new Error(`the README has no config table (a line "${HEADER}")`);
  const lines = readme.slice(start).split('\n');
  const rows = lines.findIndex((line) => !line.startsWith('|'));
  return { start, end: start + lines.slice(0, rows).join('\n').length + 1 };
}

/** The config table as the README has it now. */
export function readmeConfigTable(readme: string): string {
  const { start, end } = tableSpan(readme);
  return readme.slice(start, end);
}

/** The README with its config table replaced by `table`. */
export function withConfigTable(readme: string, table = configTable()): string {
  const { start, end } = tableSpan(readme);
  return readme.slice(0, start) + table + readme.slice(end);
}

function shownDefault(key: ConfigKey<unknown>): string {
  if (key.shownDefault !== undefined) return key.shownDefault;
  if (key.check.show) return key.check.show(key.fallback);
  const value = key.fallback;
  if (typeof value === 'number') return value >= 1_000_000 ? value.toString().replace(/\B(?=(\d{3})+$)/g, ',') : `${value}`;
  if (typeof value === 'boolean') return `${value}`;
  if (value === '') return "`''`";
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

/** Text safe inside a table cell: one line, no column break. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

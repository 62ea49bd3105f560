/** Text for the benches' tables and lines. */

/** A figure with `digits` decimals, or '-' when there is none. */
export function fmt(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

export type Align = 'left' | 'right';

/**
 * Rows as columns two spaces apart, each padded to its widest cell (the first row sets the column
 * count); `align` says per column which side the padding goes. Trailing blanks are trimmed.
 */
export function table(rows: ReadonlyArray<readonly string[]>, align: (column: number) => Align = () => 'left'): string {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (align(c) === 'left' ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

/** Numbers read best right-aligned under a left-aligned label column. */
export const labelThenNumbers = (column: number): Align => (column === 0 ? 'left' : 'right');

/**
 * Where a bench's text goes: progress to stderr (for the person watching), the table and then, last,
 * one JSON line to stdout (for whoever keeps the figures: the last line is the machine-readable one).
 */

export type Progress = (text: string) => void;

/** Progress lines prefixed with the bench's name: "bench:sweep: ...". */
export const progressLines =
  (name: string): Progress =>
  (text) =>
    void process.stderr.write(`${name}: ${text}\n`);

export function printLines(lines: readonly string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** The figures as one JSON line; a bench prints it last. */
export function printJsonLine(figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

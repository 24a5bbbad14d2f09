/** Plain-text tables that fit the terminal, and progress bars, for the CLI. */

export type Cell = string | number | null;

/** Columns of the terminal; 120 when output goes to a pipe or file (COLUMNS overrides that). */
export function terminalWidth(): number {
  const columns = process.stdout.columns || Number(process.env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : 120;
}

export interface TableOptions {
  /** Default: the terminal's. */
  width?: number;
  /** Columns (by header) that give way first: free text such as messages and payloads. */
  shrink?: string[];
}

/**
 * A table no wider than `width`: while it is too wide, the widest column of `shrink` gives up a
 * character, then the widest of any; cut cells end in an ellipsis.
 */
export function table(headers: string[], rows: Cell[][], options: TableOptions = {}): string {
  const cells = rows.map((row) => row.map((c) => (c === null ? '' : oneLine(String(c)))));
  const natural = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const widths = fit(
    natural,
    natural.map((n, i) => Math.min(n, Math.max(headers[i]!.length, 8))),
    options.width ?? terminalWidth(),
    new Set((options.shrink ?? []).map((h) => headers.indexOf(h))),
  );
  const line = (r: string[]) => r.map((c, i) => clip(c, widths[i]!).padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function fit(natural: number[], minimum: number[], width: number, first: Set<number>): number[] {
  const widths = [...natural];
  let total = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  const widestOf = (columns: number[]) =>
    columns.filter((i) => widths[i]! > minimum[i]!).reduce((best, i) => (best < 0 || widths[i]! > widths[best]! ? i : best), -1);
  while (total > width) {
    let widest = widestOf([...first]);
    if (widest < 0) widest = widestOf(widths.map((_, i) => i));
    if (widest < 0) break; // every column is at its minimum: let the line wrap
    widths[widest]!--;
    total--;
  }
  return widths;
}

/** `text` cut to `width` characters, the last an ellipsis when anything was cut. */
export function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Newlines and tabs would break a table's rows. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n\t]+\s*/g, ' ');
}

export function bar(percent: number, width = 24): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent.toFixed(0).padStart(3)}%`;
}

export function iso(instant: number | null): string | null {
  return instant === null ? null : new Date(instant).toISOString();
}

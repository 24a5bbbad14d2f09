/** Plain-text tables and progress bars for the CLI. */

export function table(headers: string[], rows: Array<Array<string | number | null>>): string {
  const cells = rows.map((row) => row.map((c) => (c === null ? '' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function bar(percent: number, width = 24): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent.toFixed(0).padStart(3)}%`;
}

export function iso(instant: number | null): string | null {
  return instant === null ? null : new Date(instant).toISOString();
}

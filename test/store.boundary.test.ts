/**
 * The store boundary holds: no module of src/ outside src/db imports a driver or the query builder, so
 * another store (PostgreSQL) can take SQLite's place behind src/db/store.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : /\.[cm]?[jt]s$/.test(entry.name) ? [path] : [];
  });
}

test('only src/db imports drizzle-orm, better-sqlite3 or pg (import, dynamic import or require, either quote)', () => {
  const importing = sources(SRC)
    .filter((file) => /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"](?:drizzle-orm|better-sqlite3|pg)(?:\/[^'"]*)?['"]/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(SRC, file).split('\\').join('/'));
  expect(importing.length).toBeGreaterThan(0); // the pattern finds the stores' own imports
  expect(importing.filter((file) => !file.startsWith('db/'))).toEqual([]);
});

/**
 * Raw views of the stored bytes, for "a refused event changes nothing" checks: every column with
 * its SQLite storage class, read without Drizzle's decoding. Values compare with Object.is
 * (node:assert deepStrictEqual), so a REAL that changed by one ulp, an INTEGER stored as REAL or a
 * re-encoded JSON text all show.
 */
import type Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `phaseline-${prefix}-`));
}

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** A statement prepared once per connection. */
function prepared(sqlite: Database.Database, sql: string): Database.Statement {
  let cache = statements.get(sqlite);
  if (!cache) statements.set(sqlite, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = sqlite.prepare(sql)));
  return stmt;
}

function columnsOf(sqlite: Database.Database, table: string): string[] {
  return (sqlite.prepare(`PRAGMA table_info(${JSON.stringify(table)})`).all() as Array<{ name: string }>).map((c) => c.name);
}

const rawSelects = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** `SELECT typeof(c1), c1, typeof(c2), c2 ... FROM table WHERE ... ORDER BY ...`, raw, prepared once per connection. */
function rawSelect(sqlite: Database.Database, table: string, where: string, order: string): Database.Statement {
  let cache = rawSelects.get(sqlite);
  if (!cache) rawSelects.set(sqlite, (cache = new Map()));
  const key = `${table}|${where}|${order}`;
  let stmt = cache.get(key);
  if (!stmt) {
    const cols = columnsOf(sqlite, table).flatMap((c) => [`typeof("${c}")`, `"${c}"`]);
    stmt = sqlite.prepare(`SELECT ${cols.join(', ')} FROM "${table}" ${where} ${order}`).raw(true);
    cache.set(key, stmt);
  }
  return stmt;
}

/** The job's row exactly as stored (undefined when there is none). */
export function rawJob(sqlite: Database.Database, id: number): unknown[] | undefined {
  return rawSelect(sqlite, 'jobs', 'WHERE id = ?', '').get(id) as unknown[] | undefined;
}

/** The job's history exactly as stored, in sequence order. */
export function rawHistory(sqlite: Database.Database, id: number): unknown[][] {
  return rawSelect(sqlite, 'job_events', 'WHERE job_id = ?', 'ORDER BY seq').all(id) as unknown[][];
}

/**
 * Where the tables end: the newest job's id and the newest event's key. A write of a new job, or of
 * an event for the newest job (the one a property run drives), moves them; they are index seeks, not
 * scans (job_events is WITHOUT ROWID: count(*) would walk every event).
 */
export function lastRowids(sqlite: Database.Database): { jobs: number | null; events: string | null } {
  return prepared(
    sqlite,
    `SELECT (SELECT max(id) FROM jobs) AS jobs,
            (SELECT job_id || ':' || seq FROM job_events ORDER BY job_id DESC, seq DESC LIMIT 1) AS events`,
  ).get() as { jobs: number | null; events: string | null };
}

/** Every row of every table (AUTOINCREMENT's sqlite_sequence included), exactly as stored, in key order. */
export function dumpAll(sqlite: Database.Database): Record<string, unknown[][]> {
  const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  const out: Record<string, unknown[][]> = {};
  for (const table of tables) out[table] = rawSelect(sqlite, table, '', `ORDER BY ${orderOf(sqlite, table)}`).all() as unknown[][];
  return out;
}

/** The primary key's columns, or rowid for a table without one (WITHOUT ROWID tables have no rowid). */
function orderOf(sqlite: Database.Database, table: string): string {
  const pk = (sqlite.prepare(`PRAGMA table_info(${JSON.stringify(table)})`).all() as Array<{ name: string; pk: number }>)
    .filter((c) => c.pk > 0)
    .sort((a, b) => a.pk - b.pk)
    .map((c) => `"${c.name}"`);
  return pk.length > 0 ? pk.join(', ') : 'rowid';
}

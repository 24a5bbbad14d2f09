/**
 * Opening a database: the file, its pragmas, and the migrations, before anything else runs.
 */
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { fileURLToPath } from 'node:url';
import * as schema from './schema.ts';

export type PhaselineDb = BetterSQLite3Database<typeof schema>;

export interface OpenOptions {
  /**
   * `synchronous` pragma. `NORMAL` (default) is durable against process crashes, and against power
   * loss up to the last checkpoint; `FULL` makes every commit durable when its promise resolves.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** Milliseconds a writer waits for another process's lock before SQLITE_BUSY. Default 5000. */
  busyTimeoutMs?: number;
}

export interface OpenDatabase {
  sqlite: Database.Database;
  db: PhaselineDb;
  file: string;
}

const MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Open (or create) a Phaseline database and bring its schema up to date. `:memory:` works too. */
export function openDatabase(file: string, options: OpenOptions = {}): OpenDatabase {
  const sqlite = new Database(file);
  // First, so that switching a new file to WAL waits for another process opening it at the same time.
  sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  sqlite.pragma('foreign_keys = ON');
  // 32 MiB of page cache (the default is 2 MiB): the claim index and recent rows stay in memory
  // even with millions of finished jobs in the table.
  sqlite.pragma('cache_size = -32768');
  const db = drizzle(sqlite, { schema });
  migrateOnce(db);
  return { sqlite, db, file };
}

/**
 * Drizzle's migrator reads what is applied, then applies the rest in its own transaction. Two
 * processes opening a new file together can both read "nothing applied"; the loser's CREATE TABLE
 * then fails, and a second pass sees the winner's work and has nothing left to do.
 */
function migrateOnce(db: PhaselineDb): void {
  for (let pass = 1; ; pass++) {
    try {
      migrate(db, { migrationsFolder: MIGRATIONS });
      return;
    } catch (error) {
      if (pass >= 3) throw error;
    }
  }
}

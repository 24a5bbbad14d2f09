/**
 * `phaseline serve` as a real process: loopback by default and saying so, a bearer token when one
 * is given (401 without it), a busy port in one line with exit 2, a clean exit on SIGTERM, and
 * jobs of a user lifecycle changed over HTTP once `--lifecycles` loads it, and the dashboard at
 * /dashboard under the same token (a browser signs in with it).
 */
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPhaseline } from '../src/phaseline.ts';
import { FIXTURES, isOneLineError, phaseline, start } from './fixtures/cli/run.ts';
import { note } from './fixtures/cli/note-lifecycle.ts';
import { tempDir } from './support/sqlite.ts';

const dir = tempDir('cli-serve');
const db = join(dir, 'serve.db');
const children: Array<ReturnType<typeof start>> = [];
afterAll(() => {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Job 1: a note nobody has claimed. */
beforeAll(async () => {
  const p = createPhaseline({ file: db, lifecycles: [note] });
  p.register({ name: 'note.write', lifecycle: 'note', attempts: 1, handler: async () => null });
  await p.enqueue('note.write', { text: 'hello' });
  await p.close();
});

function serve(args: string[], env: NodeJS.ProcessEnv = {}) {
  const server = start(['--db', db, 'serve', '--port', '0', ...args], env);
  children.push(server);
  return server;
}

/** The base URL from the start-up line. */
function baseOf(line: string): string {
  return /listening on (http:\/\/[^ ]+) /.exec(line)![1]!;
}

function listening(port = 0): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('phaseline serve', () => {
  it('serves the dashboard at /dashboard under the same token: a browser signs in with it, the API still wants the header', async () => {
    const tokenFile = join(dir, 'token-dashboard');
    writeFileSync(tokenFile, 'dash-token\n');
    const server = serve(['--token-file', tokenFile]);
    const line = await server.firstLine;
    expect(line).toContain('dashboard at /dashboard');
    const base = baseOf(line);
    expect((await fetch(`${base}/dashboard/`)).status).toBe(401);
    const page = await fetch(`${base}/dashboard/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/dashboard/sign-in');
    const withHeader = await fetch(`${base}/dashboard/jobs/1`, { headers: { authorization: 'Bearer dash-token' } });
    expect(withHeader.status).toBe(200);
    expect(await withHeader.text()).toContain('note.write');
    const signIn = (token: string) =>
      fetch(`${base}/dashboard/sign-in`, { method: 'POST', headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}`, redirect: 'manual' });
    expect((await signIn('wrong-token')).status).toBe(401);
    const signed = await signIn('dash-token');
    expect(signed.status).toBe(303);
    const cookie = signed.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${base}/dashboard/`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${base}/api/jobs`, { headers: { cookie } })).status).toBe(401);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('listens on loopback with a bearer token: 401 without it or with a wrong one, 200 with it; SIGTERM ends it with 0', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 's3cret-token\n');
    const server = serve(['--token-file', tokenFile]);
    const line = await server.firstLine;
    expect(line).toMatch(/^phaseline: listening on http:\/\/127\.0\.0\.1:\d+ \(loopback only, bearer token required\)/);
    const base = baseOf(line);
    expect((await fetch(`${base}/api/jobs`)).status).toBe(401);
    expect((await fetch(`${base}/api/jobs`, { headers: { authorization: 'Bearer s3cret-toke' } })).status).toBe(401);
    expect((await fetch(`${base}/api/jobs`, { headers: { authorization: 'Bearer s3cret-token-and-more' } })).status).toBe(401);
    expect((await fetch(`${base}/api/jobs`, { headers: { authorization: 's3cret-token' } })).status).toBe(401);
    const ok = await fetch(`${base}/api/jobs`, { headers: { authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as Array<{ id: number }>).map((j) => j.id)).toEqual([1]);
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect(exit.err).toBe('');
  });

  it('without a token says so; PHASELINE_TOKEN gives one; with --lifecycles a user job is cancelled over HTTP', async () => {
    const open = serve([]);
    const line = await open.firstLine;
    expect(line).toMatch(/^phaseline: listening on http:\/\/127\.0\.0\.1:\d+ \(loopback only, no authentication\)/);
    // Without the module the server cannot move a note job: its misconfiguration, a 503, not a client error.
    expect((await fetch(`${baseOf(line)}/api/jobs/1`, { method: 'DELETE' })).status).toBe(503);
    open.child.kill('SIGTERM');
    expect((await open.exited).code).toBe(0);

    const withEnv = serve(['--lifecycles', join(FIXTURES, 'note-lifecycle.ts')], { PHASELINE_TOKEN: 'from-env' });
    const base = baseOf(await withEnv.firstLine);
    expect((await fetch(`${base}/api/jobs/1`, { method: 'DELETE' })).status).toBe(401);
    const cancelled = await fetch(`${base}/api/jobs/1`, { method: 'DELETE', headers: { authorization: 'Bearer from-env' } });
    expect(cancelled.status).toBe(200);
    withEnv.child.kill('SIGTERM');
    expect((await withEnv.exited).code).toBe(0);
    expect(JSON.parse(phaseline(['--db', db, 'show', '1', '--json']).out)).toMatchObject({ state: 'dropped', outcome: 'cancelled' });
  });

  it('warns in its start-up line when it listens beyond loopback without a token', async () => {
    const server = serve(['--host', '0.0.0.0']);
    expect(await server.firstLine).toMatch(/listening on http:\/\/0\.0\.0\.0:\d+ \(WARNING: reachable from other hosts with no authentication; set --token-file or PHASELINE_TOKEN\)/);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('a busy port, a missing token file, an empty token or one with spaces: one line, exit 2', async () => {
    const taken = await listening();
    try {
      const port = (taken.address() as { port: number }).port;
      const fresh = join(dir, 'never-created.db');
      const busy = phaseline(['--db', fresh, 'serve', '--port', String(port)]);
      expect(existsSync(fresh)).toBe(false); // the port is taken before the database is created
      expect(busy.code).toBe(2);
      expect(isOneLineError(busy), busy.err).toBe(true);
      expect(busy.err).toBe(`phaseline: cannot listen on 127.0.0.1:${port}: the port is already in use (choose another with --port)\n`);
      expect(busy.out).toBe('');
    } finally {
      taken.close();
    }
    const noFile = phaseline(['--db', db, 'serve', '--port', '0', '--token-file', join(dir, 'nope')]);
    expect(noFile).toMatchObject({ code: 2, err: `phaseline: --token-file ${join(dir, 'nope')}: no such file\n`, out: '' });
    const empty = phaseline(['--db', db, 'serve', '--port', '0'], { PHASELINE_TOKEN: ' ' });
    expect(empty).toMatchObject({ code: 2, err: 'phaseline: PHASELINE_TOKEN: the token is empty\n', out: '' });
    const spaced = phaseline(['--db', db, 'serve', '--port', '0'], { PHASELINE_TOKEN: 'two words' });
    expect(spaced).toMatchObject({ code: 2, out: '' });
    expect(spaced.err).toMatch(/^phaseline: PHASELINE_TOKEN: a bearer token is one word/);
    expect(phaseline(['--db', db, 'serve', '--port', '70000']).code).toBe(2);
  });
});

/**
 * Hardening of the HTTP layer, each through the real server (test/helpers/http-harness.ts):
 * another owner's job answers exactly as a missing one; bodies that are not forms, or are broken
 * forms, are refused (415, 400) with nothing written; `__proto__` is a parameter like any other;
 * no server file path reaches a client; a malformed id is a 400; a 413 closes its connection,
 * and a connection the server keeps open stays usable.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineLifecycle } from '../machines/index.ts';
import { createHttpApp, type Caller } from '../src/http/index.ts';
import { defineJobType } from '../src/jobtypes.ts';
import { createPhaseline } from '../src/phaseline.ts';
import { withoutPaths } from '../src/views/index.ts';
import { client, type Client } from './helpers/http-client.ts';
import { rawConnection } from './helpers/http-raw.ts';
import { startHarness, waitForState, type Harness } from './helpers/http-harness.ts';
import { uwsParameters } from './helpers/http-xml.ts';
import { freshDatabase } from './support/stores.ts';

function authenticate(request: Request): Caller | null {
  const match = /^Bearer ([a-z]+)$/.exec(request.headers.get('authorization') ?? '');
  return match ? { owner: match[1]!, admin: false } : null;
}

let h: Harness;
let alice: Client;
let bob: Client;
const MISSING = 999_999;

beforeAll(async () => {
  h = await startHarness({ http: { authenticate, maxBodyBytes: 4096 } });
  alice = client(h.origin, { headers: { authorization: 'Bearer alice' } });
  bob = client(h.origin, { headers: { authorization: 'Bearer bob' } });
});
afterAll(async () => {
  await h?.close();
});

/** Row and history of a job, to compare before and after a refusal. */
const state = async (id: number) => JSON.stringify([await h.phaseline.get(id), await h.phaseline.history(id)]);

/** Status, headers but Date, and body: what a client can tell apart. */
async function signature(response: Response): Promise<string> {
  const headers = [...response.headers].filter(([name]) => name !== 'date');
  return JSON.stringify([response.status, headers, await response.text()]);
}

describe("another owner's job is indistinguishable from a missing one", () => {
  it('on every route of every API: same status, headers and body', async () => {
    const pending = await alice.create({ mode: 'quick' });
    const completed = await alice.create({ mode: 'quick', PHASE: 'RUN' });
    const asking = await h.phaseline.enqueue('test.ecotaxa', { mode: 'ask' }, { owner: 'alice' });
    await waitForState(h.phaseline, completed, 'COMPLETED');
    await waitForState(h.phaseline, asking, 'A');
    const json = { headers: { 'content-type': 'application/json' }, body: '{"a":1}' };
    const routes: Array<[string, (id: number) => Promise<Response>]> = [];
    for (const path of ['', '/phase', '/executionduration', '/destruction', '/quote', '/error', '/owner', '/parameters', '/parameters/mode', '/results', '/results/image', '?WAIT=2']) {
      routes.push([`GET /uws/{id}${path}`, (id) => bob.get(`/uws/${id}${path}`)]);
    }
    routes.push(
      ['DELETE /uws/{id}', (id) => bob.del(`/uws/${id}`)],
      ['POST /uws/{id} ACTION=DELETE', (id) => bob.post(`/uws/${id}`, { ACTION: 'DELETE' })],
      ['POST /uws/{id}/phase', (id) => bob.post(`/uws/${id}/phase`, { PHASE: 'RUN' })],
      ['POST /uws/{id}/parameters', (id) => bob.post(`/uws/${id}/parameters`, { n: '2' })],
      ['POST /uws/{id}/executionduration', (id) => bob.post(`/uws/${id}/executionduration`, { EXECUTIONDURATION: '5' })],
      ['POST /uws/{id}/destruction', (id) => bob.post(`/uws/${id}/destruction`, { DESTRUCTION: '2099-01-01T00:00:00Z' })],
      ['GET /api/jobs/{id}', (id) => bob.get(`/api/jobs/${id}/`)],
      ['POST /api/jobs/{id}/answer', (id) => bob.post(`/api/jobs/${id}/answer`, {}, json)],
      ['GET /api/jobs/{id}/restart', (id) => bob.get(`/api/jobs/${id}/restart`)],
      ['DELETE /api/jobs/{id}', (id) => bob.del(`/api/jobs/${id}`)],
    );
    for (const view of ['', '?view=uws', '?view=synapse', '?view=rime', '?view=qiskit', '?view=ecotaxa']) {
      routes.push([`GET /jobs/{id}${view}`, (id) => bob.get(`/jobs/${id}${view}`)]);
    }
    for (const own of [pending, completed, asking]) {
      const before = await state(own);
      for (const [name, request] of routes) {
        const missing = await signature(await request(MISSING));
        expect(await signature(await request(own)), `${name} for job ${own}`).toBe(missing);
        expect(missing, name).toContain('JOB_NOT_FOUND: No such job');
      }
      expect(await state(own)).toBe(before);
    }
    // The control: alice herself sees her job, so the 404s above were about bob.
    expect((await alice.get(`/uws/${pending}`)).status).toBe(200);
  });
});

describe('bodies', () => {
  const multipart = (body: string, boundary = 'XyZ') => ({ body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
  const malformed = [
    multipart('this is not multipart at all'),
    multipart('--XyZ\r\nContent-Disposition: form-data; name="mode"\r\n\r\nquick'), // no closing boundary
    multipart('--XyZ\r\nno headers here\r\n--XyZ--\r\n'),
    { body: '--a\r\n\r\n--a--', headers: { 'content-type': 'multipart/form-data' } }, // no boundary
  ];

  it('a malformed multipart body is 400 naming the body, on create, phase and parameters; nothing is written', async () => {
    const id = await alice.create({ mode: 'quick', n: '1' });
    const before = await state(id);
    const count = (await h.phaseline.list()).length;
    for (const init of malformed) {
      for (const path of ['/uws', `/uws/${id}/phase`, `/uws/${id}/parameters`]) {
        const response = await alice.post(path, {}, init);
        const text = await response.text();
        expect(response.status, `${path} ${init.body.slice(0, 20)}: ${text}`).toBe(400);
        expect(text).toMatch(/INVALID_INPUT: Invalid body: .*multipart/);
      }
    }
    expect(await state(id)).toBe(before);
    expect((await h.phaseline.list()).length).toBe(count);
  });

  it('a body that is not a form is 415 on create and parameters; nothing is written', async () => {
    const id = await alice.create({ mode: 'quick', n: '1' });
    const before = await state(id);
    const count = (await h.phaseline.list()).length;
    const bodies = [
      { body: '{"mode":"quick"}', headers: { 'content-type': 'application/json' } },
      { body: 'mode=quick', headers: { 'content-type': 'text/plain' } },
      { body: '<mode>quick</mode>', headers: { 'content-type': 'application/xml' } },
      { body: 'mode=quick', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1' } },
      { body: new Uint8Array([109, 61, 113]), headers: {} as Record<string, string> }, // bytes, no content type
    ];
    for (const init of bodies) {
      for (const path of ['/uws', `/uws/${id}/parameters`, `/uws/${id}/phase`]) {
        const response = await alice.post(path, {}, init);
        const text = await response.text();
        expect(response.status, `${path} ${JSON.stringify(init.headers)}: ${text}`).toBe(415);
        expect(text).toMatch(/^UNSUPPORTED_MEDIA_TYPE: .*(form|UTF-8)/);
      }
    }
    expect(await state(id)).toBe(before);
    expect((await h.phaseline.list()).length).toBe(count);
    // No body and no content type is fine, and so is a form.
    const bare = await alice.post('/uws', {}, { body: null });
    expect(bare.status).toBe(303);
    expect((await alice.post(`/uws/${id}/parameters`, { n: '2' })).status).toBe(303);
  });
});

describe('__proto__ is a parameter name like any other (stored as data)', () => {
  const entries = (value: unknown) => Object.entries(value as object).sort(([a], [b]) => a.localeCompare(b));

  it('one, repeated, in the query, and through /parameters', async () => {
    const one = await alice.create({ mode: 'quick', ['__proto__']: 'x' });
    const job = await h.phaseline.get(one);
    expect(Object.hasOwn(job.params as object, '__proto__')).toBe(true);
    expect(entries(job.params)).toEqual([['__proto__', 'x'], ['mode', 'quick']]);
    expect(Object.getPrototypeOf(job.params)).toBe(Object.prototype);
    expect(entries(uwsParameters(await alice.xml(`/uws/${one}/parameters`)))).toEqual([['__proto__', 'x'], ['mode', 'quick']]);
    expect(await alice.text(`/uws/${one}/parameters/__proto__`)).toBe('x');

    const body = new URLSearchParams([['mode', 'quick'], ['__proto__', 'a'], ['__proto__', 'b']]);
    const repeated = await alice.create({}, { body });
    expect(entries((await h.phaseline.get(repeated)).params)).toEqual([['__proto__', ['a', 'b']], ['mode', 'quick']]);

    const queried = await (async () => {
      const response = await alice.post('/uws?__proto__=q', { mode: 'quick' });
      expect(response.status).toBe(303);
      return Number(response.headers.get('location')!.split('/').pop());
    })();
    expect(entries((await h.phaseline.get(queried)).params)).toEqual([['__proto__', 'q'], ['mode', 'quick']]);

    expect((await alice.post(`/uws/${one}/parameters`, { ['__proto__']: 'y', n: '3' })).status).toBe(303);
    expect(entries((await h.phaseline.get(one)).params)).toEqual([['__proto__', 'y'], ['mode', 'quick'], ['n', '3']]);
  });

  it('an EcoTaxa answer with a __proto__ key is stored as that key, and nothing is polluted', async () => {
    const id = await h.phaseline.enqueue('test.ecotaxa', { mode: 'ask' }, { owner: 'alice' });
    await waitForState(h.phaseline, id, 'A');
    const body = '{"__proto__":{"polluted":true},"taxa":"copepoda"}';
    const response = await alice.post(`/api/jobs/${id}/answer`, {}, { body, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(200);
    const reply = (await h.phaseline.get(id)).reply as Record<string, unknown>;
    expect(Object.hasOwn(reply, '__proto__')).toBe(true);
    expect(JSON.stringify(reply)).toBe(body);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('no server file path reaches a client', () => {
  it('a failed job: /error, the job XML, every JSON view and the EcoTaxa API show file names only', async () => {
    const uws = await alice.create({ mode: 'fail', PHASE: 'RUN' });
    const synapse = await h.phaseline.enqueue('test.synapse', { mode: 'fail' }, { owner: 'alice' });
    await waitForState(h.phaseline, uws, 'ERROR');
    await waitForState(h.phaseline, synapse, 'FAILED');
    const root = process.cwd();
    for (const id of [uws, synapse]) {
      // The control: the stored stack does hold the absolute path of the handler's file.
      const stack = (await h.phaseline.get(id)).errors.at(-1)!.stack!;
      expect(stack).toContain(root);
      const bodies: string[] = [];
      const paths = ['/jobs/{id}', '/jobs/{id}?view=uws', '/jobs/{id}?view=synapse', '/jobs/{id}?view=rime', '/jobs/{id}?view=qiskit', '/jobs/{id}?view=ecotaxa', '/api/jobs/{id}/'];
      if (id === uws) paths.push('/uws/{id}', '/uws/{id}/error');
      for (const path of paths) {
        const response = await alice.get(path.replace('{id}', String(id)));
        expect(response.status, path).toBe(200);
        bodies.push(await response.text());
      }
      for (const body of bodies) {
        expect(body).not.toContain(root);
        expect(body).not.toMatch(/\bat (?:[^\n]*\()?(?:file:\/\/)?\//);
      }
      // What the frames mean is kept: the file name and position of each frame.
      expect(bodies.join('\n')).toMatch(/http-harness\.ts:\d+:\d+/);
    }
    expect(await alice.text(`/uws/${uws}/error`)).toMatch(/^Error: kaboom in job \d+\n\nError: kaboom in job \d+\n\s+at /);
  });

  // Directories with spaces, after a colon, as file:// URLs and Windows drive paths.
  const LEAKY = [
    'at run (/home/John Smith/app/job.ts:3:9)',
    'at /home/John Smith/app/job.ts:3:9',
    'at run (file:///home/John%20Smith/app/job.js:3:9)',
    'at run (C:\\Users\\John Smith\\app\\job.ts:3:9)',
    "ENOENT: no such file or directory, open '/home/John Smith/app/data.json'",
    'spawn failed, cwd:/srv/app/x',
    'config at C:/srv/app/settings.json',
  ];

  it('directories with spaces, after a colon, file:// URLs and drive paths are cut to the file name', async () => {
    expect(LEAKY.map(withoutPaths)).toEqual([
      'at run (job.ts:3:9)',
      'at job.ts:3:9',
      'at run (job.js:3:9)',
      'at run (job.ts:3:9)',
      "ENOENT: no such file or directory, open 'data.json'",
      'spawn failed, cwd:x',
      'config at settings.json',
    ]);
    // URLs and fractions are not paths.
    expect(withoutPaths('see https://example.org/a/b, //cdn/x/y and 1/2')).toBe('see https://example.org/a/b, //cdn/x/y and 1/2');
    // And through the server: a job failing with these in its message and stack.
    h.phaseline.register({
      name: 'test.leaky',
      lifecycle: 'synapse',
      attempts: 1,
      handler: () => {
        const error = new Error(LEAKY.join('; '));
        error.stack = `Error: ${error.message}\n    ${LEAKY.join('\n    ')}`;
        throw error;
      },
    });
    const id = await h.phaseline.enqueue('test.leaky', {}, { owner: 'alice' });
    await waitForState(h.phaseline, id, 'FAILED');
    expect((await h.phaseline.get(id)).errors.at(-1)!.stack).toContain('/home/John Smith/'); // the control
    const bodies: string[] = [];
    for (const view of ['', '?view=uws', '?view=synapse', '?view=rime', '?view=qiskit', '?view=ecotaxa']) {
      const body = await (await alice.get(`/jobs/${id}${view}`)).text();
      expect(body, view).not.toMatch(/John|Smith|Users|\/srv|srv\/|app[\\/]/);
      bodies.push(body);
    }
    expect(bodies.join('\n')).toContain('job.ts:3:9'); // the frames are still shown

  });

  it('a server-side failure (a closed engine) is 503 without its message', async () => {
    const phaseline = createPhaseline({ db: await freshDatabase() });
    await phaseline.ready();
    const app = createHttpApp(phaseline);
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    try {
      await phaseline.close(0);
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/uws/1`);
      expect(response.status).toBe(503);
      expect(await response.text()).toBe('CLOSED: Service unavailable\n');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('a stored job whose lifecycle the server has not loaded', () => {
  it('is 503 with a neutral body (a server misconfiguration), while an unknown job type stays 400', async () => {
    const db = await freshDatabase();
    const chore = defineLifecycle({
      name: 'chore', version: 1, initial: 'queued',
      states: {
        queued: { tags: ['queued'], on: { CLAIM: { target: 'working', actions: 'apply' }, CANCEL: { target: 'dropped', actions: 'apply' } } },
        working: { tags: ['running'], on: { SUCCEED: { target: 'done', actions: 'apply' } } },
        done: { type: 'final', tags: ['terminal', 'succeeded'] },
        dropped: { type: 'final', tags: ['terminal', 'cancelled'] },
      },
    });
    const writer = createPhaseline({ db, lifecycles: [chore] });
    writer.register(defineJobType({ name: 'chore.sweep', lifecycle: 'chore', attempts: 1, handler: async () => ({}) }));
    const id = await writer.enqueue('chore.sweep', {});
    await writer.close(0);
    const phaseline = createPhaseline({ db }); // without the chore lifecycle
    const app = createHttpApp(phaseline);
    const errors = console.error;
    console.error = () => {}; // the server logs it for its operator; not for this output
    try {
      for (const [method, path] of [['DELETE', `/api/jobs/${id}`], ['GET', `/api/jobs/${id}/restart`]] as const) {
        const response = await app.fetch(new Request(`http://x${path}`, { method }));
        expect(response.status, path).toBe(503);
        expect(await response.text(), path).toBe('UNKNOWN_LIFECYCLE: Service unavailable\n');
      }
      // Nothing was written.
      expect((await phaseline.history(id)).map((e) => e.type)).toEqual(['CREATE']);
      // A client asking for a job of a type the server does not have is the client's 400.
      const create = await app.fetch(new Request('http://x/uws', { method: 'POST' }));
      expect(create.status).toBe(400);
      expect(await create.text()).toMatch(/^UNKNOWN_JOB_TYPE: /);
    } finally {
      console.error = errors;
      await phaseline.close(0);
    }
  });
});

describe('malformed job ids', () => {
  it('are 400 "malformed" on every family, whoever asks and whether or not a job 1 exists', async () => {
    await alice.create({ mode: 'quick' }); // so that job 1 exists and 1e0, 0x1, 01 would name it
    for (const id of ['abc', '1e3', '1e0', '0x1', '01', '0', '-1', '1.0', '+1', '%201', '99999999999999999']) {
      for (const path of [`/uws/${id}`, `/uws/${id}/phase`, `/api/jobs/${id}/`, `/jobs/${id}`]) {
        const answers = await Promise.all([alice.get(path), bob.get(path)].map(async (r) => signature(await r)));
        expect(answers[0], path).toBe(answers[1]);
        expect(answers[0], path).toContain('INVALID_INPUT: Invalid job id: malformed');
        expect(JSON.parse(answers[0]!)[0], path).toBe(400);
      }
    }
  });
});

describe('connections: closed when the server says close, usable when it keeps them', () => {
  const port = () => Number(new URL(h.origin).port);
  /** The head of a form POST of `body` (the test sends the body itself, in pieces). */
  const slowPost = (path: string, body: string) =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`;

  it('after a 413 (body over the limit, still arriving) the server says Connection: close and closes', async () => {
    const conn = await rawConnection(port());
    const body = `n=${'x'.repeat(5000)}`;
    conn.write(slowPost('/uws', body) + body.slice(0, 100));
    await new Promise((resolve) => setTimeout(resolve, 800));
    conn.write(body.slice(100));
    const first = await conn.response();
    expect(first.status).toBe(413);
    // The rest of the body was never read, so the connection cannot carry another request.
    expect(first.headers.connection?.toLowerCase()).toBe('close');
    await Promise.race([conn.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('socket still open')), 3000))]);
    conn.destroy();
  });

  it('after an answer that does not need the body (404), while the body is still arriving', async () => {
    const conn = await rawConnection(port());
    const body = 'PHASE=RUN';
    conn.write(slowPost(`/uws/${MISSING}/phase`, body) + body.slice(0, 3));
    await new Promise((resolve) => setTimeout(resolve, 800));
    conn.write(body.slice(3));
    const first = await conn.response();
    expect(first.status).toBe(404);
    // The whole body was read before the answer: the connection is kept, and carries the next request.
    expect(first.headers.connection?.toLowerCase()).not.toBe('close');
    conn.write('GET /uws?LAST=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice\r\n\r\n');
    expect((await conn.response()).status).toBe(200);
    conn.destroy();
  });
});

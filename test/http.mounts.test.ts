/**
 * The HTTP layer mounted where people run it: real Express and real Fastify servers on
 * 127.0.0.1, the app below a prefix, with and without a body parser in front of it. A job is
 * created by a form POST, its Location followed, its jobref and result links followed, and every
 * link must carry the prefix and answer. A naive mount (the pre-adapter glue) is the negative
 * control: the same checks catch its dropped prefix and its lost body.
 */
import { spawnSync } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp } from '../src/http/app.ts';
import { createNodeHandler, fastifyPhaseline, keepRawBody } from '../src/http/index.ts';
import { client, form } from './helpers/http-client.ts';
import { startHarness, waitFor, waitForState, type Harness } from './helpers/http-harness.ts';
import { jobrefHrefs, uwsParameters, uwsResultRefs } from './helpers/http-xml.ts';

const PREFIX = '/jobs-api';
let h: Harness;
const servers: Server[] = [];
const fastifies: FastifyInstance[] = [];

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  for (const f of fastifies) await f.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  await h?.close();
});

async function listen(app: express.Express): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function listenFastify(setup: (f: FastifyInstance) => Promise<void> | void): Promise<string> {
  const f = Fastify();
  fastifies.push(f);
  await setup(f);
  return f.listen({ port: 0, host: '127.0.0.1' });
}

/** Everything a client does through a mounted app at `origin + PREFIX`. */
async function exercise(origin: string): Promise<void> {
  const base = `${origin}${PREFIX}`;
  const c = client(base);

  // Create by urlencoded form: 303 to a Location below the prefix, which answers.
  const created = await c.post('/uws', { mode: 'plain', n: '5', PHASE: 'RUN' });
  expect(created.status).toBe(303);
  const location = created.headers.get('location')!;
  expect(location).toMatch(new RegExp(`^${base}/uws/[0-9]+$`));
  const id = Number(location.split('/').pop());
  expect(uwsParameters(await c.xml(location))).toEqual({ mode: 'plain', n: '5' });
  await waitForState(h.phaseline, id, 'COMPLETED');

  // The job list's jobref carries the prefix, and answers.
  const refs = jobrefHrefs(await c.xml('/uws?LAST=50'));
  expect(refs.find((r) => r.id === id)?.href).toBe(`${base}/uws/${id}`);
  expect((await c.get(`${base}/uws/${id}`)).status).toBe(200);

  // The result link (served by the job itself) carries the prefix, and answers.
  const results = uwsResultRefs(await c.xml(`/uws/${id}/results`));
  expect(results).toEqual([{ id: 'result', href: `${base}/uws/${id}/results/result` }]);
  const result = await c.get(results[0]!.href);
  expect(result.status).toBe(200);
  expect(await result.json()).toEqual({ answer: 42 });

  // The JSON view's URLs carry it too.
  const view = (await (await c.get(`/jobs/${id}?view=uws`)).json()) as { results: Array<{ url: string }> };
  expect(view.results[0]!.url).toBe(`${base}/uws/${id}/results/result`);

  // multipart/form-data reaches the app whole.
  const body = new FormData();
  body.append('mode', 'quick');
  body.append('n', '6');
  const multipart = await c.create({}, { body });
  expect(uwsParameters(await c.xml(`/uws/${multipart}/parameters`))).toEqual({ mode: 'quick', n: '6' });

  // A JSON body is not a form: 415, not an empty job.
  const before = (await h.phaseline.list()).length;
  const refused = await c.post('/uws', {}, { body: '{"mode":"quick"}', headers: { 'content-type': 'application/json' } });
  expect(refused.status).toBe(415);
  expect((await h.phaseline.list()).length).toBe(before);

  // JSON reaches the EcoTaxa API whole (an answer to a job that asks).
  const asking = await h.phaseline.enqueue('test.ecotaxa', { mode: 'ask' });
  await waitForState(h.phaseline, asking, 'A');
  const answer = await c.post(`/api/jobs/${asking}/answer`, {}, { body: '{"taxa":"copepoda"}', headers: { 'content-type': 'application/json' } });
  expect(answer.status).toBe(200);
  await waitForState(h.phaseline, asking, 'F');
  expect((await h.phaseline.get(asking)).result).toEqual({ answer: { taxa: 'copepoda' } });

  // DELETE: 303 to the job list below the prefix.
  const deleted = await c.del(`/uws/${id}`);
  expect(deleted.status).toBe(303);
  expect(deleted.headers.get('location')).toBe(`${base}/uws`);
  expect((await c.get(`/uws/${id}`)).status).toBe(404);
}

describe('Express', () => {
  it('mounted under a prefix after express.urlencoded() and express.json()', async () => {
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(express.json());
    app.use(PREFIX, createNodeHandler(h.phaseline, { uwsJobType: 'test.uws' }));
    await exercise(await listen(app));
  });

  it('mounted under a prefix with no body parser', async () => {
    const app = express();
    app.use(PREFIX, createNodeHandler(h.phaseline, { uwsJobType: 'test.uws' }));
    await exercise(await listen(app));
  });

  it('after express.urlencoded({ extended: true }) and express.text(): repeated names and raw text survive', async () => {
    const app = express();
    app.use(express.urlencoded({ extended: true }));
    app.use(express.text({ type: 'text/plain' }));
    app.use(PREFIX, createNodeHandler(h.phaseline, { uwsJobType: 'test.uws' }));
    const c = client(`${await listen(app)}${PREFIX}`);
    const id = await c.create({ mode: 'quick', tag: ['a', 'b'] });
    expect((await h.phaseline.get(id)).params).toEqual({ mode: 'quick', tag: ['a', 'b'] });
    // The text body is rebuilt as it came, so the app sees (and refuses) text, not nothing.
    const refused = await c.post('/uws', {}, { body: 'mode=quick', headers: { 'content-type': 'text/plain' } });
    expect(refused.status).toBe(415);
  });

  it('after express.urlencoded({ extended: true, verify: keepRawBody }): every name as sent, __proto__ and a[] included', async () => {
    const body = new URLSearchParams([['mode', 'quick'], ['__proto__', 'x'], ['a[]', '1'], ['a[]', '2']]);
    const kept = express();
    kept.use(express.urlencoded({ extended: true, verify: keepRawBody }));
    kept.use(PREFIX, createNodeHandler(h.phaseline, { uwsJobType: 'test.uws' }));
    const id = await client(`${await listen(kept)}${PREFIX}`).create({}, { body });
    const params = (await h.phaseline.get(id)).params as Record<string, unknown>;
    expect(Object.hasOwn(params, '__proto__')).toBe(true);
    expect(Object.entries(params)).toEqual([['mode', 'quick'], ['__proto__', 'x'], ['a[]', ['1', '2']]]);
    // The control: rebuilt from req.body, the parser's losses show (why keepRawBody exists).
    const rebuilt = express();
    rebuilt.use(express.urlencoded({ extended: true }));
    rebuilt.use(PREFIX, createNodeHandler(h.phaseline, { uwsJobType: 'test.uws' }));
    const lossy = await client(`${await listen(rebuilt)}${PREFIX}`).create({}, { body });
    expect((await h.phaseline.get(lossy)).params).toEqual({ mode: 'quick', a: ['1', '2'] });
  });

  it('after a multipart parser that left the fields in req.body (as multer does)', async () => {
    const app = express();
    app.use(async (req, _res, next) => {
      if (!req.headers['content-type']?.startsWith('multipart/form-data')) return next();
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const fields = await new Response(Buffer.concat(chunks), { headers: { 'content-type': req.headers['content-type'] } }).formData();
      req.body = Object.fromEntries([...fields].map(([k, v]) => [k, String(v)]));
      next();
    });
    app.use(PREFIX, createNodeHandler(h.phaseline, { uwsJobType: 'test.uws' }));
    const c = client(`${await listen(app)}${PREFIX}`);
    const body = new FormData();
    body.append('mode', 'quick');
    body.append('n', '7');
    const id = await c.create({}, { body });
    expect((await h.phaseline.get(id)).params).toEqual({ mode: 'quick', n: '7' });
  });

  it('a path outside the mount is not the app\'s (the host answers it)', async () => {
    const app = express();
    app.use(PREFIX, createNodeHandler(h.phaseline, { uwsJobType: 'test.uws' }));
    app.use((_req, res) => res.status(418).send('host'));
    const origin = await listen(app);
    expect((await fetch(`${origin}/uws`)).status).toBe(418);
    expect((await fetch(`${origin}${PREFIX}/uws`)).status).toBe(200);
  });

  it('negative control: the naive glue drops the prefix and the parsed body, which the checks catch', async () => {
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(PREFIX, getRequestListener(createHttpApp(h.phaseline, { uwsJobType: 'test.uws' }).fetch));
    const origin = await listen(app);
    const response = await fetch(`${origin}${PREFIX}/uws`, { method: 'POST', body: form({ mode: 'quick', n: '5' }), redirect: 'manual' });
    expect(response.status).toBe(303);
    const location = response.headers.get('location')!;
    expect(location).not.toMatch(new RegExp(`^${origin}${PREFIX}/`));
    const id = Number(location.split('/').pop());
    expect((await h.phaseline.get(id)).params).toEqual({});
    await expect(exercise(origin)).rejects.toThrow();
  });
});

describe('Fastify', () => {
  it('registered with { prefix }: forms, links, results and JSON; the host\'s own parsers are untouched', async () => {
    const origin = await listenFastify(async (f) => {
      await f.register(fastifyPhaseline, { prefix: PREFIX, phaseline: h.phaseline, uwsJobType: 'test.uws' });
      f.post('/echo', async (request) => ({ parsed: request.body }));
    });
    await exercise(origin);
    const echo = await fetch(`${origin}/echo`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    expect(await echo.json()).toEqual({ parsed: { a: 1 } });
  });

  it('an app made already, under a nested prefix; HEAD and a missing content type work', async () => {
    const app = createHttpApp(h.phaseline, { uwsJobType: 'test.uws' });
    const origin = await listenFastify(async (f) => {
      await f.register(
        async (outer) => {
          await outer.register(fastifyPhaseline, { prefix: '/v1', app });
        },
        { prefix: '/org' },
      );
    });
    const base = `${origin}/org/v1`;
    const created = await fetch(`${base}/uws`, { method: 'POST', redirect: 'manual' });
    expect(created.status).toBe(303);
    const location = created.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${base}/uws/[0-9]+$`));
    expect((await fetch(location, { method: 'HEAD' })).status).toBe(200);
    await waitFor(async () => (await fetch(location)).status === 200, 2000, 'job answers');
  });
});

describe('basePath without a host', () => {
  it('the app serves below basePath, links carry it, and nothing else is served', async () => {
    const origin = await h.serveAnother({ basePath: '/svc/' });
    const c = client(`${origin}/svc`);
    const id = await c.create({ mode: 'quick' });
    expect(jobrefHrefs(await c.xml('/uws')).find((r) => r.id === id)?.href).toBe(`${origin}/svc/uws/${id}`);
    expect((await fetch(`${origin}/uws/${id}`)).status).toBe(404);
    expect((await fetch(`${origin}/svcuws/${id}`)).status).toBe(404);
    expect(() => createHttpApp(h.phaseline, { basePath: 'no-slash' })).toThrow(/basePath/);
    expect(() => createHttpApp(h.phaseline, { basePath: '/a/../b' })).toThrow(/basePath/);
  });
});

describe('no framework at run time', () => {
  const load = (code: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--import', './test/helpers/http-block-frameworks.ts', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });

  it('phaseline/http and phaseline/views load where neither express nor fastify is installed', () => {
    const loaded = load("const http = await import('./src/http/index.ts'); await import('./src/views/index.ts'); console.log(typeof http.createNodeHandler, typeof http.fastifyPhaseline);");
    expect(loaded.stderr).toBe('');
    expect(loaded.stdout.trim()).toBe('function function');
    // The control: in the same setup express itself cannot be loaded.
    const blocked = load("await import('express');");
    expect(blocked.status).not.toBe(0);
    expect(blocked.stderr).toContain('not installed: express');
  });
});

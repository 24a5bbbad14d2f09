/**
 * Random requests against the real server, one property per route family (UWS, /api/jobs,
 * /jobs/{id} views): random methods, ids, query and form parameter names and values (durations,
 * instants, `__proto__`), content types and bodies. Whatever comes in:
 * - never a 5xx, and never a server path or stack frame in a body;
 * - a refusal (4xx), or any GET but EcoTaxa's restart, leaves the target job's row and history
 *   as they were, and creates nothing;
 * - another owner's job answers exactly as a missing one (status, headers but Date, body).
 *
 * The seed is printed; PHASELINE_SEED replays another, PHASELINE_FUZZ_RUNS changes the run count.
 */
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../src/http/index.ts';
import { startHarness, waitForState, type Harness } from './helpers/http-harness.ts';
import { seed } from './views.helpers.ts';

const RUNS = Number(process.env.PHASELINE_FUZZ_RUNS ?? 60);
const MISSING = '999999';

function authenticate(request: Request): Caller | null {
  const match = /^Bearer ([a-z]+)$/.exec(request.headers.get('authorization') ?? '');
  return match ? { owner: match[1]!, admin: false } : null;
}

let h: Harness;

// ---------------------------------------------------------------------------------------------
// Target jobs: alice's, in states that do not change by themselves. A job a request may have
// changed or started is retired and the next of its kind is used.
// ---------------------------------------------------------------------------------------------

type Kind = 'uwsPending' | 'uwsCompleted' | 'uwsError' | 'ecotaxaAsking' | 'ecotaxaFailed' | 'synapseComplete';
const KINDS: readonly Kind[] = ['uwsPending', 'uwsCompleted', 'uwsError', 'ecotaxaAsking', 'ecotaxaFailed', 'synapseComplete'];
const RESERVE = 10;
const reserve = new Map<Kind, number[]>();

async function makeJob(kind: Kind): Promise<number> {
  const p = h.phaseline;
  const owner = { owner: 'alice' };
  switch (kind) {
    case 'uwsPending':
      return p.enqueue('test.uws', { mode: 'quick', n: '1' }, { ...owner, start: false });
    case 'uwsCompleted':
      return p.enqueue('test.uws', { mode: 'plain' }, owner);
    case 'uwsError':
      return p.enqueue('test.uws', { mode: 'fail' }, owner);
    case 'ecotaxaAsking':
      return p.enqueue('test.ecotaxa', { mode: 'ask' }, owner);
    case 'ecotaxaFailed':
      return p.enqueue('test.ecotaxa', { mode: 'fail' }, owner);
    case 'synapseComplete':
      return p.enqueue('test.synapse', { mode: 'plain' }, owner);
  }
}

const SETTLED: Record<Kind, string> = {
  uwsPending: 'PENDING',
  uwsCompleted: 'COMPLETED',
  uwsError: 'ERROR',
  ecotaxaAsking: 'A',
  ecotaxaFailed: 'E',
  synapseComplete: 'COMPLETE',
};

/** The kind's current target; a fresh PENDING job when the reserve has run out. */
function target(kind: Kind): { id: number; kind: Kind } | Promise<{ id: number; kind: Kind }> {
  const id = reserve.get(kind)?.[0];
  if (id !== undefined) return { id, kind };
  return makeJob('uwsPending').then((fresh) => {
    reserve.set('uwsPending', [fresh]);
    return { id: fresh, kind: 'uwsPending' };
  });
}

function retire(t: { id: number; kind: Kind }): void {
  const list = reserve.get(t.kind) ?? [];
  if (list[0] === t.id) list.shift();
}

beforeAll(async () => {
  h = await startHarness({ http: { authenticate, maxWaitSeconds: 0 } });
  await Promise.all(
    KINDS.map(async (kind) => {
      const ids: number[] = [];
      for (let i = 0; i < RESERVE; i++) ids.push(await makeJob(kind));
      for (const id of ids) await waitForState(h.phaseline, id, SETTLED[kind], 10_000);
      reserve.set(kind, ids);
    }),
  );
});
afterAll(async () => {
  await h?.close();
});

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

interface Body {
  contentType?: string;
  body?: string | Uint8Array;
}

interface Req {
  method: string;
  /** Path template: `{id}` is the job, `{name}` a parameter or result name. */
  template: string;
  /** `target`, `missing`, or any text (percent-encoded into the path). */
  id: string;
  name: string;
  query: Array<[string, string]>;
  body: Body;
  kind: Kind;
}

const NAMES = ['PHASE', 'phase', 'WAIT', 'AFTER', 'LAST', 'RUNID', 'EXECUTIONDURATION', 'executionDuration', 'DESTRUCTION', 'ACTION', 'QUOTE', 'mode', 'n', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'view', 'job_status', 'job_type', 'for_admin'];
const VALUES = [
  'RUN', 'ABORT', 'DELETE', 'SUSPEND', 'quick', 'plain', 'fail', 'ask', '-1', '0', '1', '1.5', '1e3', '0x10', '99999999999', '4294967296',
  '2099-01-01T00:00:00Z', '2099-02-30T00:00:00Z', '1970-01-01T00:00:00+25:00', '2024-05-01T12:00', '', 'true', 'P', 'A', 'E', 'F', 'R',
  'uws', 'synapse', 'rime', 'qiskit', 'ecotaxa', 'UWS', 'test.uws', 'test.ecotaxa',
];
const CONTENT_TYPES = [
  'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded; charset=latin1',
  'multipart/form-data', 'multipart/form-data; boundary=b', 'application/json', 'text/plain', 'application/xml', 'text/xml', 'application/octet-stream', 'garbage', '',
];

const nameArb = fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 }));
const valueArb = fc.oneof(fc.constantFrom(...VALUES), fc.integer().map(String), fc.double().map(String), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 8 }));
const pairsArb = fc.array(fc.tuple(nameArb, valueArb), { maxLength: 5 });
const headerText = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);

function multipart(pairs: Array<[string, string]>): string {
  return `${pairs.map(([n, v]) => `--b\r\nContent-Disposition: form-data; name="${n.replace(/["\r\n]/g, '_')}"\r\n\r\n${v}\r\n`).join('')}--b--\r\n`;
}

const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  fc.constant({}),
  pairsArb.map((p) => ({ contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(p).toString() })),
  pairsArb.map((p) => ({ contentType: 'multipart/form-data; boundary=b', body: multipart(p) })),
  fc.string({ maxLength: 60 }).map((s) => ({ contentType: 'multipart/form-data; boundary=b', body: s })),
  fc.json({ maxDepth: 3 }).map((j) => ({ contentType: 'application/json', body: j })),
  fc.record({ contentType: fc.oneof(fc.constantFrom(...CONTENT_TYPES), headerText), body: fc.string({ maxLength: 60 }) }),
  fc.uint8Array({ maxLength: 60 }).map((bytes) => ({ body: bytes })),
);

const idArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant('target') },
  { weight: 2, arbitrary: fc.constant('missing') },
  { weight: 2, arbitrary: fc.oneof(fc.constantFrom('abc', '1e3', '0x1', '01', '0', '-1', '1.0', '+1', ' 1', '99999999999999999', '9007199254740993'), fc.string({ maxLength: 10 })) },
);

function requestArb(templates: readonly string[], methods: readonly string[]): fc.Arbitrary<Req> {
  return fc.record({
    method: fc.constantFrom(...methods),
    template: fc.constantFrom(...templates),
    id: idArb,
    name: nameArb,
    query: pairsArb,
    body: bodyArb,
    kind: fc.constantFrom(...KINDS),
  });
}

const FAMILIES = {
  uws: requestArb(
    ['/uws', '/uws/{id}', '/uws/{id}/phase', '/uws/{id}/executionduration', '/uws/{id}/destruction', '/uws/{id}/quote', '/uws/{id}/error', '/uws/{id}/owner', '/uws/{id}/parameters', '/uws/{id}/parameters/{name}', '/uws/{id}/results', '/uws/{id}/results/{name}', '/uws/{id}/{name}'],
    ['GET', 'GET', 'POST', 'POST', 'POST', 'DELETE', 'PUT', 'HEAD'],
  ),
  ecotaxa: requestArb(['/api/jobs', '/api/jobs/', '/api/jobs/{id}', '/api/jobs/{id}/', '/api/jobs/{id}/answer', '/api/jobs/{id}/restart'], ['GET', 'GET', 'POST', 'POST', 'DELETE', 'PUT']),
  views: requestArb(['/jobs/{id}', '/jobs/{id}/', '/jobs/{id}/{name}'], ['GET', 'GET', 'GET', 'POST', 'DELETE']),
} as const;

function url(req: Req, targetId: number | string): string {
  const id = req.id === 'target' ? String(targetId) : req.id === 'missing' ? MISSING : encodeURIComponent(req.id);
  const path = req.template.replace('{id}', id).replace('{name}', encodeURIComponent(req.name));
  const query = new URLSearchParams(req.query).toString();
  return `${h.origin}${path}${query ? `?${query}` : ''}`;
}

async function send(req: Req, caller: string, targetId: number | string): Promise<{ status: number; signature: string; body: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${caller}` };
  const withBody = req.method !== 'GET' && req.method !== 'HEAD' && req.body.body !== undefined;
  if (withBody && req.body.contentType !== undefined) headers['content-type'] = req.body.contentType;
  const response = await fetch(url(req, targetId), {
    method: req.method,
    headers,
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
    ...(withBody ? { body: req.body.body } : {}),
  });
  const body = await response.text();
  const kept = [...response.headers].filter(([name]) => name !== 'date');
  return { status: response.status, body, signature: JSON.stringify([response.status, kept, body]) };
}

const ROOT = process.cwd();
const TMP = tmpdir();
/** A stack frame naming an absolute file: `at /x`, `at f (/x`, `at f (file:///x`. */
const FRAME = /\bat (?:[^\n]*\()?(?:file:\/\/)?\//;

/**
 * Any absolute file path with a directory, wherever the server keeps its files: `/d/`, `file:///d/`,
 * `C:\d\` (also JSON-escaped), `C:/d/`, starting a word or after `:` (`cwd:/d/`). URLs (`https://h/d/`) do not count.
 */
const ABSOLUTE_PATH = /(?:^|[\s([{@'"`=,:])(?:file:\/\/\/?|[A-Za-z]:[\\/]+|[\\/](?![\\/]))[^\s\\/()'"`<>]+[\\/]/m;

function expectClean(what: string, answer: { status: number; body: string }): void {
  expect(answer.status, `${what}: ${answer.body}`).toBeLessThan(500);
  expect(answer.body.includes(ROOT) || answer.body.includes(`${TMP}/phaseline`), `${what} names a server path: ${answer.body}`).toBe(false);
  expect(answer.body, what).not.toMatch(FRAME);
  expect(answer.body, `${what} names an absolute path`).not.toMatch(ABSOLUTE_PATH);
}

const snapshot = async (id: number) => JSON.stringify([await h.phaseline.get(id), await h.phaseline.history(id)]);

async function check(req: Req): Promise<void> {
  const t = await target(req.kind);
  const before = await snapshot(t.id);
  const count = (await h.phaseline.list()).length;
  const what = `${req.method} ${url(req, t.id)} ${JSON.stringify(req.body.contentType)} ${JSON.stringify(typeof req.body.body === 'string' ? req.body.body.slice(0, 80) : req.body.body)}`;

  // bob: alice's job and a missing one are the same answer, and bob changes nothing.
  if (req.template.includes('{id}') && req.id === 'target') {
    const theirs = await send(req, 'bob', t.id);
    const none = await send({ ...req, id: 'missing' }, 'bob', t.id);
    expectClean(`bob ${what}`, theirs);
    expect(theirs.signature, `bob ${what}: alice's job vs a missing one`).toBe(none.signature);
    expect(await snapshot(t.id), `bob ${what} changed alice's job`).toBe(before);
    expect((await h.phaseline.list()).length, `bob ${what} created or deleted a job`).toBe(count);
  }

  const answer = await send(req, 'alice', t.id);
  expectClean(`alice ${what}`, answer);
  const onTarget = req.id === 'target' && req.template.includes('{id}');
  const mayChange = answer.status < 400 && (req.method !== 'GET' || req.template.endsWith('/restart'));
  if (!mayChange) {
    expect(await snapshot(t.id), `alice ${what} (${answer.status}) changed the job`).toBe(before);
    expect((await h.phaseline.list()).length, `alice ${what} (${answer.status}) created or deleted a job`).toBe(count);
  } else if (onTarget || req.template === '/uws') {
    retire(t);
  }
}

describe.each(Object.keys(FAMILIES) as Array<keyof typeof FAMILIES>)('fuzz: %s', (family) => {
  it(`${RUNS} random requests: no 5xx, no server path, refusals change nothing, other owners' jobs look missing`, async () => {
    const SEED = seed(`http.fuzz ${family}`);
    await fc.assert(
      fc.asyncProperty(FAMILIES[family], (req) => check(req)),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // The control: a job alice may see answers her, so "missing" above was about bob.
    const { id } = await target('uwsCompleted');
    expect((await fetch(`${h.origin}/jobs/${id}`, { headers: { authorization: 'Bearer alice' } })).status).toBe(200);
  });
});

/**
 * Owners kept apart over HTTP (src/http/app.ts): with `authenticate` configured, another owner's
 * job is 404 on every resource of every API and nothing changes; lists show one's own jobs; an
 * admin sees all; a request without credentials is 401.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../src/http/app.ts';
import { client, type Client } from './helpers/http-client.ts';
import { startHarness, waitFor, waitForState, type Harness } from './helpers/http-harness.ts';
import { jobrefIds, uwsText } from './helpers/http-xml.ts';

function authenticate(request: Request): Caller | null {
  const match = /^Bearer ([a-z]+)$/.exec(request.headers.get('authorization') ?? '');
  if (!match) return null;
  return match[1] === 'root' ? { owner: 'root', admin: true } : { owner: match[1]!, admin: false };
}

let h: Harness;
let alice: Client;
let bob: Client;
let root: Client;
let anon: Client;
const ids = {} as {
  /** alice's UWS jobs: PENDING, COMPLETED, EXECUTING (held). */
  pending: number;
  completed: number;
  executing: number;
  /** bob's UWS job and root's. */
  bobs: number;
  roots: number;
  /** alice's EcoTaxa jobs: in A (asking), in E (failed once), in R (held). */
  asking: number;
  failed: number;
  running: number;
};

beforeAll(async () => {
  h = await startHarness({ http: { authenticate } });
  const as = (name: string) => client(h.origin, { headers: { authorization: `Bearer ${name}` } });
  alice = as('alice');
  bob = as('bob');
  root = as('root');
  anon = client(h.origin);

  ids.pending = await alice.create({ mode: 'quick', n: '1' });
  ids.completed = await alice.create({ mode: 'quick', PHASE: 'RUN' });
  ids.executing = await alice.create({ mode: 'hold', PHASE: 'RUN' });
  ids.bobs = await bob.create({ mode: 'quick' });
  ids.roots = await root.create({ mode: 'quick' });
  ids.asking = await h.phaseline.enqueue('test.ecotaxa', { mode: 'ask' }, { owner: 'alice' });
  ids.failed = await h.phaseline.enqueue('test.ecotaxa', { mode: 'failOnce' }, { owner: 'alice' });
  ids.running = await h.phaseline.enqueue('test.ecotaxa', { mode: 'hold' }, { owner: 'alice' });
  await waitForState(h.phaseline, ids.completed, 'COMPLETED');
  await waitForState(h.phaseline, ids.asking, 'A');
  await waitForState(h.phaseline, ids.failed, 'E');
  await waitFor(() => h.gates.waiting.has(ids.executing) && h.gates.waiting.has(ids.running), 5000, 'held jobs running');
});
afterAll(async () => {
  await h?.close();
});

/** Version and history length of each job, to check that nothing changed. */
async function snapshot(): Promise<Record<number, string>> {
  const out: Record<number, string> = {};
  for (const id of Object.values(ids)) {
    const job = await h.phaseline.get(id);
    out[id] = `${job.state} v${job.version} h${(await h.phaseline.history(id)).length} ${JSON.stringify(job.params)}`;
  }
  return out;
}

const UWS_GETS = ['', '/phase', '/executionduration', '/destruction', '/quote', '/error', '/owner', '/parameters', '/parameters/n', '/results', '/results/image'];

describe('UWS', () => {
  it('the owner sees her job, and it names her', async () => {
    expect(uwsText(await alice.xml(`/uws/${ids.pending}`), 'ownerId')).toBe('alice');
    expect(await alice.text(`/uws/${ids.pending}/owner`)).toBe('alice');
    // Every GET that answers alice (results/image only once there are results) answers bob with 404 below.
    for (const path of UWS_GETS) {
      const id = path.startsWith('/results/') ? ids.completed : ids.pending;
      const status = (await alice.get(`/uws/${id}${path}`)).status;
      expect([200, 303], `alice GET ${id}${path}`).toContain(status);
    }
  });

  it("another owner's job is 404 on every resource, and the 404 does not reveal the owner", async () => {
    for (const id of [ids.pending, ids.completed, ids.executing]) {
      for (const path of UWS_GETS) {
        const response = await bob.get(`/uws/${id}${path}`);
        const body = await response.text();
        expect(response.status, `bob GET /uws/${id}${path}`).toBe(404);
        expect(body).not.toContain('alice');
      }
      expect((await bob.get(`/uws/${id}?WAIT=5`, { timeoutMs: 3000 })).status).toBe(404);
    }
  });

  it("no change to another owner's job: phase, parameters, duration, destruction, delete are all 404", async () => {
    const before = await snapshot();
    for (const id of [ids.pending, ids.completed, ids.executing]) {
      const attempts: Array<[string, Promise<Response>]> = [
        ['RUN', bob.post(`/uws/${id}/phase`, { PHASE: 'RUN' })],
        ['ABORT', bob.post(`/uws/${id}/phase`, { PHASE: 'ABORT' })],
        ['parameters', bob.post(`/uws/${id}/parameters`, { n: '2' })],
        ['executionduration', bob.post(`/uws/${id}/executionduration`, { EXECUTIONDURATION: '5' })],
        ['destruction', bob.post(`/uws/${id}/destruction`, { DESTRUCTION: '2099-01-01T00:00:00Z' })],
        ['ACTION=DELETE', bob.post(`/uws/${id}`, { ACTION: 'DELETE' })],
        ['DELETE', bob.del(`/uws/${id}`)],
      ];
      for (const [what, request] of attempts) expect((await request).status, `bob ${what} ${id}`).toBe(404);
    }
    expect(await snapshot()).toEqual(before);
    expect(uwsText(await alice.xml(`/uws/${ids.pending}`), 'phase')).toBe('PENDING');
  });

  it('the list shows only one’s own jobs; an admin sees all', async () => {
    expect(new Set(jobrefIds(await alice.xml('/uws')))).toEqual(new Set([ids.pending, ids.completed, ids.executing]));
    expect(jobrefIds(await bob.xml('/uws'))).toEqual([ids.bobs]);
    expect(new Set(jobrefIds(await root.xml('/uws')))).toEqual(new Set([ids.pending, ids.completed, ids.executing, ids.bobs, ids.roots]));
    expect(jobrefIds(await bob.xml('/uws?PHASE=COMPLETED&PHASE=PENDING&PHASE=EXECUTING&LAST=10'))).toEqual([ids.bobs]);
  });

  it("an admin may read and change anyone's job", async () => {
    expect(uwsText(await root.xml(`/uws/${ids.bobs}`), 'ownerId')).toBe('bob');
    expect((await root.post(`/uws/${ids.bobs}/executionduration`, { EXECUTIONDURATION: '77' })).status).toBe(303);
    expect(await bob.text(`/uws/${ids.bobs}/executionduration`)).toBe('77');
  });

  it('a job created by a caller belongs to that caller', async () => {
    const id = await bob.create({ mode: 'quick' });
    expect((await h.phaseline.get(id)).owner).toBe('bob');
    expect((await alice.get(`/uws/${id}`)).status).toBe(404);
    expect((await bob.del(`/uws/${id}`)).status).toBe(303);
  });
});

describe('no credentials', () => {
  it('is 401 on every API, with WWW-Authenticate, and creates or changes nothing', async () => {
    const before = await snapshot();
    const count = (await h.phaseline.list()).length;
    const badScheme = client(h.origin, { headers: { authorization: 'Basic YWxpY2U6eA==' } });
    for (const c of [anon, badScheme]) {
      const requests: Array<[string, Promise<Response>]> = [
        ['GET /uws', c.get('/uws')],
        ['POST /uws', c.post('/uws', { mode: 'quick', PHASE: 'RUN' })],
        ['GET job', c.get(`/uws/${ids.pending}`)],
        ['POST phase', c.post(`/uws/${ids.pending}/phase`, { PHASE: 'RUN' })],
        ['DELETE job', c.del(`/uws/${ids.pending}`)],
        ['GET /api/jobs/', c.get('/api/jobs/')],
        ['GET /api/jobs/id', c.get(`/api/jobs/${ids.asking}/`)],
        ['answer', c.post(`/api/jobs/${ids.asking}/answer`, {}, { body: '{"taxa":"x"}', headers: { 'content-type': 'application/json' } })],
        ['restart', c.get(`/api/jobs/${ids.failed}/restart`)],
        ['DELETE /api/jobs/id', c.del(`/api/jobs/${ids.running}`)],
        ['view', c.get(`/jobs/${ids.pending}?view=uws`)],
      ];
      for (const [what, request] of requests) {
        const response = await request;
        expect(response.status, what).toBe(401);
        expect(response.headers.get('www-authenticate'), what).toBe('Bearer');
      }
    }
    expect((await h.phaseline.list()).length).toBe(count);
    expect(await snapshot()).toEqual(before);
  });
});

describe('EcoTaxa API and views', () => {
  const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  it("another owner's job is 404 on get, answer, restart and DELETE, and nothing changes", async () => {
    const before = await snapshot();
    for (const id of [ids.asking, ids.failed, ids.running, ids.completed]) {
      expect((await bob.get(`/api/jobs/${id}/`)).status, `get ${id}`).toBe(404);
      expect((await bob.get(`/api/jobs/${id}`)).status, `get ${id}`).toBe(404);
      expect((await bob.post(`/api/jobs/${id}/answer`, {}, json({ taxa: 'bob' }))).status, `answer ${id}`).toBe(404);
      expect((await bob.get(`/api/jobs/${id}/restart`)).status, `restart ${id}`).toBe(404);
      expect((await bob.del(`/api/jobs/${id}`)).status, `delete ${id}`).toBe(404);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("another owner's job is 404 in every view; the owner sees it", async () => {
    for (const view of ['', '?view=uws', '?view=ecotaxa', '?view=rime', '?view=synapse', '?view=qiskit', '?view=bogus']) {
      for (const id of [ids.pending, ids.asking]) {
        const response = await bob.get(`/jobs/${id}${view}`);
        expect(response.status, `bob /jobs/${id}${view}`).toBe(404);
        expect(await response.text()).not.toContain('alice');
        if (view !== '?view=bogus') expect((await alice.get(`/jobs/${id}${view}`)).status, `alice /jobs/${id}${view}`).toBe(200);
      }
    }
  });

  it('the job list shows only one’s own jobs; for_admin shows all only to an admin', async () => {
    const listed = async (c: Client, query = '') => {
      const response = await c.get(`/api/jobs/${query}`);
      expect(response.status).toBe(200);
      return new Set(((await response.json()) as Array<{ id: number }>).map((j) => j.id));
    };
    const alices = new Set([ids.pending, ids.completed, ids.executing, ids.asking, ids.failed, ids.running]);
    const all = new Set((await h.phaseline.list()).map((j) => j.id));
    const bobs = new Set((await h.phaseline.list({ owner: 'bob' })).map((j) => j.id));
    expect(await listed(alice)).toEqual(alices);
    expect(await listed(bob)).toEqual(bobs);
    expect(await listed(bob, '?for_admin=true')).toEqual(bobs);
    expect(await listed(root, '?for_admin=true')).toEqual(all);
    expect(await listed(alice, '?job_status=A')).toEqual(new Set([ids.asking]));
    expect(await listed(bob, '?job_status=A')).toEqual(new Set());
  });

  it('the owner can answer, restart and kill her own jobs (the same routes bob was refused)', async () => {
    const answered = await alice.post(`/api/jobs/${ids.asking}/answer`, {}, json({ taxa: 'copepoda' }));
    expect(answered.status).toBe(200);
    await waitForState(h.phaseline, ids.asking, 'F');
    const restarted = await alice.get(`/api/jobs/${ids.failed}/restart`);
    expect(restarted.status).toBe(200);
    expect(((await restarted.json()) as { state: string }).state).toBe('P');
    const killed = await alice.del(`/api/jobs/${ids.running}`);
    expect(killed.status).toBe(200);
    expect((await killed.json()) as object).toMatchObject({ state: 'E', progress_msg: 'Killed' });
  });
});

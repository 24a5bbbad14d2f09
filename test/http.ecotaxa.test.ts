/**
 * The EcoTaxa-style JSON job API (src/http/ecotaxa.ts) and the views endpoint `/jobs/{id}?view=`
 * against a real listening server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECOTAXA_STATES } from '../machines/ecotaxa.ts';
import { QISKIT_STATUSES } from '../machines/qiskit.ts';
import { RIME_STATUSES } from '../machines/rime.ts';
import { SYNAPSE_STATES } from '../machines/synapse.ts';
import { UWS_PHASES } from '../machines/uws.ts';
import { fromEcotaxaJobModel, fromQiskitDict, fromRimeJobMetadata, fromSafirJob } from '../src/views/index.ts';
import { client, type Client } from './helpers/http-client.ts';
import { startHarness, waitFor, waitForState, type Harness, type Mode } from './helpers/http-harness.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let h: Harness;
let c: Client;

beforeAll(async () => {
  h = await startHarness();
  c = client(h.origin);
});
afterAll(async () => {
  await h?.close();
});

interface JobModel {
  id: number;
  owner_id: number | string | null;
  type: string;
  state: string;
  progress_pct?: number;
  progress_msg?: string;
  params?: unknown;
  result?: unknown;
  question?: unknown;
  reply?: unknown;
  errors?: string[];
  creation_date: string;
  updated_on: string;
}

const json = (body: string) => ({ body, headers: { 'content-type': 'application/json' } });
const historyLength = async (id: number) => (await h.phaseline.history(id)).length;

async function getJob(id: number): Promise<JobModel> {
  const response = await c.get(`/api/jobs/${id}/`);
  expect(response.status).toBe(200);
  const model = (await response.json()) as JobModel;
  fromEcotaxaJobModel(model); // the model's keys and types, strictly
  return model;
}

async function ecotaxaJob(mode: Mode, state: string, options: { delayMs?: number } = {}): Promise<number> {
  const id = await h.phaseline.enqueue('test.ecotaxa', { mode }, options);
  if (mode === 'hold') await waitFor(() => h.gates.waiting.has(id), 5000, `job ${id} running`);
  else await waitForState(h.phaseline, id, state);
  expect((await h.phaseline.get(id)).state).toBe(state);
  return id;
}

describe('GET /api/jobs/', () => {
  it('lists jobs as JobModels; job_status filters; job_type filters', async () => {
    const asking = await ecotaxaJob('ask', 'A');
    const finished = await ecotaxaJob('quick', 'F');
    const uws = await h.phaseline.enqueue('test.uws', { mode: 'quick' }, { start: false });
    const response = await c.get('/api/jobs/');
    expect(response.status).toBe(200);
    const all = (await response.json()) as JobModel[];
    for (const model of all) {
      fromEcotaxaJobModel(model);
      expect(ECOTAXA_STATES).toContain(model.state);
    }
    expect(all.map((j) => j.id)).toEqual(expect.arrayContaining([asking, finished, uws]));

    const inA = (await (await c.get('/api/jobs/?job_status=A')).json()) as JobModel[];
    expect(inA.map((j) => j.id)).toContain(asking);
    expect(inA.every((j) => j.state === 'A')).toBe(true);
    const inF = (await (await c.get('/api/jobs/?job_status=F')).json()) as JobModel[];
    expect(inF.map((j) => j.id)).toContain(finished);
    expect(inF.map((j) => j.id)).not.toContain(asking);
    // A PENDING UWS job shows as P.
    const inP = (await (await c.get('/api/jobs/?job_status=P')).json()) as JobModel[];
    expect(inP.map((j) => j.id)).toContain(uws);

    const ofType = (await (await c.get('/api/jobs/?job_type=test.uws')).json()) as JobModel[];
    expect(ofType.map((j) => j.id)).toContain(uws);
    expect(ofType.every((j) => j.type === 'test.uws')).toBe(true);
  });

  it('an unknown job_status is 400', async () => {
    for (const status of ['X', 'a', 'Finished', '']) {
      expect((await c.get(`/api/jobs/?job_status=${status}`)).status, status).toBe(400);
    }
  });
});

describe('GET /api/jobs/{id}/', () => {
  it('gives the JobModel, with or without the trailing slash', async () => {
    const id = await ecotaxaJob('ask', 'A');
    const model = await getJob(id);
    expect(model).toMatchObject({ id, type: 'test.ecotaxa', state: 'A', owner_id: null, question: { unknownTaxa: ['copepoda sp.'] }, progress_msg: 'Please map 1 unknown taxon' });
    expect(Date.parse(model.creation_date)).not.toBeNaN();
    const again = await c.get(`/api/jobs/${id}`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as JobModel).id).toBe(id);
  });

  it('an unknown job is 404 on every route; a malformed id is 400', async () => {
    for (const [id, status] of [['999999', 404], ['abc', 400], ['0', 400]] as const) {
      expect((await c.get(`/api/jobs/${id}/`)).status).toBe(status);
      expect((await c.post(`/api/jobs/${id}/answer`, {}, json('{"a":1}'))).status).toBe(status);
      expect((await c.get(`/api/jobs/${id}/restart`)).status).toBe(status);
      expect((await c.del(`/api/jobs/${id}`)).status).toBe(status);
    }
  });
});

describe('POST /api/jobs/{id}/answer', () => {
  it('a JSON object answers a job in A: it resumes (P) and finishes with the reply', async () => {
    const id = await ecotaxaJob('ask', 'A');
    const response = await c.post(`/api/jobs/${id}/answer`, {}, json('{"taxa":"copepoda"}'));
    expect(response.status).toBe(200);
    const model = (await response.json()) as JobModel;
    expect(model).toMatchObject({ id, state: 'P', reply: { taxa: 'copepoda' }, progress_msg: 'Proceeding' });
    await waitForState(h.phaseline, id, 'F');
    expect(await getJob(id)).toMatchObject({ state: 'F', progress_pct: 100, progress_msg: 'Done', result: { answer: { taxa: 'copepoda' } } });
  });

  it('an answer to a job not in A is 403 and changes nothing', async () => {
    const finished = await ecotaxaJob('quick', 'F');
    const waiting = await ecotaxaJob('quick', 'P', { delayMs: 60_000 });
    const running = await ecotaxaJob('hold', 'R');
    for (const id of [finished, waiting, running]) {
      const before = await historyLength(id);
      const model = await getJob(id);
      expect((await c.post(`/api/jobs/${id}/answer`, {}, json('{"taxa":"x"}'))).status, `job ${id} in ${model.state}`).toBe(403);
      expect(await historyLength(id)).toBe(before);
      expect((await getJob(id)).state).toBe(model.state);
    }
    h.gates.release(running);
  });

  it('a body that is not a JSON object is 400 and the job stays in A', async () => {
    const id = await ecotaxaJob('ask', 'A');
    const before = await historyLength(id);
    for (const body of ['[1,2]', '"copepoda"', '42', 'null', 'not json', '']) {
      expect((await c.post(`/api/jobs/${id}/answer`, {}, json(body))).status, body).toBe(400);
    }
    expect(await historyLength(id)).toBe(before);
    expect((await getJob(id)).state).toBe('A');
  });
});

describe('GET /api/jobs/{id}/restart', () => {
  it('restarts a job in E: P ("Restarting"), and it runs again to F', async () => {
    const id = await ecotaxaJob('failOnce', 'E');
    const failed = await getJob(id);
    expect(failed.progress_msg).toContain(`first run of job ${id} fails`);
    const response = await c.get(`/api/jobs/${id}/restart`);
    expect(response.status).toBe(200);
    expect((await response.json()) as JobModel).toMatchObject({ id, state: 'P', progress_msg: 'Restarting' });
    await waitForState(h.phaseline, id, 'F');
    expect((await getJob(id)).result).toEqual({ ok: true });
  });

  it('a restart of a job not in E is 403 and changes nothing', async () => {
    const finished = await ecotaxaJob('quick', 'F');
    const asking = await ecotaxaJob('ask', 'A');
    for (const id of [finished, asking]) {
      const before = await historyLength(id);
      const state = (await getJob(id)).state;
      expect((await c.get(`/api/jobs/${id}/restart`)).status, `job ${id} in ${state}`).toBe(403);
      expect(await historyLength(id)).toBe(before);
      expect((await getJob(id)).state).toBe(state);
    }
  });
});

describe('DELETE /api/jobs/{id}', () => {
  it('kills an active job (R, P, A): E with progress_msg "Killed", and it stays killed', async () => {
    const running = await ecotaxaJob('hold', 'R');
    const pending = await ecotaxaJob('quick', 'P', { delayMs: 60_000 });
    const asking = await ecotaxaJob('ask', 'A');
    for (const id of [running, pending, asking]) {
      const response = await c.del(`/api/jobs/${id}`);
      expect(response.status, `job ${id}`).toBe(200);
      expect((await response.json()) as JobModel, `job ${id}`).toMatchObject({ id, state: 'E', progress_msg: 'Killed' });
    }
    await waitFor(() => !h.gates.waiting.has(running), 3000, 'handler stopped');
    h.gates.release(running);
    await sleep(100);
    for (const id of [running, pending, asking]) expect(await getJob(id)).toMatchObject({ state: 'E', progress_msg: 'Killed' });
  });

  it('a killed job can be restarted', async () => {
    const id = await ecotaxaJob('quick', 'P', { delayMs: 60_000 });
    expect((await c.del(`/api/jobs/${id}`)).status).toBe(200);
    const response = await c.get(`/api/jobs/${id}/restart`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as JobModel).state).toBe('P');
  });

  it('deletes a finished job: 204, then 404', async () => {
    const id = await ecotaxaJob('quick', 'F');
    const response = await c.del(`/api/jobs/${id}`);
    expect(response.status).toBe(204);
    expect((await c.get(`/api/jobs/${id}/`)).status).toBe(404);
  });
});

describe('GET /jobs/{id}?view=', () => {
  const SAFIR_KEYS = [
    'json_parameters', 'run_id', 'destruction_time', 'execution_duration', 'id', 'service', 'owner', 'phase', 'message_id',
    'creation_time', 'start_time', 'end_time', 'quote', 'errors', 'results',
  ];

  async function view(id: number, name?: string): Promise<Record<string, unknown>> {
    const response = await c.get(`/jobs/${id}${name === undefined ? '' : `?view=${name}`}`);
    expect(response.status, `/jobs/${id}?view=${name}`).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    return (await response.json()) as Record<string, unknown>;
  }

  /** The state each view shows, each view's model checked by its parser. */
  async function states(id: number) {
    const uws = await view(id, 'uws');
    expect(Object.keys(uws).sort()).toEqual([...SAFIR_KEYS].sort());
    fromSafirJob(uws);
    const ecotaxa = await view(id, 'ecotaxa');
    fromEcotaxaJobModel(ecotaxa);
    const rime = await view(id, 'rime');
    fromRimeJobMetadata(rime);
    const synapse = await view(id, 'synapse');
    expect(synapse.jobId).toBe(String(id));
    expect(SYNAPSE_STATES).toContain(synapse.jobState);
    const qiskit = await view(id, 'qiskit');
    expect(Object.keys(qiskit).sort()).toEqual(['job_id', 'status', 'status_msg']);
    fromQiskitDict(qiskit);
    expect(uws.id).toBe(String(id));
    expect(ecotaxa.id).toBe(id);
    expect(rime.jobId).toBe(String(id));
    expect(qiskit.job_id).toBe(String(id));
    expect(UWS_PHASES).toContain(uws.phase);
    expect(ECOTAXA_STATES).toContain(ecotaxa.state);
    expect(RIME_STATUSES).toContain(rime.status);
    expect(QISKIT_STATUSES).toContain(qiskit.status);
    return { uws, ecotaxa, rime, synapse, qiskit, all: [uws.phase, ecotaxa.state, rime.status, synapse.jobState, qiskit.status] };
  }

  it('a COMPLETED UWS job in every view', async () => {
    const id = await h.phaseline.enqueue('test.uws', { mode: 'quick' });
    await waitForState(h.phaseline, id, 'COMPLETED');
    const v = await states(id);
    expect(v.all).toEqual(['COMPLETED', 'F', 'JOB_STATUS_SUCCEEDED', 'COMPLETE', 'DONE']);
    expect(v.uws.results).toEqual([{ id: 'image', url: `https://example.org/results/${id}.fits`, size: 2880, mime_type: 'application/fits' }]);
    expect(v.uws.service).toBe('test.uws');
    expect(v.ecotaxa.progress_msg).toBe('Done');
    // The default view is the job's own lifecycle's.
    expect(await view(id)).toEqual(v.uws);
  });

  it('an EcoTaxa job in A in every view', async () => {
    const id = await ecotaxaJob('ask', 'A');
    const v = await states(id);
    expect(v.all).toEqual(['HELD', 'A', 'JOB_STATUS_REQUESTED', 'PROCESSING', 'INITIALIZING']);
    expect(await view(id)).toEqual(v.ecotaxa);
  });

  it('a running job in every view', async () => {
    const id = await ecotaxaJob('hold', 'R');
    const v = await states(id);
    expect(v.all).toEqual(['EXECUTING', 'R', 'JOB_STATUS_RUNNING', 'PROCESSING', 'RUNNING']);
    h.gates.release(id);
  });

  it('a failed Qiskit job and a cancelled RIME job in every view', async () => {
    const failed = await h.phaseline.enqueue('test.qiskit', { mode: 'fail' });
    await waitForState(h.phaseline, failed, 'ERROR');
    const f = await states(failed);
    expect(f.all).toEqual(['ERROR', 'E', 'JOB_STATUS_FAILED', 'FAILED', 'ERROR']);
    expect(f.rime.errorMsg).toContain(`kaboom in job ${failed}`);
    expect(f.synapse.errorMessage).toContain(`kaboom in job ${failed}`);
    expect((f.uws.errors as Array<{ message: string }>)[0]!.message).toContain(`kaboom in job ${failed}`);
    expect(await view(failed)).toEqual(f.qiskit);

    const cancelled = await h.phaseline.enqueue('test.rime', { mode: 'hold' });
    await waitFor(() => h.gates.waiting.has(cancelled));
    await h.phaseline.cancel(cancelled);
    await waitForState(h.phaseline, cancelled, 'JOB_STATUS_CANCELLED');
    const x = await states(cancelled);
    expect(x.all).toEqual(['ABORTED', 'E', 'JOB_STATUS_CANCELLED', 'FAILED', 'CANCELLED']);
    expect(x.ecotaxa.progress_msg).toBe('Killed');
    expect(x.rime.cancellationRequested).toBe(true);
  });

  it('a finished Synapse job in its own view', async () => {
    const id = await h.phaseline.enqueue('test.synapse', { mode: 'plain' });
    await waitForState(h.phaseline, id, 'COMPLETE');
    const own = await view(id);
    expect(own).toMatchObject({ jobState: 'COMPLETE', jobId: String(id), responseBody: { answer: 42 } });
    expect(own).toEqual(await view(id, 'synapse'));
  });

  it('an unknown view is 400; an unknown job is 404', async () => {
    const id = await h.phaseline.enqueue('test.uws', { mode: 'quick' }, { start: false });
    for (const name of ['bogus', 'UWS', '']) {
      const response = await c.get(`/jobs/${id}?view=${name}`);
      expect(response.status, `view=${name}`).toBe(400);
    }
    expect((await c.get('/jobs/999999?view=uws')).status).toBe(404);
    expect((await c.get('/jobs/nope')).status).toBe(400);
  });
});

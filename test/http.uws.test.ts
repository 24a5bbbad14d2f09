/**
 * The UWS 1.1 REST binding (src/http/uws.ts) against a real listening server: every resource and
 * error path the UWS 1.1 recommendation defines for its REST binding (job list, job, phase,
 * execution duration, destruction, quote, error, owner, parameters, results, blocking WAIT). Every XML document received is validated against the UWS 1.1 XSD.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, form, type Client, type Fields } from './helpers/http-client.ts';
import { startHarness, waitFor, waitForState, type Harness } from './helpers/http-harness.ts';
import { assertValidUws, jobrefIds, uwsParameters, uwsResultRefs, uwsText, validateUws } from './helpers/http-xml.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ISO_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

let h: Harness;
let c: Client;
/** A second app on the same Phaseline with maxWaitSeconds 1. */
let capped: Client;

beforeAll(async () => {
  h = await startHarness({ http: { maxBodyBytes: 4096 } });
  c = client(h.origin);
  capped = client(await h.serveAnother({ maxWaitSeconds: 1 }));
});
afterAll(async () => {
  await h?.close();
});

const historyLength = async (id: number) => (await h.phaseline.history(id)).length;
const phaseOf = async (id: number) => (await h.phaseline.get(id)).state;

/** A job created over HTTP with PHASE=RUN in `hold` mode, whose handler is now waiting on its gate (EXECUTING). */
async function executingJob(fields: Record<string, string> = {}): Promise<number> {
  const id = await c.create({ mode: 'hold', PHASE: 'RUN', ...fields });
  await waitFor(() => h.gates.waiting.has(id), 5000, `job ${id} executing`);
  expect(await phaseOf(id)).toBe('EXECUTING');
  return id;
}

async function completedJob(fields: Record<string, string> = {}): Promise<number> {
  const id = await c.create({ mode: 'quick', PHASE: 'RUN', ...fields });
  await waitForState(h.phaseline, id, 'COMPLETED');
  return id;
}

/** Whether `promise` has settled after `ms`. */
async function settledAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await sleep(ms);
  return settled;
}

describe('the XSD check itself', () => {
  it('rejects a document that breaks the schema (so passing it means something)', async () => {
    const id = await completedJob();
    const xml = await c.xml(`/uws/${id}`);
    expect((await validateUws(xml)).ok).toBe(true);
    expect((await validateUws(xml.replace('<uws:phase>COMPLETED</uws:phase>', '<uws:phase>FINISHED</uws:phase>'))).ok).toBe(false);
    expect((await validateUws(xml.replace(/<uws:jobId>.*<\/uws:jobId>/, ''))).ok).toBe(false);
    expect((await validateUws(xml.replace(/<uws:creationTime>.*<\/uws:creationTime>/, '<uws:creationTime>yesterday</uws:creationTime>'))).ok).toBe(false);
    await expect(assertValidUws(xml.replace('<uws:jobId>', '<uws:jobId>&x;'))).rejects.toThrow(/does not validate/);
  });
});

describe('POST /uws (create)', () => {
  it('with PHASE=RUN: 303 to the new job, which runs to COMPLETED', async () => {
    const response = await c.post('/uws', { mode: 'quick', n: '3', PHASE: 'RUN' });
    expect(response.status).toBe(303);
    const location = response.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${h.origin}/uws/[0-9]+$`));
    const id = Number(location.split('/').pop());
    await waitForState(h.phaseline, id, 'COMPLETED');
    const xml = await c.xml(location);
    expect(uwsText(xml, 'jobId')).toBe(String(id));
    expect(uwsText(xml, 'phase')).toBe('COMPLETED');
    expect(uwsText(xml, 'startTime')).toMatch(ISO_Z);
    expect(uwsText(xml, 'endTime')).toMatch(ISO_Z);
    // Reserved names (PHASE) are not parameters.
    expect(uwsParameters(xml)).toEqual({ mode: 'quick', n: '3' });
    expect(uwsResultRefs(xml)).toEqual([{ id: 'image', href: `https://example.org/results/${id}.fits` }]);
  });

  it('without PHASE: the job stays PENDING (a draft nobody claims)', async () => {
    const id = await c.create({ mode: 'quick' });
    await sleep(300); // 15 poll intervals
    const xml = await c.xml(`/uws/${id}`);
    expect(uwsText(xml, 'phase')).toBe('PENDING');
    expect(uwsText(xml, 'startTime')).toBeNull();
    expect(await c.text(`/uws/${id}/phase`)).toBe('PENDING');
  });

  it('parameter names are case-insensitive: phase=RUN starts the job', async () => {
    const id = await c.create({ mode: 'quick', phase: 'RUN' });
    await waitForState(h.phaseline, id, 'COMPLETED');
  });

  it('accepts multipart/form-data as well as a urlencoded form', async () => {
    const body = new FormData();
    body.append('mode', 'quick');
    body.append('n', '4');
    const id = await c.create({}, { body });
    expect(uwsParameters(await c.xml(`/uws/${id}/parameters`))).toEqual({ mode: 'quick', n: '4' });
  });

  it('takes RUNID, EXECUTIONDURATION and DESTRUCTION at creation', async () => {
    const id = await c.create({ mode: 'quick', RUNID: 'run-7', EXECUTIONDURATION: '600', DESTRUCTION: '2099-06-01T12:00:00Z' });
    const xml = await c.xml(`/uws/${id}`);
    expect(uwsText(xml, 'runId')).toBe('run-7');
    expect(uwsText(xml, 'executionDuration')).toBe('600');
    expect(Date.parse(uwsText(xml, 'destruction')!)).toBe(Date.parse('2099-06-01T12:00:00Z'));
    expect(uwsParameters(xml)).toEqual({ mode: 'quick' });
  });

  it('refuses a bad PHASE, bad parameters or a bad EXECUTIONDURATION with 400 and creates nothing', async () => {
    const before = (await h.phaseline.list()).length;
    const refused: Fields[] = [
      { mode: 'quick', PHASE: 'ABORT' },
      { mode: 'quick', n: 'abc' },
      { mode: 'nonsense' },
      { mode: 'quick', EXECUTIONDURATION: '-1' },
      { mode: 'quick', DESTRUCTION: 'soon' },
    ];
    for (const fields of refused) {
      const response = await c.post('/uws', fields);
      expect(response.status, JSON.stringify(fields)).toBe(400);
    }
    expect((await h.phaseline.list()).length).toBe(before);
  });

  it('refuses a body over maxBodyBytes with 413 and creates nothing', async () => {
    const before = (await h.phaseline.list()).length;
    const response = await c.post('/uws', { mode: 'quick', pad: 'x'.repeat(5000) });
    expect(response.status).toBe(413);
    expect((await h.phaseline.list()).length).toBe(before);
    // A streamed body (no Content-Length) is counted too.
    const text = form({ mode: 'quick', pad: 'x'.repeat(10_000) }).toString();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(text);
        for (let i = 0; i < bytes.length; i += 1000) controller.enqueue(bytes.slice(i, i + 1000));
        controller.close();
      },
    });
    const streamed = await c.post('/uws', {}, { body: stream, duplex: 'half', headers: { 'content-type': 'application/x-www-form-urlencoded' } } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await h.phaseline.list()).length).toBe(before);
    // Just under the limit is fine.
    const ok = await c.post('/uws', { mode: 'quick', pad: 'x'.repeat(3000) });
    expect(ok.status).toBe(303);
  });
});

describe('GET /uws (list)', () => {
  // Its own database, so the list holds exactly these jobs.
  let lh: Harness;
  let lc: Client;
  const ids: Record<'pending' | 'completed' | 'aborted' | 'archived' | 'failed', number> = {} as never;
  const created: Record<string, string> = {};

  beforeAll(async () => {
    lh = await startHarness();
    lc = client(lh.origin);
    // Created in this order, a few ms apart so creation times differ.
    ids.pending = await lc.create({ mode: 'quick' });
    await sleep(15);
    ids.completed = await lc.create({ mode: 'quick', PHASE: 'RUN' });
    await waitForState(lh.phaseline, ids.completed, 'COMPLETED');
    await sleep(15);
    ids.aborted = await lc.create({ mode: 'quick' });
    expect((await lc.post(`/uws/${ids.aborted}/phase`, { PHASE: 'ABORT' })).status).toBe(303);
    await sleep(15);
    ids.failed = await lc.create({ mode: 'fail', PHASE: 'RUN' });
    await waitForState(lh.phaseline, ids.failed, 'ERROR');
    await sleep(15);
    ids.archived = await lc.create({ mode: 'quick', PHASE: 'RUN' });
    await waitForState(lh.phaseline, ids.archived, 'COMPLETED');
    await lh.phaseline.send(ids.archived, { type: 'ARCHIVE' });
    for (const [name, id] of Object.entries(ids)) created[name] = uwsText(await lc.xml(`/uws/${id}`), 'creationTime')!;
  });
  afterAll(async () => {
    await lh?.close();
  });

  const list = async (query: string) => {
    const xml = await lc.xml(`/uws${query}`);
    return { xml, ids: jobrefIds(xml) };
  };

  it('lists every job but the ARCHIVED one by default, each with its phase and href', async () => {
    const { xml, ids: listed } = await list('');
    expect(new Set(listed)).toEqual(new Set([ids.pending, ids.completed, ids.aborted, ids.failed]));
    expect(xml).toContain(`<uws:jobref id="${ids.completed}" xlink:href="${lh.origin}/uws/${ids.completed}">`);
    expect(uwsText(xml.slice(xml.indexOf(`id="${ids.aborted}"`)), 'phase')).toBe('ABORTED');
  });

  it('also answers at /uws/ (trailing slash)', async () => {
    expect(new Set((await list('/')).ids)).toEqual(new Set([ids.pending, ids.completed, ids.aborted, ids.failed]));
  });

  it('PHASE filters; repeated PHASE is the union', async () => {
    expect((await list('?PHASE=PENDING')).ids).toEqual([ids.pending]);
    expect((await list('?PHASE=ERROR')).ids).toEqual([ids.failed]);
    expect(new Set((await list('?PHASE=PENDING&PHASE=COMPLETED')).ids)).toEqual(new Set([ids.pending, ids.completed]));
    expect((await list('?PHASE=EXECUTING')).ids).toEqual([]);
    // Parameter names are case-insensitive.
    expect((await list('?phase=PENDING')).ids).toEqual([ids.pending]);
  });

  it('ARCHIVED jobs appear only when asked for with PHASE=ARCHIVED', async () => {
    const { xml, ids: listed } = await list('?PHASE=ARCHIVED');
    expect(listed).toEqual([ids.archived]);
    expect(uwsText(xml, 'phase')).toBe('ARCHIVED');
    expect(new Set((await list('?PHASE=COMPLETED&PHASE=ARCHIVED')).ids)).toEqual(new Set([ids.completed, ids.archived]));
  });

  it('an unknown PHASE value is 400', async () => {
    for (const q of ['?PHASE=FINISHED', '?PHASE=pending', '?PHASE=PENDING&PHASE=NOPE']) {
      expect((await lc.get(`/uws${q}`)).status, q).toBe(400);
    }
  });

  it('AFTER keeps jobs created strictly later', async () => {
    const after = encodeURIComponent(created.completed!);
    expect(new Set((await list(`?AFTER=${after}`)).ids)).toEqual(new Set([ids.aborted, ids.failed]));
    expect((await list(`?AFTER=${after}&PHASE=ERROR`)).ids).toEqual([ids.failed]);
    expect((await list(`?AFTER=${encodeURIComponent(created.archived!)}&PHASE=ARCHIVED`)).ids).toEqual([]);
  });

  it('a malformed AFTER is 400', async () => {
    for (const q of ['?AFTER=yesterday', '?AFTER=2024-01-01', '?AFTER=2024-01-01T00:00:00']) {
      expect((await lc.get(`/uws${q}`)).status, q).toBe(400);
    }
  });

  it('LAST=n gives the n most recent, newest first', async () => {
    const q = '&PHASE=PENDING&PHASE=COMPLETED&PHASE=ABORTED&PHASE=ERROR';
    expect((await list(`?LAST=2${q}`)).ids).toEqual([ids.failed, ids.aborted]);
    expect((await list(`?LAST=10${q}`)).ids).toEqual([ids.failed, ids.aborted, ids.completed, ids.pending]);
    expect((await list('?LAST=1&PHASE=ARCHIVED')).ids).toEqual([ids.archived]);
  });

  it('LAST counts only listed jobs: a hidden ARCHIVED job does not use up LAST', async () => {
    // The newest job is the archived one; without PHASE=ARCHIVED the two newest listed jobs are failed, aborted.
    expect((await list('?LAST=2')).ids).toEqual([ids.failed, ids.aborted]);
  });

  it('LAST must be a positive integer (400 otherwise)', async () => {
    for (const q of ['?LAST=0', '?LAST=-1', '?LAST=two', '?LAST=1.5']) {
      expect((await lc.get(`/uws${q}`)).status, q).toBe(400);
    }
  });
});

describe('/phase', () => {
  it('RUN from PENDING: 303 to the job, then QUEUED/EXECUTING, then COMPLETED', async () => {
    const id = await c.create({ mode: 'hold' });
    expect(await c.text(`/uws/${id}/phase`)).toBe('PENDING');
    const response = await c.post(`/uws/${id}/phase`, { PHASE: 'RUN' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${h.origin}/uws/${id}`);
    expect(['QUEUED', 'EXECUTING']).toContain(await c.text(`/uws/${id}/phase`));
    await waitFor(() => h.gates.waiting.has(id));
    expect(await c.text(`/uws/${id}/phase`)).toBe('EXECUTING');
    h.gates.release(id);
    await waitForState(h.phaseline, id, 'COMPLETED');
    expect(await c.text(`/uws/${id}/phase`)).toBe('COMPLETED');
  });

  it('ABORT of an EXECUTING job: ABORTED, the handler is stopped and the job stays ABORTED', async () => {
    const id = await executingJob();
    const response = await c.post(`/uws/${id}/phase`, { PHASE: 'ABORT' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${h.origin}/uws/${id}`);
    await waitForState(h.phaseline, id, 'ABORTED', 3000);
    await waitFor(() => !h.gates.waiting.has(id), 3000, 'handler stopped');
    h.gates.release(id); // too late to matter
    await sleep(100);
    const xml = await c.xml(`/uws/${id}`);
    expect(uwsText(xml, 'phase')).toBe('ABORTED');
    expect(uwsText(xml, 'endTime')).toMatch(ISO_Z);
  });

  it('ABORT of a PENDING job: ABORTED', async () => {
    const id = await c.create({ mode: 'quick' });
    expect((await c.post(`/uws/${id}/phase`, { PHASE: 'ABORT' })).status).toBe(303);
    expect(await c.text(`/uws/${id}/phase`)).toBe('ABORTED');
  });

  it('RUN or ABORT on a COMPLETED job is 403 and changes nothing', async () => {
    const id = await completedJob();
    const before = await historyLength(id);
    const version = (await h.phaseline.get(id)).version;
    for (const phase of ['RUN', 'ABORT']) {
      const response = await c.post(`/uws/${id}/phase`, { PHASE: phase });
      expect(response.status, phase).toBe(403);
    }
    expect(await historyLength(id)).toBe(before);
    expect((await h.phaseline.get(id)).version).toBe(version);
    expect(await c.text(`/uws/${id}/phase`)).toBe('COMPLETED');
  });

  it('a PHASE other than RUN or ABORT, or none, is 400 and changes nothing', async () => {
    const id = await c.create({ mode: 'quick' });
    const before = await historyLength(id);
    for (const fields of [{ PHASE: 'SUSPEND' }, { PHASE: 'run' }, {}] as Fields[]) {
      expect((await c.post(`/uws/${id}/phase`, fields)).status, JSON.stringify(fields)).toBe(400);
    }
    expect(await historyLength(id)).toBe(before);
    expect(await c.text(`/uws/${id}/phase`)).toBe('PENDING');
  });
});

describe('/executionduration', () => {
  it('GET gives the seconds; POST sets them (303) and the job XML shows them', async () => {
    const id = await c.create({ mode: 'quick' });
    expect(await c.text(`/uws/${id}/executionduration`)).toBe('0');
    const response = await c.post(`/uws/${id}/executionduration`, { EXECUTIONDURATION: '120' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${h.origin}/uws/${id}`);
    expect(await c.text(`/uws/${id}/executionduration`)).toBe('120');
    expect(uwsText(await c.xml(`/uws/${id}`), 'executionDuration')).toBe('120');
  });

  it('a negative, fractional, non-numeric or missing value is 400 and changes nothing', async () => {
    const id = await c.create({ mode: 'quick', EXECUTIONDURATION: '60' });
    const before = await historyLength(id);
    for (const fields of [{ EXECUTIONDURATION: '-5' }, { EXECUTIONDURATION: '1.5' }, { EXECUTIONDURATION: 'ten' }, { EXECUTIONDURATION: '' }, {}] as Fields[]) {
      expect((await c.post(`/uws/${id}/executionduration`, fields)).status, JSON.stringify(fields)).toBe(400);
    }
    expect(await c.text(`/uws/${id}/executionduration`)).toBe('60');
    expect(await historyLength(id)).toBe(before);
  });
});

describe('/destruction', () => {
  it('GET is empty when unset; POST an instant (303) and GET shows it in ISO 8601 UTC with Z', async () => {
    const id = await c.create({ mode: 'quick' });
    expect(await c.text(`/uws/${id}/destruction`)).toBe('');
    expect(uwsText(await c.xml(`/uws/${id}`), 'destruction')).toBeNull(); // xsi:nil
    const response = await c.post(`/uws/${id}/destruction`, { DESTRUCTION: '2099-01-02T03:04:05+02:00' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${h.origin}/uws/${id}`);
    const text = await c.text(`/uws/${id}/destruction`);
    expect(text).toMatch(ISO_Z);
    expect(Date.parse(text)).toBe(Date.parse('2099-01-02T01:04:05Z'));
    expect(uwsText(await c.xml(`/uws/${id}`), 'destruction')).toBe(text);
  });

  it('may be set on a finished job too', async () => {
    const id = await completedJob();
    expect((await c.post(`/uws/${id}/destruction`, { DESTRUCTION: '2099-03-04T05:06:07Z' })).status).toBe(303);
    expect(Date.parse(await c.text(`/uws/${id}/destruction`))).toBe(Date.parse('2099-03-04T05:06:07Z'));
  });

  it('an impossible calendar date is 400, not rolled over to another day', async () => {
    const id = await c.create({ mode: 'quick', DESTRUCTION: '2099-05-05T05:05:05Z' });
    for (const value of ['2099-02-30T00:00:00Z', '2099-04-31T12:00:00Z']) {
      const response = await c.post(`/uws/${id}/destruction`, { DESTRUCTION: value });
      expect(response.status, `${value} -> ${await c.text(`/uws/${id}/destruction`)}`).toBe(400);
    }
    expect(Date.parse(await c.text(`/uws/${id}/destruction`))).toBe(Date.parse('2099-05-05T05:05:05Z'));
  });

  it('a malformed instant is 400 and changes nothing', async () => {
    const id = await c.create({ mode: 'quick', DESTRUCTION: '2099-05-05T05:05:05Z' });
    const before = await historyLength(id);
    for (const value of ['tomorrow', '2099-01-02', '2099-01-02T03:04:05', '2099-13-45T99:00:00Z', '']) {
      expect((await c.post(`/uws/${id}/destruction`, { DESTRUCTION: value })).status, value).toBe(400);
    }
    expect((await c.post(`/uws/${id}/destruction`, {})).status).toBe(400);
    expect(Date.parse(await c.text(`/uws/${id}/destruction`))).toBe(Date.parse('2099-05-05T05:05:05Z'));
    expect(await historyLength(id)).toBe(before);
  });
});

describe('/quote, /owner, /error', () => {
  it('quote and owner are empty for an anonymous job with no quote', async () => {
    const id = await c.create({ mode: 'quick' });
    expect(await c.text(`/uws/${id}/quote`)).toBe('');
    expect(await c.text(`/uws/${id}/owner`)).toBe('');
    const xml = await c.xml(`/uws/${id}`);
    expect(uwsText(xml, 'quote')).toBeNull();
    expect(uwsText(xml, 'ownerId')).toBeNull();
  });

  it('error is empty unless the job failed; for a failed job it holds the message, and the XML has an errorSummary', async () => {
    const ok = await completedJob();
    expect(await c.text(`/uws/${ok}/error`)).toBe('');
    expect(await c.xml(`/uws/${ok}`)).not.toContain('errorSummary');

    const id = await c.create({ mode: 'fail', PHASE: 'RUN' });
    await waitForState(h.phaseline, id, 'ERROR');
    const error = await c.text(`/uws/${id}/error`);
    expect(error).toContain(`kaboom in job ${id}`);
    const xml = await c.xml(`/uws/${id}`);
    expect(uwsText(xml, 'phase')).toBe('ERROR');
    expect(xml).toMatch(/<uws:errorSummary type="(fatal|transient)" hasDetail="(true|false)">/);
    expect(uwsText(xml, 'message')).toContain(`kaboom in job ${id}`);
    expect(uwsResultRefs(xml)).toEqual([]);
  });
});

describe('/parameters', () => {
  it('GET is the parameters document; GET /parameters/{name} one value (404 for an unknown name)', async () => {
    const id = await c.create({ mode: 'quick', n: '3', label: 'a & b <c>' });
    const xml = await c.xml(`/uws/${id}/parameters`);
    expect(uwsParameters(xml)).toEqual({ mode: 'quick', n: '3', label: 'a & b <c>' });
    expect(await c.text(`/uws/${id}/parameters/label`)).toBe('a & b <c>');
    expect((await c.get(`/uws/${id}/parameters/nope`)).status).toBe(404);
  });

  it('POST while PENDING changes them (303), keeping the others', async () => {
    const id = await c.create({ mode: 'quick', n: '3' });
    const response = await c.post(`/uws/${id}/parameters`, { n: '7', extra: 'yes' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${h.origin}/uws/${id}`);
    expect(uwsParameters(await c.xml(`/uws/${id}/parameters`))).toEqual({ mode: 'quick', n: '7', extra: 'yes' });
    expect(uwsParameters(await c.xml(`/uws/${id}`))).toEqual({ mode: 'quick', n: '7', extra: 'yes' });
    // And the job runs with them.
    expect((await c.post(`/uws/${id}/phase`, { PHASE: 'RUN' })).status).toBe(303);
    const done = await waitForState(h.phaseline, id, 'COMPLETED');
    expect(done.params).toEqual({ mode: 'quick', n: '7', extra: 'yes' });
  });

  it('POST names are case-insensitive: N=9 replaces n, it does not add a second parameter', async () => {
    const id = await c.create({ mode: 'quick', n: '3' });
    expect((await c.post(`/uws/${id}/parameters`, { N: '9' })).status).toBe(303);
    expect(uwsParameters(await c.xml(`/uws/${id}/parameters`))).toEqual({ mode: 'quick', n: '9' });
  });

  it('POST of parameters the job type refuses is 400 and changes nothing', async () => {
    const id = await c.create({ mode: 'quick', n: '3' });
    const before = await historyLength(id);
    expect((await c.post(`/uws/${id}/parameters`, { n: 'abc' })).status).toBe(400);
    expect(uwsParameters(await c.xml(`/uws/${id}/parameters`))).toEqual({ mode: 'quick', n: '3' });
    expect(await historyLength(id)).toBe(before);
  });

  it('POST when the job is not PENDING is 403 and changes nothing', async () => {
    const running = await executingJob({ n: '1' });
    const completed = await completedJob({ n: '2' });
    for (const [id, n] of [[running, '1'], [completed, '2']] as const) {
      const before = await historyLength(id);
      const response = await c.post(`/uws/${id}/parameters`, { n: '9' });
      expect(response.status, `job ${id}`).toBe(403);
      expect(await historyLength(id)).toBe(before);
      expect(uwsParameters(await c.xml(`/uws/${id}/parameters`))).toEqual({ mode: id === running ? 'hold' : 'quick', n });
    }
    h.gates.release(running);
    await waitForState(h.phaseline, running, 'COMPLETED');
  });

  it('a body over maxBodyBytes is 413 and changes nothing', async () => {
    const id = await c.create({ mode: 'quick', n: '3' });
    expect((await c.post(`/uws/${id}/parameters`, { big: 'y'.repeat(8000) })).status).toBe(413);
    expect(uwsParameters(await c.xml(`/uws/${id}/parameters`))).toEqual({ mode: 'quick', n: '3' });
  });
});

describe('/results', () => {
  it('GET lists the results; results/{id} redirects (303) to an external href', async () => {
    const id = await completedJob();
    const xml = await c.xml(`/uws/${id}/results`);
    expect(uwsResultRefs(xml)).toEqual([{ id: 'image', href: `https://example.org/results/${id}.fits` }]);
    expect(xml).toContain('mime-type="application/fits"');
    const response = await c.get(`/uws/${id}/results/image`);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`https://example.org/results/${id}.fits`);
    expect((await c.get(`/uws/${id}/results/nope`)).status).toBe(404);
  });

  it('a result that is not a list of references is served by the job itself as JSON', async () => {
    const id = await completedJob({ mode: 'plain' });
    const refs = uwsResultRefs(await c.xml(`/uws/${id}/results`));
    expect(refs).toEqual([{ id: 'result', href: `${h.origin}/uws/${id}/results/result` }]);
    const response = await c.get(refs[0]!.href);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ answer: 42 });
  });

  it('a job that has not finished has an empty (valid) results document', async () => {
    const id = await c.create({ mode: 'quick' });
    expect(uwsResultRefs(await c.xml(`/uws/${id}/results`))).toEqual([]);
  });
});

describe('deleting a job', () => {
  it('DELETE: 303 to the job list, then the job is 404', async () => {
    const id = await completedJob();
    const response = await c.del(`/uws/${id}`);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${h.origin}/uws`);
    expect((await c.get(`/uws/${id}`)).status).toBe(404);
    expect((await c.get(`/uws/${id}/phase`)).status).toBe(404);
    expect(jobrefIds(await c.xml('/uws'))).not.toContain(id);
  });

  it('POST ACTION=DELETE: likewise', async () => {
    const id = await c.create({ mode: 'quick' });
    const response = await c.post(`/uws/${id}`, { ACTION: 'DELETE' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${h.origin}/uws`);
    expect((await c.get(`/uws/${id}`)).status).toBe(404);
  });

  it('POST with another ACTION, or none, is 400 and the job stays', async () => {
    const id = await c.create({ mode: 'quick' });
    expect((await c.post(`/uws/${id}`, { ACTION: 'ARCHIVE' })).status).toBe(400);
    expect((await c.post(`/uws/${id}`, {})).status).toBe(400);
    expect(uwsText(await c.xml(`/uws/${id}`), 'phase')).toBe('PENDING');
  });

  it('DELETE of an EXECUTING job: gone, and its handler finishing later does not bring it back', async () => {
    const id = await executingJob();
    expect((await c.del(`/uws/${id}`)).status).toBe(303);
    expect((await c.get(`/uws/${id}`)).status).toBe(404);
    h.gates.release(id);
    await sleep(200);
    expect((await c.get(`/uws/${id}`)).status).toBe(404);
  });
});

describe('stopping a running handler', () => {
  // Its own runner with a 20 s heartbeat (leaseMs 60 s) that cannot fire during these tests, so a
  // handler that stops did so because of the request, not because a heartbeat found its lease gone.
  let sh: Harness;
  let sc: Client;
  beforeAll(async () => {
    sh = await startHarness({ runner: { leaseMs: 60_000 } });
    sc = client(sh.origin);
  });
  afterAll(async () => {
    await sh?.close();
  });
  const running = async () => {
    const id = await sc.create({ mode: 'hold', PHASE: 'RUN' });
    await waitFor(() => sh.gates.waiting.has(id), 5000, `job ${id} executing`);
    return id;
  };

  it('PHASE=ABORT signals the handler promptly', async () => {
    const id = await running();
    expect((await sc.post(`/uws/${id}/phase`, { PHASE: 'ABORT' })).status).toBe(303);
    await waitFor(() => !sh.gates.waiting.has(id), 3000, `handler of aborted job ${id} signalled`);
  });

  it('DELETE of an EXECUTING job aborts it too: its handler is signalled promptly', async () => {
    const id = await running();
    expect((await sc.del(`/uws/${id}`)).status).toBe(303);
    // Safir aborts an active job before deleting it; here the handler keeps running, and keeps its
    // worker slot, until the runner's next heartbeat finds the lease gone (leaseMs / 3).
    await waitFor(() => !sh.gates.waiting.has(id), 3000, `handler of deleted job ${id} signalled`);
  });
});

describe('unknown jobs', () => {
  it('every resource of a job that does not exist is 404', async () => {
    for (const id of ['999999', '9007199254740991']) {
      for (const path of ['', '/phase', '/executionduration', '/destruction', '/quote', '/error', '/owner', '/parameters', '/results', '/results/image']) {
        expect((await c.get(`/uws/${id}${path}`)).status, `GET /uws/${id}${path}`).toBe(404);
      }
      expect((await c.del(`/uws/${id}`)).status, `DELETE ${id}`).toBe(404);
      expect((await c.post(`/uws/${id}`, { ACTION: 'DELETE' })).status).toBe(404);
      expect((await c.post(`/uws/${id}/phase`, { PHASE: 'RUN' })).status).toBe(404);
      expect((await c.post(`/uws/${id}/parameters`, { n: '1' })).status).toBe(404);
      expect((await c.post(`/uws/${id}/executionduration`, { EXECUTIONDURATION: '1' })).status).toBe(404);
      expect((await c.post(`/uws/${id}/destruction`, { DESTRUCTION: '2099-01-01T00:00:00Z' })).status).toBe(404);
      expect((await c.get(`/uws/${id}?WAIT=5`, { timeoutMs: 3000 })).status).toBe(404);
    }
  });

  it('a job of another lifecycle is not in the UWS job list: 404 under /uws', async () => {
    const id = await h.phaseline.enqueue('test.ecotaxa', { mode: 'quick' });
    expect(jobrefIds(await c.xml('/uws'))).not.toContain(id);
    expect((await c.get(`/uws/${id}`)).status).toBe(404);
    expect((await c.get(`/uws/${id}/phase`)).status).toBe(404);
  });
});

describe('blocking WAIT', () => {
  it('WAIT=30 on an EXECUTING job returns as soon as its phase changes', async () => {
    const id = await executingJob();
    const started = Date.now();
    const request = c.xmlAt(`/uws/${id}?WAIT=30`, { timeoutMs: 8000 });
    expect(await settledAfter(request, 400)).toBe(false); // it blocks
    h.gates.release(id);
    const { xml, receivedAt } = await request;
    const elapsed = receivedAt - started;
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(5000);
    expect(uwsText(xml, 'phase')).toBe('COMPLETED');
  });

  it('WAIT with a matching PHASE guard blocks too', async () => {
    const id = await executingJob();
    const request = c.xml(`/uws/${id}?WAIT=30&PHASE=EXECUTING`, { timeoutMs: 8000 });
    expect(await settledAfter(request, 300)).toBe(false);
    h.gates.release(id);
    expect(uwsText(await request, 'phase')).toBe('COMPLETED');
  });

  it('WAIT with a PHASE guard that does not match returns at once', async () => {
    const id = await executingJob();
    const started = Date.now();
    const { xml, receivedAt } = await c.xmlAt(`/uws/${id}?WAIT=30&PHASE=QUEUED`, { timeoutMs: 8000 });
    expect(receivedAt - started).toBeLessThan(1000);
    expect(uwsText(xml, 'phase')).toBe('EXECUTING');
    h.gates.release(id);
  });

  it('WAIT on a COMPLETED job returns at once; WAIT=0 never blocks', async () => {
    const id = await completedJob();
    let started = Date.now();
    let answer = await c.xmlAt(`/uws/${id}?WAIT=30`, { timeoutMs: 8000 });
    expect(uwsText(answer.xml, 'phase')).toBe('COMPLETED');
    expect(answer.receivedAt - started).toBeLessThan(1000);
    const pending = await c.create({ mode: 'quick' });
    started = Date.now();
    answer = await c.xmlAt(`/uws/${pending}?WAIT=0`, { timeoutMs: 8000 });
    expect(uwsText(answer.xml, 'phase')).toBe('PENDING');
    expect(answer.receivedAt - started).toBeLessThan(1000);
  });

  it('WAIT on a PENDING job is released by PHASE=RUN', async () => {
    const id = await c.create({ mode: 'hold' });
    const request = c.xml(`/uws/${id}?WAIT=30`, { timeoutMs: 8000 });
    expect(await settledAfter(request, 300)).toBe(false);
    expect((await c.post(`/uws/${id}/phase`, { PHASE: 'RUN' })).status).toBe(303);
    expect(['QUEUED', 'EXECUTING']).toContain(uwsText(await request, 'phase'));
    h.gates.release(id);
  });

  it('five concurrent WAITs are all released by one transition', async () => {
    const id = await executingJob();
    const started = Date.now();
    const requests = Array.from({ length: 5 }, () => c.xmlAt(`/uws/${id}?WAIT=30`, { timeoutMs: 8000 }));
    const all = Promise.all(requests);
    expect(await settledAfter(all, 400)).toBe(false);
    for (const r of requests) expect(await settledAfter(r, 0)).toBe(false);
    h.gates.release(id);
    const answers = await all;
    for (const { xml, receivedAt } of answers) {
      expect(receivedAt - started).toBeLessThan(5000);
      expect(uwsText(xml, 'phase')).toBe('COMPLETED');
    }
  });

  it('WAIT=-1 (and any WAIT above it) is capped by maxWaitSeconds', async () => {
    const id = await executingJob();
    for (const wait of ['-1', '600']) {
      const started = Date.now();
      const { xml, receivedAt } = await capped.xmlAt(`/uws/${id}?WAIT=${wait}`, { timeoutMs: 8000 });
      const elapsed = receivedAt - started;
      expect(elapsed, `WAIT=${wait}`).toBeGreaterThanOrEqual(900);
      expect(elapsed, `WAIT=${wait}`).toBeLessThan(3000);
      expect(uwsText(xml, 'phase')).toBe('EXECUTING');
    }
    h.gates.release(id);
  });

  it('a malformed WAIT or PHASE guard is 400', async () => {
    const id = await completedJob();
    for (const q of ['WAIT=abc', 'WAIT=-2', 'WAIT=1.5', 'WAIT=5&PHASE=DONE']) {
      expect((await c.get(`/uws/${id}?${q}`)).status, q).toBe(400);
    }
  });

  it('a WAIT on a job that is deleted meanwhile ends promptly (404)', async () => {
    const id = await c.create({ mode: 'quick' });
    const started = Date.now();
    const request = c.get(`/uws/${id}?WAIT=30`, { timeoutMs: 5000 });
    expect(await settledAfter(request, 300)).toBe(false);
    expect((await c.del(`/uws/${id}`)).status).toBe(303);
    const response = await request;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(response.status).toBe(404);
  });
});

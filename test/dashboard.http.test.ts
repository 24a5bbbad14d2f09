/**
 * The dashboard over HTTP, without a browser (src/dashboard/): owners kept apart on every page and
 * on the event stream; the step-through's state after each event is the history's; actions
 * offered as the machine allows, refused ones showing the engine's typed error and changing
 * nothing; cross-site posts refused; keep-alives and stream clean-up; the browser script bundled
 * and type-checked. A conformance file: it runs on SQLite and on PostgreSQL.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, waitForState, type DashboardHarness } from './helpers/dashboard-harness.ts';
import { waitFor } from './helpers/wait.ts';
import { STYLES } from '../src/dashboard/styles.ts';
import { freshDatabase } from './support/stores.ts';

let h: DashboardHarness;
const ids = {} as { alicesDone: number; bobsDone: number; pending: number; asking: number; askingJson: number; running: number; review: number };

const as = (who: string | null, extra: Record<string, string> = {}): Record<string, string> => ({
  ...(who ? { authorization: `Bearer ${who}` } : {}),
  ...extra,
});
const get = (path: string, who: string | null = 'root') => fetch(`${h.origin}${path}`, { headers: as(who), redirect: 'manual' });
const post = (path: string, who: string | null, form: Record<string, string> = {}, headers: Record<string, string> = { origin: '' }) =>
  fetch(`${h.origin}${path}`, {
    method: 'POST',
    headers: as(who, { 'content-type': 'application/x-www-form-urlencoded', ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, k === 'origin' && v === '' ? h.origin : v])) }),
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
const text = async (response: Response) => response.text();

beforeAll(async () => {
  h = await startDashboard({ mount: 'alone', keepAliveMs: 50, db: await freshDatabase() });
  const p = h.phaseline;
  ids.alicesDone = await p.enqueue('test.quick', {}, { owner: 'alice' });
  ids.bobsDone = await p.enqueue('test.quick', {}, { owner: 'bob' });
  ids.pending = await p.enqueue('test.quick', {}, { owner: 'alice', start: false });
  ids.asking = await p.enqueue('test.ask', {}, { owner: 'alice' });
  ids.askingJson = await p.enqueue('test.askjson', {}, { owner: 'alice' });
  ids.running = await p.enqueue('test.long', {}, { owner: 'alice' });
  ids.review = await p.enqueue('test.review', {}, { owner: 'bob' });
  await waitForState(p, ids.alicesDone, 'COMPLETED');
  await waitForState(p, ids.bobsDone, 'COMPLETED');
  await waitForState(p, ids.asking, 'A');
  await waitForState(p, ids.askingJson, 'A');
  await waitForState(p, ids.running, 'JOB_STATUS_RUNNING');
  await waitForState(p, ids.review, 'approved');
});
afterAll(async () => {
  await h?.close();
});

const rowIds = (html: string) => [...html.matchAll(/<tr data-job-id="(\d+)"/g)].map((m) => Number(m[1]));

describe('owners', () => {
  it('asks for credentials', async () => {
    expect((await get('/dashboard/', null)).status).toBe(401);
    expect((await get(`/dashboard/jobs/${ids.alicesDone}`, null)).status).toBe(401);
    expect((await get('/dashboard/events', null)).status).toBe(401);
  });

  it('lists only the caller’s own jobs; an admin sees all, and may filter by owner', async () => {
    const alice = rowIds(await text(await get('/dashboard/', 'alice')));
    const mine = (await h.phaseline.list({ owner: 'alice' })).map((j) => j.id).sort((a, b) => b - a);
    expect(alice).toEqual(mine);
    // A non-admin's owner filter is ignored: still their own jobs only.
    expect(rowIds(await text(await get('/dashboard/?owner=bob', 'alice')))).toEqual(mine);
    const all = rowIds(await text(await get('/dashboard/', 'root')));
    expect(all).toEqual((await h.phaseline.list()).map((j) => j.id).sort((a, b) => b - a));
    expect(rowIds(await text(await get('/dashboard/?owner=bob', 'root')))).toEqual([ids.review, ids.bobsDone]);
  });

  it('answers another owner’s job exactly as a missing one, on every page and action', async () => {
    const theirs = await get(`/dashboard/jobs/${ids.bobsDone}`, 'alice');
    const missing = await get('/dashboard/jobs/987654', 'alice');
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(await text(theirs)).toBe(await text(missing));
    expect((await get(`/dashboard/jobs/${ids.bobsDone}?step=1&fragment=step`, 'alice')).status).toBe(404);
    const before = await h.phaseline.history(ids.review);
    const refused = await post(`/dashboard/jobs/${ids.review}/actions/delete`, 'alice');
    expect(refused.status).toBe(404);
    expect(await h.phaseline.history(ids.review)).toEqual(before);
  });

  it('counts only the caller’s jobs', async () => {
    const html = await text(await get('/dashboard/', 'alice'));
    expect(html).not.toContain('data-lifecycle="review"');
    expect(html).toMatch(/data-count-state="COMPLETED"><span class="state">COMPLETED<\/span> <span data-count="">1<\/span>/);
    const root = await text(await get('/dashboard/', 'root'));
    expect(root).toMatch(/data-count-state="COMPLETED"><span class="state">COMPLETED<\/span> <span data-count="">2<\/span>/);
  });
});

describe('list', () => {
  it('filters by lifecycle, type, state, creation instant and id, and says what it cannot read', async () => {
    const all = await h.phaseline.list();
    const byLifecycle = rowIds(await text(await get('/dashboard/?lifecycle=ecotaxa')));
    expect(byLifecycle).toEqual(all.filter((j) => j.lifecycle === 'ecotaxa').map((j) => j.id).sort((a, b) => b - a));
    expect(rowIds(await text(await get('/dashboard/?type=test.long')))).toEqual([ids.running]);
    expect(rowIds(await text(await get('/dashboard/?state=PENDING')))).toEqual([ids.pending]);
    expect(rowIds(await text(await get(`/dashboard/?id=${ids.asking}`)))).toEqual([ids.asking]);
    const future = new Date(Date.now() + 3_600_000).toISOString().slice(0, 16);
    expect(rowIds(await text(await get(`/dashboard/?after=${future}`)))).toEqual([]);
    const bad = await text(await get('/dashboard/?after=yesterday&id=abc'));
    expect(bad).toContain('“Created after” is not a date and time'.replace(/[“”]/g, '&quot;'));
    expect(bad).toContain('&quot;Job id&quot; must be a positive integer');
  });
});

describe('paging', () => {
  it('pages newest first by id, older then newer again, without skipping or repeating a job', async () => {
    const made = await h.phaseline.enqueueMany('test.quick', Array.from({ length: 30 }, () => ({ params: {}, owner: 'carol', start: false })));
    const newestFirst = [...made].sort((a, b) => b - a);
    const link = (html: string, rel: string) => {
      const href = new RegExp(`<a href="([^"]+)" rel="${rel}">`).exec(html)?.[1];
      return href === undefined ? null : href.replaceAll('&amp;', '&');
    };
    const first = await text(await get('/dashboard/?type=test.quick', 'carol'));
    expect(rowIds(first)).toEqual(newestFirst.slice(0, 25));
    expect(link(first, 'prev')).toBeNull();
    const second = await text(await get(link(first, 'next')!, 'carol'));
    expect(rowIds(second)).toEqual(newestFirst.slice(25));
    expect(link(second, 'next')).toBeNull();
    // A job created meanwhile does not shift the older page; going back shows it.
    const late = await h.phaseline.enqueue('test.quick', {}, { owner: 'carol', start: false });
    const back = await text(await get(link(second, 'prev')!, 'carol'));
    expect(rowIds(back)).toEqual([late, ...newestFirst.slice(0, 24)]);
  });
});

describe('job page', () => {
  it('shows the state after each event as the history says, replayed on the server', async () => {
    const history = await h.phaseline.history(ids.asking);
    for (const event of history) {
      const html = await text(await get(`/dashboard/jobs/${ids.asking}?step=${event.seq}&fragment=step`));
      expect(html).toContain(`data-step="${event.seq}"`);
      const shown = /<dt>State<\/dt><dd><span class="[^"]*" data-field="state">([^<]+)<\/span>/.exec(html)?.[1];
      expect(shown, `after event ${event.seq} (${event.type})`).toBe(event.stateAfter);
      expect(html).toMatch(new RegExp(`<g class="pl-node current[^"]*" data-state="${event.stateAfter}"`));
    }
    // Stepping buttons without the script: ?step=2&go=prev is event 1.
    const prev = await text(await get(`/dashboard/jobs/${ids.asking}?step=2&go=prev`));
    expect(prev).toContain('As it was after event 1 of');
    expect(prev).toContain('<!DOCTYPE html>');
    const headers = (await get(`/dashboard/jobs/${ids.asking}`)).headers;
    expect(headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(headers.get('cache-control')).toBe('no-store');
  });

  it('lists a long history around the chosen event, and steps through all of it', async () => {
    const id = await h.phaseline.enqueue('test.chatty', {});
    await waitForState(h.phaseline, id, 'COMPLETE');
    const history = await h.phaseline.history(id);
    expect(history.length).toBeGreaterThan(300);
    const listedSeqs = (html: string) => [...html.matchAll(/<li class="[^"]*" data-seq="(\d+)"/g)].map((m) => Number(m[1]));
    const last = await text(await get(`/dashboard/jobs/${id}`));
    expect(listedSeqs(last)).toEqual(history.slice(-101).map((e) => e.seq));
    expect(last).toContain(`${history.length - 101} earlier events`);
    const first = await text(await get(`/dashboard/jobs/${id}?step=1`));
    expect(listedSeqs(first)).toEqual(history.slice(0, 101).map((e) => e.seq));
    expect(first).toContain(`${history.length - 101} later events`);
    const middle = await text(await get(`/dashboard/jobs/${id}?step=150&fragment=step`));
    expect(middle).toContain(`<output for="step-input" id="step-output">150 / ${history.length} PROGRESS</output>`);
    // The job as it was then: the message of the 150th event's report.
    const message = (history[149]!.payload as { message: string }).message;
    expect(/<dt>Progress<\/dt><dd>.*?<span class="msg" data-field="message">([^<]*)<\/span>/.exec(middle)?.[1]).toBe(message);
  });

  it('describes a long history’s diagram path with each run of one arrow said once, with its length', async () => {
    const id = await h.phaseline.enqueue('test.chatty', {});
    await waitForState(h.phaseline, id, 'COMPLETE');
    const history = await h.phaseline.history(id);
    // The runs of the same arrow, in order, from the history itself (creation and upgrades draw none).
    const runs: Array<{ text: string; times: number }> = [];
    for (const event of history) {
      if (event.stateBefore === null || event.type === 'CREATE' || event.type === 'UPGRADE') continue;
      const text = `${event.stateBefore} to ${event.stateAfter}`;
      if (runs.at(-1)?.text === text) runs.at(-1)!.times++;
      else runs.push({ text, times: 1 });
    }
    const loop = runs.find((run) => run.times > 1);
    expect(loop?.times, 'a progress loop of many reports').toBeGreaterThan(100);
    const described = (html: string) => /<desc id="job-\d+-desc">([^<]*)<\/desc>/.exec(html)?.[1];
    const expected = `Path taken: ${runs.map(({ text, times }) => (times > 1 ? `${text} (${times} times)` : text)).join(', ')}.`;
    const desc = described(await text(await get(`/dashboard/jobs/${id}`)));
    expect(desc).toContain(expected);
    expect(desc!.split(`${loop!.text}`).length - 1, 'the loop named once, not once per report').toBe(1);
    // At a step inside the loop: the run so far.
    const seqAt = history.findIndex((e) => `${e.stateBefore} to ${e.stateAfter}` === loop!.text) + 1 + 9; // the loop's 10th step
    const partial = described(await text(await get(`/dashboard/jobs/${id}?step=${seqAt}`)));
    expect(partial).toMatch(new RegExp(`${loop!.text} \\(10 times\\)\\.$`));
  });

  it('offers the actions the machine accepts', async () => {
    const actionsOf = async (id: number) => [...(await text(await get(`/dashboard/jobs/${id}`))).matchAll(/action="\/dashboard\/jobs\/\d+\/actions\/(\w+)"/g)].map((m) => m[1]);
    expect(await actionsOf(ids.pending)).toEqual(['run', 'cancel']);
    expect(await actionsOf(ids.asking)).toEqual(['reply', 'cancel']);
    expect(await actionsOf(ids.running)).toEqual(['cancel']);
    expect(await actionsOf(ids.alicesDone)).toEqual(['delete']);
  });

  it('builds the reply form from the question: fields to inputs, otherwise a JSON text area', async () => {
    const fields = await text(await get(`/dashboard/jobs/${ids.asking}`));
    expect(fields).toContain('<select name="field.taxa" required=""><option value="copepoda">copepoda</option><option value="diatoms">diatoms</option></select>');
    expect(fields).toContain('<input name="field.count" type="number"');
    const json = await text(await get(`/dashboard/jobs/${ids.askingJson}`));
    expect(json).toContain('<textarea name="answer"');
  });
});

describe('actions', () => {
  it('refuses a post from another site, and one that says nothing of where it comes from; nothing changes', async () => {
    const before = await h.phaseline.history(ids.pending);
    const crossSite = await post(`/dashboard/jobs/${ids.pending}/actions/run`, 'alice', {}, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    const otherOrigin = await post(`/dashboard/jobs/${ids.pending}/actions/run`, 'alice', {}, { origin: 'http://evil.example' });
    expect(otherOrigin.status).toBe(403);
    const silent = await post(`/dashboard/jobs/${ids.pending}/actions/run`, 'alice', {}, {});
    expect(silent.status).toBe(403);
    expect(await h.phaseline.history(ids.pending)).toEqual(before);
  });

  it('shows a refused action’s typed error on the job page, without a stack, and changes nothing', async () => {
    const before = await h.phaseline.history(ids.running);
    const refused = await post(`/dashboard/jobs/${ids.running}/actions/restart`, 'alice');
    expect(refused.status).toBe(403);
    const html = await text(refused);
    expect(html).toContain(`ILLEGAL_TRANSITION: Job ${ids.running} (rime) in state JOB_STATUS_RUNNING does not accept RESTART`);
    expect(html).not.toMatch(/\n\s+at |\.ts:\d+/);
    expect(await h.phaseline.history(ids.running)).toEqual(before);

    const badJson = await post(`/dashboard/jobs/${ids.askingJson}/actions/reply`, 'alice', { answer: '{not json' });
    expect(badJson.status).toBe(400);
    expect(await text(badJson)).toContain('INVALID_INPUT: Invalid answer: is not valid JSON');
    expect((await h.phaseline.get(ids.askingJson)).state).toBe('A');
  });

  it('replies from the form fields, runs a draft, and deletes a finished job, each redirecting back', async () => {
    const replied = await post(`/dashboard/jobs/${ids.asking}/actions/reply`, 'alice', { 'field.taxa': 'diatoms', 'field.count': '3' });
    expect(replied.status).toBe(303);
    expect(replied.headers.get('location')).toBe(`/dashboard/jobs/${ids.asking}`);
    await waitForState(h.phaseline, ids.asking, 'F');
    expect((await h.phaseline.get(ids.asking)).result).toEqual({ mapped: 'diatoms', count: 3 });

    const ran = await post(`/dashboard/jobs/${ids.pending}/actions/run`, 'alice');
    expect(ran.status).toBe(303);
    await waitForState(h.phaseline, ids.pending, 'COMPLETED');

    const deleted = await post(`/dashboard/jobs/${ids.alicesDone}/actions/delete`, 'alice');
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get('location')).toBe('/dashboard/');
    await expect(h.phaseline.get(ids.alicesDone)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });
});

describe('lifecycles page', () => {
  it('draws every registered lifecycle, the app’s own included, with the jobs per state', async () => {
    const html = await text(await get('/dashboard/lifecycles'));
    for (const name of ['ecotaxa', 'uws', 'rime', 'synapse', 'qiskit', 'review']) expect(html).toContain(`data-lifecycle="${name}"`);
    const review = html.slice(html.indexOf('data-lifecycle="review"'));
    expect(review).toMatch(/<tr data-state="approved">.*?<td class="num" data-count="">1<\/td>/);
    // Bob's review job is not counted for alice.
    const alices = await text(await get('/dashboard/lifecycles', 'alice'));
    expect(alices.slice(alices.indexOf('data-lifecycle="review"'))).toMatch(/<tr data-state="approved">.*?<td class="num" data-count="">0<\/td>/);
  });
});

/** Reads an event stream until `until` is satisfied by what came so far. */
async function readStream(response: Response, until: (text: string) => boolean, ms = 5000): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let seen = '';
  const deadline = Date.now() + ms;
  while (!until(seen)) {
    if (Date.now() > deadline) throw new Error(`stream: timed out; got ${seen}`);
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return seen;
}

describe('live updates', () => {
  it('streams the caller’s own jobs only, with keep-alives, and lets go of a client that left', async () => {
    const controller = new AbortController();
    const stream = await fetch(`${h.origin}/dashboard/events?ids=${ids.review}`, { headers: as('alice'), signal: controller.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    await readStream(stream, (t) => t.includes(': connected'));
    expect(h.liveStreams()).toBe(1);
    const bobs = await h.phaseline.enqueue('test.steps', {}, { owner: 'bob' });
    const alices = await h.phaseline.enqueue('test.steps', {}, { owner: 'alice' });
    const seen = await readStream(stream, (t) => t.includes('"message":"started"') && t.includes(': keep-alive'));
    const jobsSeen = new Set([...seen.matchAll(/"id":(\d+)/g)].map((m) => Number(m[1])));
    expect(jobsSeen.has(alices)).toBe(true);
    expect(jobsSeen.has(bobs)).toBe(false);
    // Bob's review job was named as shown, but alice may not see it: its deletion is not hers to hear of.
    await h.phaseline.delete(ids.review);
    h.gates.open(`${alices}:half`);
    const later = await readStream(stream, (t) => t.includes('"message":"half way"'));
    expect(later).not.toContain('event: deleted');
    controller.abort();
    await waitFor(() => h.liveStreams() === 0, 5000, 'the stream let go');
    h.gates.open(`${alices}:end`);
    h.gates.open(`${bobs}:half`);
    h.gates.open(`${bobs}:end`);
  });

  it('sends progress only of the jobs the page shows, and every state change', async () => {
    const unseen = await h.phaseline.enqueue('test.steps', {}, { owner: 'alice' });
    await waitFor(async () => (await h.phaseline.get(unseen)).progress.message === 'started', 10_000, 'started');
    const controller = new AbortController();
    const stream = await fetch(`${h.origin}/dashboard/events?ids=${ids.running}`, { headers: as('alice'), signal: controller.signal });
    await readStream(stream, (t) => t.includes(': connected'));
    h.gates.open(`${unseen}:half`);
    await waitFor(async () => (await h.phaseline.get(unseen)).progress.message === 'half way', 10_000, 'half way');
    h.gates.open(`${unseen}:end`);
    const seen = await readStream(stream, (t) => t.includes('"event":"SUCCEED"'));
    const events = [...seen.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { id: number; event: string }).filter((m) => m.id === unseen);
    expect(events.map((m) => m.event)).toEqual(['SUCCEED']);
    controller.abort();
  });

  it('sends at once what changed between the page and the stream: a job shown at an older version', async () => {
    const job = await h.phaseline.get(ids.running);
    const controller = new AbortController();
    const stream = await fetch(`${h.origin}/dashboard/events?ids=${ids.running}:1,${ids.askingJson}:${(await h.phaseline.get(ids.askingJson)).version},${ids.bobsDone}:1`, {
      headers: as('alice'),
      signal: controller.signal,
    });
    const seen = await readStream(stream, (t) => t.includes('CATCH_UP'));
    const caughtUp = [...seen.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { id: number; version: number; event: string });
    // The running job (shown at version 1) is sent as it is now; the current one and bob's are not.
    expect(caughtUp.filter((m) => m.event === 'CATCH_UP')).toEqual([expect.objectContaining({ id: ids.running, version: job.version, state: job.state })]);
    expect(caughtUp.some((m) => m.id === ids.bobsDone)).toBe(false);
    controller.abort();
  });
});

describe('stylesheet', () => {
  it('is well-formed: every block closed where it opens (a stray brace would drop the rules after it)', () => {
    let depth = 0;
    for (const ch of STYLES.replace(/\/\*[\s\S]*?\*\//g, '')) {
      if (ch === '{') depth++;
      if (ch === '}') depth--;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
  });
});

describe('browser script', () => {
  it('is served, bundled, and type-checks against the DOM', async () => {
    const response = await get('/dashboard/assets/client.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/javascript');
    const script = await text(response);
    expect(script).toContain('EventSource');
    expect(script).not.toMatch(/^import /m); // one bundle, nothing fetched from elsewhere
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'src/dashboard/client'], { stdio: 'pipe' });
  });
});

describe('signing in with a token (browsers)', () => {
  let s: DashboardHarness;
  beforeAll(async () => {
    s = await startDashboard({ mount: 'http', signIn: true, db: await freshDatabase() });
  });
  afterAll(async () => {
    await s?.close();
  });
  const signIn = (token: string, headers: Record<string, string> = { origin: '' }) =>
    fetch(`${s.origin}/dashboard/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, k === 'origin' && v === '' ? s.origin : v])) },
      body: new URLSearchParams({ token }).toString(),
      redirect: 'manual',
    });

  it('leads a browser without credentials to the form, and keeps an accepted token in a cookie for the dashboard only', async () => {
    const page = await fetch(`${s.origin}/dashboard/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/dashboard/sign-in');
    // Not a browser opening a page: the plain 401.
    expect((await fetch(`${s.origin}/dashboard/events`)).status).toBe(401);
    expect((await fetch(`${s.origin}/dashboard/sign-in`)).status).toBe(200);

    const refused = await signIn('Mallory!');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('set-cookie')).toBeNull();
    expect((await signIn('alice', { 'sec-fetch-site': 'cross-site' })).status).toBe(403);

    const accepted = await signIn('alice');
    expect(accepted.status).toBe(303);
    const cookie = accepted.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^phaseline_dashboard_token=alice; Path=\/dashboard; HttpOnly; SameSite=Strict$/);
    const jar = cookie.split(';')[0]!;
    const mine = await s.phaseline.enqueue('test.quick', {}, { owner: 'alice', start: false });
    const theirs = await s.phaseline.enqueue('test.quick', {}, { owner: 'bob', start: false });
    const list = await text(await fetch(`${s.origin}/dashboard/`, { headers: { cookie: jar } }));
    expect(rowIds(list)).toEqual([mine]);
    expect(list).toContain('Sign out');
    expect((await fetch(`${s.origin}/dashboard/jobs/${theirs}`, { headers: { cookie: jar } })).status).toBe(404);
    // The API's routes never take the cookie.
    expect((await fetch(`${s.origin}/uws`, { headers: { cookie: jar } })).status).toBe(401);
    expect((await fetch(`${s.origin}/api/jobs/${mine}`, { headers: { cookie: jar } })).status).toBe(401);
    // An action with the cookie still needs the dashboard's own origin.
    const crossSite = await fetch(`${s.origin}/dashboard/jobs/${mine}/actions/run`, { method: 'POST', headers: { cookie: jar, 'sec-fetch-site': 'cross-site' }, redirect: 'manual' });
    expect(crossSite.status).toBe(403);
    expect((await s.phaseline.get(mine)).state).toBe('PENDING');

    const out = await fetch(`${s.origin}/dashboard/sign-out`, { method: 'POST', headers: { cookie: jar, origin: s.origin }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^phaseline_dashboard_token=; Max-Age=0; Path=\/dashboard/);
  });
});

/**
 * The facade on PostgreSQL (a real server, as in store.postgres.test.ts): its methods with the
 * refusals SQLite gives, workers woken across connections by NOTIFY, the HTTP app and the CLI on top.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createHttpApp } from '../src/http/app.ts';
import { createPhaseline, type Phaseline } from '../src/phaseline.ts';
import { FIXTURES, isOneLineError, phaseline as cli, start as serveCli } from './fixtures/cli/run.ts';
import { uwsV2 } from './fixtures/cli/uws-v2.ts';
import { replayHistories, type StoredHistory } from '../src/index.ts';
import { tempDir } from './support/sqlite.ts';
import { waitFor } from './helpers/wait.ts';
import { postgresEmptiedPerTest } from './support/postgres.ts';

const server = postgresEmptiedPerTest();
let open: Phaseline[] = [];

afterEach(async () => {
  await Promise.all(open.map((p) => p.close()));
  open = [];
});

function facade(): Phaseline {
  const p = createPhaseline({ db: server.url });
  open.push(p);
  return p;
}

const UNREACHABLE = 'postgres://phaseline:sekrit-pw@127.0.0.1:1/nothing';

const withTypes = (p: Phaseline) => ({
  draft: p.register<{ n: number }, { m: number }>({ name: 'draft', lifecycle: 'uws', handler: async () => ({ m: 1 }) }),
  note: p.register({ name: 'note', lifecycle: 'rime', handler: async () => null }),
});

describe('the facade on PostgreSQL', () => {
  test('enqueue, with an idempotency key, and enqueueMany; get typed, refused for another owner or type', async () => {
    const p = facade();
    const { draft, note } = withTypes(p);
    await p.ready();
    const id = await p.enqueue(draft, { n: 1 }, { owner: 'alice', start: false });
    const keyed = await p.enqueue(draft, { n: 2 }, { idempotencyKey: 'k1' });
    expect(await p.enqueue(draft, { n: 3 }, { idempotencyKey: 'k1' })).toBe(keyed);
    const many = await p.enqueueMany(note, [{ params: { a: 1 } }, { params: { a: 2 }, owner: 'bob' }]);
    expect(many).toHaveLength(2);
    expect(new Set([id, keyed, ...many]).size).toBe(4);

    const job = await p.get(id, { type: draft });
    expect(job.params.n).toBe(1);
    expect(job).toMatchObject({ id, state: 'PENDING', owner: 'alice', lifecycle: 'uws', type: 'draft' });
    expect((await p.get(id, { owner: 'alice' })).id).toBe(id);
    // As on SQLite: WRONG_OWNER (HTTP answers it as JOB_NOT_FOUND); another type is JOB_NOT_FOUND.
    await expect(p.get(id, { owner: 'bob' })).rejects.toMatchObject({ code: 'WRONG_OWNER' });
    await expect(p.get(id, { type: note })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(p.get(9999)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(p.enqueue('nope', null)).rejects.toMatchObject({ code: 'UNKNOWN_JOB_TYPE' });
  });

  test('list filters, history', async () => {
    const p = facade();
    const { draft, note } = withTypes(p);
    const pending = await p.enqueue(draft, { n: 1 }, { start: false, owner: 'alice' });
    const queued = await p.enqueue(draft, { n: 2 });
    const [n1] = await p.enqueueMany(note, [{ params: null, owner: 'alice' }]);
    expect((await p.list()).map((j) => j.id)).toEqual([pending, queued, n1]);
    expect((await p.list({ states: ['PENDING'] })).map((j) => j.id)).toEqual([pending]);
    expect((await p.list({ owner: 'alice' })).map((j) => j.id)).toEqual([pending, n1]);
    expect((await p.list({ type: 'note' })).map((j) => j.id)).toEqual([n1]);
    expect((await p.list({ last: 1 })).map((j) => j.id)).toEqual([n1]);
    const history = await p.history(queued);
    expect(history.map((e) => e.type)).toContain('RUN');
    expect(history.at(-1)!.stateAfter).toBe('QUEUED');
    await expect(p.history(pending, { owner: 'bob' })).rejects.toMatchObject({ code: 'WRONG_OWNER' });
  });

  test('send, reply, cancel; an illegal transition leaves row and history as they were; delete', async () => {
    const p = facade();
    const { draft } = withTypes(p);
    const id = await p.enqueue(draft, { n: 1 }, { start: false });
    expect((await p.send(id, { type: 'RUN' }, { lifecycle: 'uws' })).state).toBe('QUEUED');
    await expect(p.send(id, { type: 'ADMIT' }, { lifecycle: 'rime' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(p.reply(id, 'yes')).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' });
    expect((await p.cancel(id)).state).toBe('ABORTED');
    const row = await p.get(id);
    const history = await p.history(id);
    await expect(p.send(id, { type: 'RUN' })).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION', state: 'ABORTED' });
    expect(await p.get(id)).toEqual(row);
    expect(await p.history(id)).toEqual(history);

    await expect(p.delete(id, { owner: 'someone' })).rejects.toMatchObject({ code: 'WRONG_OWNER' });
    const deleted: number[][] = [];
    p.on('job:deleted', ({ jobIds }) => deleted.push([...jobIds]));
    await p.delete(id);
    expect(deleted).toEqual([[id]]);
    await expect(p.get(id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect(await p.history(id).catch((e: { code: string }) => e.code)).toBe('JOB_NOT_FOUND');
  });

  test('replay and replayAll: no divergence, then a row edited by hand is reported', async () => {
    const p = facade();
    const { draft, note } = withTypes(p);
    const a = await p.enqueue(draft, { n: 1 });
    await p.enqueueMany(note, [{ params: null }, { params: null }]);
    await p.cancel(a);
    expect((await p.replay(a)).divergences).toEqual([]);
    const clean = await p.replayAll();
    expect(clean).toMatchObject({ jobs: 3, diverged: 0 });
    expect(clean.events).toBeGreaterThan(3);

    await server.admin.query(`UPDATE jobs SET state = 'COMPLETED' WHERE id = $1`, [a]);
    const one = await p.replay(a);
    expect(one.divergences.map((d) => d.field)).toContain('state');
    const all = await p.replayAll();
    expect(all).toMatchObject({ jobs: 3, diverged: 1 });
    expect(all.reports.map((r) => r.jobId)).toEqual([a]);
  });

  test('close() ends the pool and later calls are CLOSED', async () => {
    const p = facade();
    withTypes(p);
    await p.ready();
    await p.close();
    await expect(p.list()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  test('ready() on an unreachable server rejects with STORE_UNAVAILABLE, without the password; so does every method', async () => {
    const p = createPhaseline({ db: UNREACHABLE });
    open.push(p);
    const error = await p.ready().then(() => null, (e: unknown) => e as Error & { code: string });
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(error!.message).toContain('127.0.0.1:1');
    expect(error!.message).not.toContain('sekrit');
    await expect(p.list()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });
});

describe('workers on PostgreSQL', () => {
  test('a worker runs progress, a durable step, a question and its reply, to the end; replay agrees', async () => {
    const p = facade();
    let runs = 0;
    const asking = p.register<{ n: number }, { sum: number }>({
      name: 'asking',
      lifecycle: 'ecotaxa',
      handler: async (ctx) => {
        runs++;
        await ctx.progress(10, 'started');
        const doubled = await ctx.step('double', () => ctx.params.n * 2);
        const extra = await ctx.ask<number>({ question: 'how many more?' });
        return { sum: doubled + extra };
      },
    });
    const workers = p.start({ pollIntervalMs: 20, leaseMs: 2000 });
    const id = await p.enqueue(asking, { n: 4 });
    await waitFor(async () => ((await p.get(id)).waiting ? true : null), 5000, 'the job to ask');
    await p.reply(id, 3);
    const done = await waitFor(async () => {
      const job = await p.get(id, { type: asking });
      return job.terminal ? job : null;
    }, 5000, 'the job to finish');
    expect(done).toMatchObject({ outcome: 'succeeded', result: { sum: 11 }, steps: { double: 8 } });
    expect(runs).toBe(2);
    expect(workers.activeJobIds).toEqual([]);
    const history = (await p.history(id)).map((e) => e.type);
    expect(history).toEqual(expect.arrayContaining(['CLAIM', 'PROGRESS', 'STEP', 'ASK', 'REPLY', 'SUCCEED']));
    expect(history.filter((t) => t === 'STEP')).toHaveLength(1);
    expect(await p.replayAll()).toMatchObject({ jobs: 1, diverged: 0 });
  });

  test('an enqueue on another connection wakes an idle worker at once (NOTIFY), long before its next poll', async () => {
    const worker = facade();
    const started: number[] = [];
    worker.register<{ at: number }>({
      name: 'ping',
      lifecycle: 'rime',
      handler: async (ctx) => {
        started.push(performance.now() - ctx.params.at);
        return null;
      },
    });
    await worker.ready();
    let idle = 0;
    worker.on('runner:idle', () => idle++);
    worker.start({ pollIntervalMs: 10_000 });
    await waitFor(() => (idle > 0 ? true : null), 10_000, 'the worker to go idle');
    // Another facade stands in for another process: its own pool, no runner.
    const client = facade();
    client.register({ name: 'ping', lifecycle: 'rime', handler: async () => null });
    for (let i = 0; i < 5; i++) {
      await client.enqueue('ping', { at: performance.now() });
      await waitFor(() => (started.length > i ? true : null), 8000, `job ${i + 1} to start`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    console.log(`[facade.postgres] other-connection enqueue → start: ${started.map((ms) => ms.toFixed(1)).join(', ')} ms (poll interval 10 s)`);
    // Well under the 10 s poll: only the notification can have woken the worker.
    expect(Math.max(...started)).toBeLessThan(2000);
  });

  test('an unreachable server: start() reports STORE_UNAVAILABLE on error and keeps retrying, it does not throw', async () => {
    const p = createPhaseline({ db: UNREACHABLE });
    open.push(p);
    p.register({ name: 'noop', lifecycle: 'rime', handler: async () => null });
    const errors: unknown[] = [];
    p.on('error', ({ error }) => errors.push(error));
    p.start({ pollIntervalMs: 10 });
    await waitFor(() => (errors.length >= 2 ? true : null), 5000, 'two reported failures');
    expect(errors[0]).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(String((errors[0] as Error).message)).not.toContain('sekrit');
  });
});

describe('the HTTP app on a PostgreSQL facade', () => {
  test('GET /jobs/{id}?view=rime and the UWS job document', async () => {
    const p = facade();
    const { draft, note } = withTypes(p);
    const [n] = await p.enqueueMany(note, [{ params: null }]);
    const u = await p.enqueue(draft, { n: 7 }, { start: false });
    const app = createHttpApp(p);
    const rime = await app.fetch(new Request(`http://x/jobs/${n}?view=rime`));
    expect(rime.status).toBe(200);
    expect(await rime.json()).toMatchObject({ status: 'JOB_STATUS_PENDING' });
    const doc = await app.fetch(new Request(`http://x/uws/${u}`));
    expect(doc.status).toBe(200);
    const xml = await doc.text();
    expect(xml).toMatch(new RegExp(`<uws:jobId>${u}</uws:jobId>`));
    expect(xml).toContain('<uws:phase>PENDING</uws:phase>');
    expect((await app.fetch(new Request('http://x/jobs/9999?view=rime'))).status).toBe(404);
  });
});

describe('the CLI with --db postgres://', () => {
  test('jobs --json, show, replay', async () => {
    const p = facade();
    const { draft } = withTypes(p);
    const id = await p.enqueue(draft, { n: 1 });
    await p.close();
    const jobs = cli(['--db', server.url, 'jobs', '--json']);
    expect(jobs.code, jobs.err).toBe(0);
    expect((JSON.parse(jobs.out) as Array<{ id: number; state: string }>).map((j) => [j.id, j.state])).toEqual([[id, 'QUEUED']]);
    const show = cli(['--db', server.url, 'show', String(id)]);
    expect(show.code, show.err).toBe(0);
    expect(show.out).toContain('QUEUED');
    expect(cli(['--db', server.url, 'replay'])).toEqual({ code: 0, out: 'replayed 1 jobs, 0 diverged\n', err: '' });
    expect(cli(['--db', server.url, 'show', '42'])).toEqual({ code: 2, out: '', err: 'phaseline: No job with id 42\n' });
    await server.admin.query(`UPDATE jobs SET state = 'COMPLETED' WHERE id = $1`, [id]);
    expect(cli(['--db', server.url, 'replay']).code).toBe(1);
  });

  test('phaseline --db postgres://… serve: a UWS job posted with PHASE=RUN is run by its workers to COMPLETED; SIGTERM ends it with 0', async () => {
    const serving = serveCli(['--db', server.url, 'serve', '--port', '0']);
    try {
      const line = await serving.firstLine;
      const base = /listening on (http:\/\/[^ ]+) /.exec(line)![1]!;
      const created = await fetch(`${base}/uws/`, { method: 'POST', body: new URLSearchParams({ ra: '10.5', dec: '41.2', PHASE: 'RUN' }), redirect: 'manual' });
      expect(created.status).toBe(303);
      const location = created.headers.get('location')!;
      const phase = await waitFor(async () => {
        const text = await (await fetch(`${location}/phase`)).text();
        return text === 'COMPLETED' ? text : null;
      }, 15_000, 'the posted job to complete');
      expect(phase).toBe('COMPLETED');
      const id = Number(location.split('/').pop());
      expect((await server.admin.query('SELECT state FROM jobs WHERE id = $1', [id])).rows[0]).toEqual({ state: 'COMPLETED' });
    } finally {
      serving.child.kill('SIGTERM');
    }
    expect((await serving.exited).code).toBe(0);
  });

  test('an unreachable server is one line, exit 2, no password', () => {
    const down = cli(['--db', UNREACHABLE, 'jobs']);
    expect(down.code).toBe(2);
    expect(isOneLineError(down), down.err).toBe(true);
    expect(down.err).toContain('Cannot open database');
    expect(down.err).not.toContain('sekrit');
  });

  test('phaseline --db postgres://… demo runs the five lifecycles on the server, then replay: 0 diverged', () => {
    const demo = cli(['--db', server.url, 'demo']);
    expect(demo.code, demo.err).toBe(0);
    expect(demo.out).toContain('ARCHIVED');
    expect(demo.out).toContain('JOB_STATUS_CANCELLED');
    const replay = cli(['--db', server.url, 'replay']);
    expect(replay.code, replay.err).toBe(0);
    expect(replay.out.trim()).toBe('replayed 15 jobs, 0 diverged'); // ten lifecycle jobs, a sleeper, a scheduled one, a parent and its two children
  });
});

describe('upgrades and exported histories on PostgreSQL', () => {
  test('upgrade moves the compatible drafts in one transaction each, keeps the edited one; replay agrees; a worker finishes a moved job', async () => {
    const before = facade();
    const { draft } = withTypes(before);
    const clean = await before.enqueue(draft, { n: 1 }, { start: false });
    const edited = await before.enqueue(draft, { n: 2 }, { start: false });
    await before.send(edited, { type: 'SET', params: { n: 3 } });
    const queued = await before.enqueue(draft, { n: 4 });
    await before.close();

    const p = createPhaseline({ db: server.url, lifecycles: [uwsV2] });
    open.push(p);
    withTypes(p);
    await expect(p.upgrade({ lifecycle: 'uws', to: 5 })).rejects.toMatchObject({ code: 'UNKNOWN_LIFECYCLE' });
    const rows = async () => (await server.admin.query('SELECT * FROM jobs ORDER BY id')).rows;
    const events = async () => (await server.admin.query('SELECT * FROM job_events ORDER BY job_id, seq')).rows;
    const untouched = { jobs: await rows(), events: await events() };
    expect(await p.upgrade({ lifecycle: 'uws', to: 2, dryRun: true })).toMatchObject({ upgraded: [{ jobId: clean }, { jobId: queued }], kept: [{ jobId: edited }] });
    expect({ jobs: await rows(), events: await events() }).toEqual(untouched);

    const report = await p.upgrade({ lifecycle: 'uws', to: 2, actor: 'deploy' });
    expect(report.upgraded).toEqual([{ jobId: clean, from: 1 }, { jobId: queued, from: 1 }]);
    expect(report.kept).toMatchObject([{ jobId: edited, from: 1, reason: expect.stringContaining('uws@2 refuses SET in state PENDING') }]);
    expect((await p.history(clean)).at(-1)).toMatchObject({ type: 'UPGRADE', payload: { from: 1, to: 2 }, actor: 'deploy' });
    expect(await p.replayAll()).toMatchObject({ jobs: 3, diverged: 0 });

    // The queued job was woken for by the upgrade's commit; a worker runs it on version 2.
    const ended = new Promise<void>((resolve) => p.on('job:ended', ({ job }) => job.id === queued && resolve()));
    p.start({ pollIntervalMs: 50 });
    await ended;
    await p.stop();
    expect(await p.get(queued)).toMatchObject({ state: 'COMPLETED', lifecycleVersion: 2 });
    expect(await p.replayAll()).toMatchObject({ jobs: 3, diverged: 0 });
    const histories: StoredHistory[] = [];
    for await (const history of p.histories()) histories.push(history);
    expect(await replayHistories(histories, [uwsV2])).toMatchObject({ jobs: 3, diverged: 0, notReplayed: [] });
  });

  test('the CLI: upgrade, export, and replay --from the export gives the report replay gives from the server', async () => {
    const before = facade();
    const { draft } = withTypes(before);
    const id = await before.enqueue(draft, { n: 1 }, { start: false });
    await before.close();
    const v2 = join(FIXTURES, 'uws-v2.ts');
    expect(cli(['--db', server.url, '--lifecycles', v2, 'upgrade', '--lifecycle', 'uws', '--to', '2'])).toEqual({
      code: 0, out: `job ${id}: uws@1 -> uws@2\nupgraded 1 job to uws@2, 0 kept\n`, err: '',
    });
    const dir = tempDir('pg-export');
    try {
      const file = join(dir, 'histories.jsonl');
      expect(cli(['--db', server.url, 'export', '--out', file])).toMatchObject({ code: 0, out: `exported 1 job (2 events) to ${file}\n` });
      const fromServer = cli(['--db', server.url, '--lifecycles', v2, 'replay', '--json']);
      const fromFile = cli(['--lifecycles', v2, 'replay', '--from', file, '--json']);
      expect(fromServer.code, fromServer.err).toBe(0);
      expect(JSON.parse(fromFile.out)).toEqual(JSON.parse(fromServer.out));
      writeFileSync(file, '{"format": 1}\n');
      expect(cli(['replay', '--from', file])).toMatchObject({ code: 2, err: expect.stringMatching(/line 1: not a job history/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

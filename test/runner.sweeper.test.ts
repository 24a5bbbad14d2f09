/**
 * Destruction and retention, as the runner's maintenance tick applies them (src/runner/sweeper.ts).
 */
import { describe, expect, test } from 'vitest';
import {
  FAST, LEAD_MS, aborted, countRows, deferred, eventsOf, onCleanup, open, rawHistory, rawRow, types, waitFor, waitForState,
} from './helpers/behaviour-harness.ts';

describe('destruction of UWS jobs', () => {
  test('QUEUED at destruction → aborted, then ARCHIVED; record kept; CANCEL then ARCHIVE in history', async () => {
    const p = await open();
    let ran = 0;
    p.register({ name: 'job', lifecycle: 'uws', handler: async () => (ran++, null) });
    p.start(FAST);
    const destruction = Date.now() + LEAD_MS + 150;
    const id = await p.enqueue('job', { keep: 'me' }, { delayMs: 60_000, destruction });
    expect((await p.get(id)).state).toBe('QUEUED');
    const job = await waitForState(p, id, 'ARCHIVED');
    expect(ran).toBe(0);
    expect(job.stateValue).toEqual({ ARCHIVED: 'aborted' });
    expect(job.outcome).toBe('cancelled');
    expect(job.params).toEqual({ keep: 'me' });
    expect(job.destructionAt).toBe(destruction);
    const history = await p.history(id);
    expect(types(history)).toEqual(['RUN', 'CANCEL', 'ARCHIVE']);
    const [cancel] = eventsOf(history, 'CANCEL');
    expect(cancel).toMatchObject({ stateBefore: 'QUEUED', stateAfter: 'ABORTED', actor: 'sweeper', payload: { reason: 'destruction' } });
    expect(cancel!.at).toBeGreaterThanOrEqual(destruction);
    expect(eventsOf(history, 'ARCHIVE')[0]).toMatchObject({ stateBefore: 'ABORTED', stateAfter: 'ARCHIVED', actor: 'sweeper' });
  });

  test('EXECUTING at destruction → aborted (handler signalled), then ARCHIVED', async () => {
    const p = await open();
    const started = deferred<void>();
    const seen = { signalled: false };
    const gate = deferred<void>();
    onCleanup(() => gate.resolve());
    p.register({
      name: 'job',
      lifecycle: 'uws',
      handler: async (ctx) => {
        started.resolve();
        await Promise.race([aborted(ctx.signal), gate.promise]);
        seen.signalled = ctx.signal.aborted;
        return { partial: true };
      },
    });
    p.start(FAST);
    const id = await p.enqueue('job', null, { destruction: Date.now() + LEAD_MS + 200 });
    await started.promise;
    expect((await p.get(id)).state).toBe('EXECUTING');
    const job = await waitForState(p, id, 'ARCHIVED');
    await waitFor(() => seen.signalled, 1000, 'handler signalled');
    expect(job.stateValue).toEqual({ ARCHIVED: 'aborted' });
    expect(job.result).toBeNull();
    expect(job.lease).toBeNull();
    const history = await p.history(id);
    expect(types(history)).toEqual(['RUN', 'CLAIM', 'CANCEL', 'ARCHIVE']);
    expect(eventsOf(history, 'CANCEL')[0]).toMatchObject({ stateBefore: 'EXECUTING', stateAfter: 'ABORTED' });
    // The handler's late result is not stored over the archived job.
    expect(types(await p.history(id))).not.toContain('SUCCEED');
  });

  test('COMPLETED at destruction → ARCHIVED with result null; record kept', async () => {
    const p = await open();
    p.register({ name: 'job', lifecycle: 'uws', handler: async () => ({ big: 'result' }) });
    p.start(FAST);
    const id = await p.enqueue('job', { x: 1 }, { destruction: Date.now() + LEAD_MS + 250 });
    const completed = await waitForState(p, id, 'COMPLETED');
    expect(completed.result).toEqual({ big: 'result' });
    const job = await waitForState(p, id, 'ARCHIVED');
    expect(job.result).toBeNull();
    expect(job.stateValue).toEqual({ ARCHIVED: 'completed' });
    expect(job.outcome).toBe('succeeded');
    expect(job.params).toEqual({ x: 1 });
    expect(job.endedAt).toBe(completed.endedAt); // ended when it completed, not when archived
    // Dropped in storage too (SQL NULL or JSON null text: both decode to null).
    expect(JSON.parse(String((await rawRow(p, id))!.result))).toBeNull();
    const history = await p.history(id);
    expect(types(history)).toEqual(['RUN', 'CLAIM', 'SUCCEED', 'ARCHIVE']);
    // Archived jobs are left alone by later ticks.
    const other = await p.enqueue('job', null);
    await waitForState(p, other, 'COMPLETED');
    expect((await p.history(id)).length).toBe(history.length);
  });

  test("sweep.destroy 'delete' deletes the job and its history instead", async () => {
    const p = await open();
    p.register({ name: 'job', lifecycle: 'uws', handler: async () => ({ r: 1 }) });
    p.start({ ...FAST, sweep: { destroy: 'delete' } });
    const soon = Date.now() + LEAD_MS + 200;
    const completed = await p.enqueue('job', null, { destruction: soon });
    const queued = await p.enqueue('job', null, { delayMs: 60_000, destruction: soon });
    const kept = await p.enqueue('job', null, { destruction: Date.now() + 3_600_000 });
    await waitForState(p, completed, 'COMPLETED');
    await waitFor(async () => !(await rawRow(p, completed)) && !(await rawRow(p, queued)), 3000 + LEAD_MS, 'both deleted');
    expect(await rawHistory(p, completed)).toEqual([]);
    expect(await rawHistory(p, queued)).toEqual([]);
    await expect(p.get(completed)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    const survivor = await waitForState(p, kept, 'COMPLETED');
    expect(survivor.result).toEqual({ r: 1 });
    expect(await countRows(p, 'jobs')).toBe(1);
  });
});

describe('retention of other lifecycles', () => {
  test('a finished job is deleted with its history after retentionMs; unfinished ones and UWS jobs are kept', async () => {
    const p = await open();
    p.register({ name: 'rime', lifecycle: 'rime', handler: async () => ({ ok: true }) });
    p.register({ name: 'uws', lifecycle: 'uws', handler: async () => ({ ok: true }) });
    const retentionMs = LEAD_MS + 200;
    p.start({ ...FAST, sweep: { retentionMs } });
    const finished = await p.enqueue('rime', null);
    const unfinished = await p.enqueue('rime', null, { delayMs: 60_000 });
    const uws = await p.enqueue('uws', null);
    const done = await waitForState(p, finished, 'JOB_STATUS_SUCCEEDED');
    await waitForState(p, uws, 'COMPLETED');
    expect((await rawHistory(p, finished)).length).toBeGreaterThan(0);
    await waitFor(async () => !(await rawRow(p, finished)), 3000 + LEAD_MS, 'finished job deleted');
    expect(Date.now() - done.endedAt!).toBeGreaterThanOrEqual(retentionMs);
    expect(await rawHistory(p, finished)).toEqual([]);
    expect((await p.get(unfinished)).state).toBe('JOB_STATUS_PENDING');
    expect((await rawHistory(p, unfinished)).length).toBeGreaterThan(0);
    // UWS keeps its records until destruction.
    expect((await p.get(uws)).state).toBe('COMPLETED');
  });

  test('a non-UWS job at its destruction instant is cancelled, then deleted', async () => {
    const p = await open();
    p.register({ name: 'job', lifecycle: 'rime', handler: async () => null });
    p.start(FAST);
    const id = await p.enqueue('job', null, { delayMs: 60_000, destruction: Date.now() + 150 });
    await waitFor(async () => !(await rawRow(p, id)), 3000, 'destroyed');
    expect(await rawHistory(p, id)).toEqual([]);
  });
});

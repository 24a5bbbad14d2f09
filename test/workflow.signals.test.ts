/**
 * Signals (`ctx.waitFor`, `phaseline.signal`) on a real database (a SQLite file, or PostgreSQL in
 * the postgres project): a wait parks the job in its running state until the signal or its
 * timeout; a signal sent before the wait is kept for it; a timeout is a typed error in the handler;
 * a signal to a finished job is refused and changes nothing, byte for byte.
 */
import { describe, expect, test } from 'vitest';
import { isPhaselineError, SignalTimeoutError } from '../src/errors.ts';
import { FAST, LEAD_MS, deferred, open, rawHistory, rawRow, types, waitForState } from './helpers/behaviour-harness.ts';

describe('signals', () => {
  test('a wait parks the job in its running state; the signal resumes it with its payload, recorded in the history', async () => {
    const p = await open();
    let entries = 0;
    p.register({
      name: 'approve',
      lifecycle: 'uws',
      handler: async (ctx) => {
        entries++;
        const first = await ctx.step('first', () => 'done once');
        const decision = await ctx.waitFor<{ ok: boolean }>('decision');
        return { first, decision };
      },
    });
    p.start({ ...FAST });
    const id = await p.enqueue('approve', {});
    const waiting = await waitForState(p, id, (job) => job.parked?.signal === 'decision');
    expect(waiting.state).toBe('EXECUTING');
    expect(waiting.running).toBe(false);
    expect(waiting.queued).toBe(false); // no timeout: only the signal wakes it
    expect(waiting.lease).toBeNull();
    const signalled = await p.signal(id, 'decision', { ok: true });
    expect(signalled.queued).toBe(true);
    const done = await waitForState(p, id, 'COMPLETED', 5000);
    expect(done.result).toEqual({ first: 'done once', decision: { ok: true } });
    expect(entries).toBe(2);
    const history = await p.history(id);
    const signal = history.find((e) => e.type === 'SIGNAL')!;
    expect(signal.payload).toEqual({ name: 'decision', payload: { ok: true } });
    expect(types(history).filter((t) => ['WAIT', 'SIGNAL', 'WAKE'].includes(t))).toEqual(['WAIT', 'SIGNAL', 'WAKE']);
    expect((await p.replay(id)).divergences).toEqual([]);
  });

  test('a signal sent before the job starts is kept; the wait takes it without parking', async () => {
    const p = await open();
    p.register({ name: 'early', lifecycle: 'rime', handler: async (ctx) => ctx.waitFor('go') });
    const id = await p.enqueue('early', {});
    const queued = await p.signal(id, 'go', 42);
    expect(queued.signals).toEqual([{ name: 'go', payload: 42, at: queued.updatedAt }]);
    p.start({ ...FAST });
    const done = await waitForState(p, id, 'JOB_STATUS_SUCCEEDED', 5000);
    expect(done.result).toBe(42);
    expect(done.signals).toEqual([]);
    const parkEvents = types(await p.history(id)).filter((t) => ['WAIT', 'SIGNAL', 'WAKE'].includes(t));
    expect(parkEvents).toEqual(['SIGNAL', 'WAIT']);
  });

  test('a signal to a running job that does not wait yet is kept, and signals of one name are taken in order', async () => {
    const p = await open();
    const gate = deferred<void>();
    const running = deferred<void>();
    p.register({
      name: 'later',
      lifecycle: 'ecotaxa',
      handler: async (ctx) => {
        running.resolve();
        await gate.promise;
        return [await ctx.waitFor('n'), await ctx.waitFor('n'), await ctx.waitFor('n')];
      },
    });
    p.start({ ...FAST });
    const id = await p.enqueue('later', {});
    await running.promise;
    await p.signal(id, 'n', 1);
    await p.signal(id, 'other', 'x');
    await p.signal(id, 'n', 2);
    gate.resolve();
    await waitForState(p, id, (job) => job.parked?.signal === 'n', 5000);
    await p.signal(id, 'n', 3);
    const done = await waitForState(p, id, 'F', 5000);
    expect(done.result).toEqual([1, 2, 3]);
    expect(done.signals).toEqual([{ name: 'other', payload: 'x', at: expect.any(Number) }]);
    expect((await p.replay(id)).divergences).toEqual([]);
  });

  test('a timeout resumes the handler with SignalTimeoutError, recorded so a re-entry gets it again', async () => {
    const p = await open();
    const errors: string[] = [];
    p.register({
      name: 'impatient',
      lifecycle: 'qiskit',
      handler: async (ctx) => {
        try {
          await ctx.waitFor('never', { timeout: 150 });
          return 'signalled';
        } catch (error) {
          errors.push(error instanceof SignalTimeoutError && isPhaselineError(error, 'SIGNAL_TIMEOUT') ? error.signal : String(error));
          return 'timed out';
        }
      },
    });
    p.start({ ...FAST });
    const id = await p.enqueue('impatient', {});
    const done = await waitForState(p, id, 'DONE', 5000 + LEAD_MS);
    expect(done.result).toBe('timed out');
    expect(errors).toEqual(['never']);
    expect(done.waits).toEqual([{ kind: 'signal', name: 'never', until: expect.any(Number), outcome: 'timeout', at: expect.any(Number) }]);
    // A late signal to the finished job is refused.
    await expect(p.signal(id, 'never', 1)).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' });
  });

  test('a signal to a finished job is refused and changes nothing (row and history byte-equal)', async () => {
    const p = await open();
    p.register({ name: 'quick', lifecycle: 'synapse', handler: async () => 'ok' });
    p.start({ ...FAST });
    const id = await p.enqueue('quick', {});
    await waitForState(p, id, 'COMPLETE', 5000);
    await p.stop(0);
    const row = await rawRow(p, id);
    const history = await rawHistory(p, id);
    const refusal = await p.signal(id, 'late', { x: 1 }).catch((error: unknown) => error);
    expect(isPhaselineError(refusal, 'ILLEGAL_TRANSITION')).toBe(true);
    expect(String((refusal as Error).message)).toMatch(/finished/);
    await expect(p.signal(id, '', null)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(p.signal(id + 1000, 'late', null)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect(await rawRow(p, id)).toEqual(row);
    expect(await rawHistory(p, id)).toEqual(history);
  });
});

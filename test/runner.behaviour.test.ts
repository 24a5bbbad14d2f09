/**
 * The runner as a host app sees it: a real database (a SQLite file, or PostgreSQL in the postgres
 * project), real timers, short intervals. Every wait polls (`waitFor`); no assertion rests on a
 * fixed sleep.
 */
import { describe, expect, expectTypeOf, test } from 'vitest';
import type { Json } from '../machines/common.ts';
import type { Job, JobEvent } from '../src/engine/job.ts';
import type { PhaselineEventMap } from '../src/events.ts';
import type { HandlerContext } from '../src/runner/context.ts';
import { createPhaseline } from '../src/phaseline.ts';
import { STORE } from './support/stores.ts';
import {
  FAST, LEAD_MS, aborted, countRows, deferred, eventsOf, freshDatabase, onCleanup, open, types, waitFor, waitForState,
} from './helpers/behaviour-harness.ts';

type LifecycleName = 'uws' | 'ecotaxa' | 'rime' | 'synapse' | 'qiskit';

/** Wire state of a job waiting to be claimed, per lifecycle. */
const QUEUED_STATE: Record<LifecycleName, string> = {
  uws: 'QUEUED', ecotaxa: 'P', rime: 'JOB_STATUS_PENDING', synapse: 'PROCESSING', qiskit: 'QUEUED',
};
/** Wire state of a running job (Qiskit's handler runs in RUNNING, after VALIDATING). */
const RUNNING_STATE: Record<LifecycleName, string> = {
  uws: 'EXECUTING', ecotaxa: 'R', rime: 'JOB_STATUS_RUNNING', synapse: 'PROCESSING', qiskit: 'RUNNING',
};

/** What "cancelled" looks like in each lifecycle (README, "Lifecycles"). */
function expectCancelled(lifecycle: LifecycleName, job: Job): void {
  expect(job.terminal).toBe(true);
  expect(job.outcome).toBe('cancelled');
  expect(job.running).toBe(false);
  expect(job.lease).toBeNull();
  switch (lifecycle) {
    case 'uws':
      expect(job.state).toBe('ABORTED');
      break;
    case 'ecotaxa':
      expect(job.state).toBe('E');
      expect(job.stateValue).toEqual({ E: 'killed' });
      expect(job.progress.message).toBe('Killed');
      break;
    case 'rime':
      expect(job.state).toBe('JOB_STATUS_CANCELLED');
      break;
    case 'synapse':
      expect(job.state).toBe('FAILED');
      expect(job.cancelRequested).toBe(true);
      expect(job.errors.at(-1)?.message).toMatch(/cancel/i);
      break;
    case 'qiskit':
      expect(job.state).toBe('CANCELLED');
      break;
  }
}

/** A handler that records what it saw and waits on a gate the test controls. */
function gatedHandler() {
  const started = deferred<HandlerContext<Json>>();
  const gate = deferred<'open'>();
  const seen = { signalFired: false, returned: false };
  onCleanup(() => gate.resolve('open'));
  return {
    started,
    gate,
    seen,
    /** Stops when its signal fires (then throws the signal's reason). */
    obedient: async (ctx: HandlerContext<Json>): Promise<Json> => {
      ctx.signal.addEventListener('abort', () => (seen.signalFired = true), { once: true });
      started.resolve(ctx);
      await Promise.race([aborted(ctx.signal), gate.promise]);
      seen.returned = true;
      if (ctx.signal.aborted) throw ctx.signal.reason;
      return { done: true };
    },
    /** Ignores its signal: runs until the test opens the gate. */
    stubborn: async (ctx: HandlerContext<Json>): Promise<Json> => {
      ctx.signal.addEventListener('abort', () => (seen.signalFired = true), { once: true });
      started.resolve(ctx);
      await gate.promise;
      seen.returned = true;
      return { done: true };
    },
  };
}

const LIFECYCLES: LifecycleName[] = ['uws', 'ecotaxa', 'rime', 'synapse', 'qiskit'];

describe('cancellation', () => {
  test.each(LIFECYCLES)('%s: a job nobody runs (no workers) is cancelled at once', async (lifecycle) => {
    const p = await open();
    p.register({ name: 'job', lifecycle, handler: async () => null });
    const id = await p.enqueue('job', { n: 1 });
    expect((await p.get(id)).state).toBe(QUEUED_STATE[lifecycle]);
    const job = await p.cancel(id);
    expectCancelled(lifecycle, job);
    expectCancelled(lifecycle, await p.get(id));
    const history = await p.history(id);
    expect(types(history).at(-1)).toBe('CANCEL');
    expect(eventsOf(history, 'CANCEL_DONE')).toHaveLength(0);
  });

  test.each(LIFECYCLES)('%s: a delayed job, workers running, is cancelled at once and never runs', async (lifecycle) => {
    const p = await open();
    let ran = 0;
    p.register({ name: 'job', lifecycle, handler: async () => (ran++, null) });
    p.start(FAST);
    const id = await p.enqueue('job', null, { delayMs: 60_000 });
    const job = await p.cancel(id);
    expectCancelled(lifecycle, job);
    // A job enqueued after it runs to the end: the runner has looked at the queue since.
    const other = await p.enqueue('job', null);
    await waitForState(p, other, (j) => j.terminal);
    expect(ran).toBe(1);
    expect((await p.get(id)).startedAt).toBeNull();
  });

  test.each(['uws', 'ecotaxa', 'qiskit'] as const)('%s: a running job changes state at once and its handler is signalled', async (lifecycle) => {
    const p = await open();
    const h = gatedHandler();
    p.register({ name: 'job', lifecycle, attempts: 1, handler: h.obedient });
    p.start(FAST);
    const id = await p.enqueue('job', null);
    await h.started.promise;
    expect((await p.get(id)).state).toBe(RUNNING_STATE[lifecycle]);
    const job = await p.cancel(id);
    expectCancelled(lifecycle, job); // the returned job: at once, not when the handler stops
    await waitFor(() => h.seen.signalFired && h.seen.returned, 2000, 'handler signalled and returned');
    const after = await p.get(id);
    expectCancelled(lifecycle, after);
    const history = await p.history(id);
    expect(types(history)).not.toContain('SUCCEED');
    expect(types(history)).not.toContain('FAIL');
    expect(eventsOf(history, 'CANCEL')).toHaveLength(1);
    expect(eventsOf(history, 'CANCEL')[0]!.stateBefore).toBe(RUNNING_STATE[lifecycle]);
  });

  test.each([
    ['rime', 'JOB_STATUS_CANCELLED'],
    ['synapse', 'FAILED'],
  ] as const)('%s: a running job sets the flag first and ends (CANCEL_DONE) when its handler stops', async (lifecycle, endState) => {
    const p = await open();
    const h = gatedHandler();
    p.register({ name: 'job', lifecycle, attempts: 1, handler: h.obedient });
    p.start({ ...FAST, cancelGraceMs: 10_000 });
    const id = await p.enqueue('job', null);
    await h.started.promise;
    const flagged = await p.cancel(id);
    expect(flagged.state).toBe(RUNNING_STATE[lifecycle]);
    expect(flagged.cancelRequested).toBe(true);
    expect(flagged.running).toBe(true);
    expect(flagged.terminal).toBe(false);
    const ended = await waitForState(p, id, endState);
    expect(h.seen.signalFired).toBe(true);
    expectCancelled(lifecycle, ended);
    const history = await p.history(id);
    expect(types(history).slice(-2)).toEqual(['CANCEL', 'CANCEL_DONE']);
    const [cancel] = eventsOf(history, 'CANCEL');
    expect(cancel!.stateBefore).toBe(RUNNING_STATE[lifecycle]);
    expect(cancel!.stateAfter).toBe(RUNNING_STATE[lifecycle]);
    // Ended by the handler stopping, well before the 10 s grace.
    expect(eventsOf(history, 'CANCEL_DONE')[0]!.at - cancel!.at).toBeLessThan(5000);
  });

  test.each([
    ['rime', 'JOB_STATUS_CANCELLED'],
    ['synapse', 'FAILED'],
  ] as const)('%s: a handler that ignores its signal is ended after cancelGraceMs', async (lifecycle, endState) => {
    const p = await open();
    const h = gatedHandler();
    const cancelGraceMs = LEAD_MS + 150;
    p.register({ name: 'job', lifecycle, attempts: 1, handler: h.stubborn });
    p.start({ ...FAST, cancelGraceMs });
    const id = await p.enqueue('job', null);
    await h.started.promise;
    await p.cancel(id);
    await waitFor(() => h.seen.signalFired, 1000, 'signal');
    expect((await p.get(id)).state).toBe(RUNNING_STATE[lifecycle]);
    const ended = await waitForState(p, id, endState, 3000);
    expect(h.seen.returned).toBe(false); // it was ended, not stopped
    expectCancelled(lifecycle, ended);
    const history = await p.history(id);
    const cancel = eventsOf(history, 'CANCEL')[0]!;
    const done = eventsOf(history, 'CANCEL_DONE')[0]!;
    expect(done.at - cancel.at).toBeGreaterThanOrEqual(cancelGraceMs - 2);
    // When the stubborn handler finally returns, its result changes nothing.
    h.gate.resolve('open');
    await waitFor(() => h.seen.returned, 1000, 'handler returned');
    expect((await p.get(id)).state).toBe(endState);
    expect(types(await p.history(id))).not.toContain('SUCCEED');
  });
});

describe('timeout', () => {
  test('uws: executionDuration exceeded → ABORTED (not ERROR) with a TIMEOUT event; the signal fires', async () => {
    const p = await open();
    const h = gatedHandler();
    p.register({ name: 'job', lifecycle: 'uws', executionDuration: 1, handler: h.obedient });
    p.start(FAST);
    const id = await p.enqueue('job', null);
    await h.started.promise;
    const job = await waitForState(p, id, (j) => j.terminal, 4000);
    expect(job.state).toBe('ABORTED');
    expect(job.outcome).toBe('cancelled');
    expect(h.seen.signalFired).toBe(true);
    const history = await p.history(id);
    expect(types(history)).toEqual(['RUN', 'CLAIM', 'TIMEOUT']);
    const [claim] = eventsOf(history, 'CLAIM');
    const [timeout] = eventsOf(history, 'TIMEOUT');
    expect(timeout!.at - claim!.at).toBeGreaterThanOrEqual(1000 - 5);
    expect(job.errors.at(-1)?.message).toMatch(/execution duration/);
  }, 8000);

  test.each(['ecotaxa', 'rime', 'synapse', 'qiskit'] as const)(
    '%s: executionDuration exceeded with attempts 1 → failed; the signal fires',
    async (lifecycle) => {
      const p = await open();
      const h = gatedHandler();
      p.register({ name: 'job', lifecycle, attempts: 1, executionDuration: 1, handler: h.obedient });
      p.start(FAST);
      const id = await p.enqueue('job', null);
      await h.started.promise;
      const job = await waitForState(p, id, (j) => j.terminal, 4000);
      expect(job.outcome).toBe('failed');
      expect(h.seen.signalFired).toBe(true);
      const history = await p.history(id);
      expect(types(history).at(-1)).toBe('TIMEOUT');
      expect(types(history)).not.toContain('SUCCEED');
      expect(eventsOf(history, 'TIMEOUT')[0]!.payload?.retryAt).toBeUndefined();
    },
    8000,
  );

  test('the execution duration is per attempt: a retry gets the full duration again', async () => {
    // jobtypes.ts: "Seconds an attempt may run". Attempt 1 fails after ~1300 ms, attempt 2 needs ~1000 ms:
    // each attempt is well inside 2 s (a loaded machine may fire a timer hundreds of ms late), so
    // the job must succeed; together they are well over 2 s.
    const p = await open();
    const calls: number[] = [];
    p.register({
      name: 'job',
      lifecycle: 'rime',
      attempts: 2,
      executionDuration: 2,
      backoff: { baseMs: 10, jitter: false },
      handler: async (ctx) => {
        calls.push(ctx.attempt);
        await new Promise((resolve) => setTimeout(resolve, ctx.attempt === 1 ? 1300 : 1000));
        if (ctx.attempt === 1) throw new Error('first attempt fails');
        return { ok: true };
      },
    });
    p.start(FAST);
    const id = await p.enqueue('job', null);
    const job = await waitForState(p, id, (j) => j.terminal, 8000);
    expect(calls).toEqual([1, 2]);
    expect(types(await p.history(id))).toEqual(['ADMIT', 'CLAIM', 'FAIL', 'CLAIM', 'SUCCEED']);
    expect(job.state).toBe('JOB_STATUS_SUCCEEDED');
  }, 12_000);

  test('time spent waiting for a reply does not count against the execution duration', async () => {
    // The clock jumps 5 s while the job waits in A (a slow user); the resumed run needs ~50 ms.
    let offset = 0;
    const p = await open({ clock: () => Date.now() + offset });
    p.register({
      name: 'job',
      lifecycle: 'ecotaxa',
      attempts: 1,
      executionDuration: 1,
      handler: async (ctx) => {
        const answer = await ctx.ask<number>({ q: 'go?' });
        await new Promise((resolve) => setTimeout(resolve, 50));
        return { answer };
      },
    });
    p.start(FAST);
    const id = await p.enqueue('job', null);
    await waitForState(p, id, 'A');
    offset += 5000;
    await p.reply(id, 7);
    const job = await waitForState(p, id, (j) => j.terminal, 3000);
    expect(types(await p.history(id))).toEqual(['CLAIM', 'ASK', 'REPLY', 'CLAIM', 'SUCCEED']);
    expect(job.state).toBe('F');
  });
});

describe('retry with backoff', () => {
  test('fails twice, then succeeds: CLAIM FAIL CLAIM FAIL CLAIM SUCCEED, attempts 1..3, gaps ≥ retryAt', async () => {
    const p = await open();
    const attempts: number[] = [];
    const thrownAt: number[] = [];
    p.register({
      name: 'flaky',
      lifecycle: 'ecotaxa',
      attempts: 3,
      backoff: { baseMs: 50, jitter: false },
      handler: async (ctx) => {
        attempts.push(ctx.attempt);
        if (attempts.length <= 2) {
          thrownAt.push(Date.now());
          throw new Error(`boom ${attempts.length}`);
        }
        return { ok: true };
      },
    });
    p.start(FAST);
    const id = await p.enqueue('flaky', null);
    const job = await waitForState(p, id, (j) => j.terminal, 3000);
    expect(job.state).toBe('F');
    expect(job.result).toEqual({ ok: true });
    expect(job.attempt).toBe(3);
    expect(attempts).toEqual([1, 2, 3]);
    const history = await p.history(id);
    expect(types(history)).toEqual(['CLAIM', 'FAIL', 'CLAIM', 'FAIL', 'CLAIM', 'SUCCEED']);
    const fails = eventsOf(history, 'FAIL');
    const claims = eventsOf(history, 'CLAIM');
    for (const [i, fail] of fails.entries()) {
      const retryAt = fail.payload?.retryAt as number;
      expect(typeof retryAt).toBe('number');
      // baseMs, doubling, no jitter, counted from a clock reading after the handler threw and
      // before the FAIL was stamped
      expect(retryAt).toBeGreaterThanOrEqual(thrownAt[i]! + 50 * 2 ** i);
      expect(retryAt - fail.at).toBeLessThanOrEqual(50 * 2 ** i);
      // TODO(postgres): retryAt is read before the FAIL's SAVEPOINT and row read, its stamp round trips later (retryAt - at 35 ms for a 50 ms backoff, under load)
      if (STORE === 'sqlite') expect(retryAt - fail.at).toBeGreaterThanOrEqual(50 * 2 ** i - 10);
      expect(fail.stateAfter).toBe('P'); // back to the queue
      expect(claims[i + 1]!.at).toBeGreaterThanOrEqual(retryAt);
    }
    expect(job.errors).toHaveLength(2);
    for (const [i, error] of job.errors.entries()) {
      expect(error.message).toBe(`boom ${i + 1}`);
      expect(error.stack).toContain(`boom ${i + 1}`);
      expect(error.attempt).toBe(i + 1);
    }
  });

  test('after the last attempt the job fails for good', async () => {
    const p = await open();
    let calls = 0;
    p.register({
      name: 'doomed',
      lifecycle: 'rime',
      attempts: 2,
      backoff: { baseMs: 20, jitter: false },
      handler: async () => {
        calls++;
        throw new Error('always');
      },
    });
    p.start(FAST);
    const id = await p.enqueue('doomed', null);
    const job = await waitForState(p, id, (j) => j.terminal, 3000);
    expect(job.state).toBe('JOB_STATUS_FAILED');
    expect(job.outcome).toBe('failed');
    expect(job.attempt).toBe(2);
    expect(job.errors.map((e) => e.attempt)).toEqual([1, 2]);
    const history = await p.history(id);
    expect(types(history)).toEqual(['ADMIT', 'CLAIM', 'FAIL', 'CLAIM', 'FAIL']);
    const fails = eventsOf(history, 'FAIL');
    expect(fails[0]!.payload?.retryAt).toEqual(expect.any(Number));
    expect(fails[1]!.payload?.retryAt).toBeUndefined();
    // Nothing claims it again.
    const other = await p.enqueue('doomed', null);
    await waitForState(p, other, (j) => j.terminal, 3000);
    expect(calls).toBe(4);
    expect((await p.get(id)).attempt).toBe(2);
  });

  test('ecotaxa: RESTART of an E job starts a new attempt', async () => {
    const p = await open();
    const attempts: number[] = [];
    p.register({
      name: 'job',
      lifecycle: 'ecotaxa',
      attempts: 1,
      handler: async (ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) throw new Error('first fails');
        return { second: true };
      },
    });
    p.start(FAST);
    const id = await p.enqueue('job', null);
    const failed = await waitForState(p, id, 'E');
    expect(failed.stateValue).toEqual({ E: 'error' });
    expect(failed.attempt).toBe(1);
    const restarted = await p.send(id, { type: 'RESTART' });
    expect(restarted.state).toBe('P');
    expect(restarted.progress.message).toBe('Restarting');
    const done = await waitForState(p, id, 'F');
    expect(done.attempt).toBe(2);
    expect(attempts).toEqual([1, 2]);
    expect(types(await p.history(id))).toEqual(['CLAIM', 'FAIL', 'RESTART', 'CLAIM', 'SUCCEED']);
  });

  test('uws: RUN of a HELD job starts a new attempt', async () => {
    const p = await open();
    const attempts: number[] = [];
    const first = deferred<void>();
    onCleanup(() => first.resolve());
    p.register({
      name: 'job',
      lifecycle: 'uws',
      handler: async (ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) {
          first.resolve();
          await aborted(ctx.signal);
          throw ctx.signal.reason;
        }
        return { second: true };
      },
    });
    p.start(FAST);
    const id = await p.enqueue('job', null);
    await first.promise;
    const held = await p.send(id, { type: 'HOLD' });
    expect(held.state).toBe('HELD');
    expect(held.waiting).toBe(true);
    expect(held.attempt).toBe(1);
    await p.send(id, { type: 'RUN' });
    const done = await waitForState(p, id, 'COMPLETED');
    expect(done.attempt).toBe(2);
    expect(done.result).toEqual({ second: true });
    expect(attempts).toEqual([1, 2]);
    expect(types(await p.history(id))).toEqual(['RUN', 'CLAIM', 'HOLD', 'RUN', 'CLAIM', 'SUCCEED']);
  });
});

describe('ask and reply', () => {
  test('ecotaxa: ask → A with the question; reply → P → R → F; earlier step ran once; result stored', async () => {
    const p = await open();
    let prepared = 0;
    let invocations = 0;
    p.register({
      name: 'import',
      lifecycle: 'ecotaxa',
      handler: async (ctx) => {
        invocations++;
        const base = await ctx.step('prepare', () => (prepared++, 41));
        const answer = await ctx.ask<{ n: number }>({ question: 'how many more?' }, 'Need an answer');
        return { total: base + answer.n };
      },
    });
    p.start(FAST);
    const id = await p.enqueue('import', null);
    const asking = await waitForState(p, id, 'A');
    expect(asking.waiting).toBe(true);
    expect(asking.running).toBe(false);
    expect(asking.question).toEqual({ question: 'how many more?' });
    expect(asking.progress.message).toBe('Need an answer');
    const replied = await p.reply(id, { n: 1 });
    expect(replied.state).toBe('P');
    const done = await waitForState(p, id, 'F');
    expect(done.result).toEqual({ total: 42 });
    expect(done.attempt).toBe(1); // a resume continues the attempt
    expect(done.replies).toEqual([{ n: 1 }]);
    expect(prepared).toBe(1);
    expect(invocations).toBe(2);
    const history = await p.history(id);
    expect(types(history)).toEqual(['CLAIM', 'STEP', 'ASK', 'REPLY', 'CLAIM', 'SUCCEED']);
    expect(history.map((e) => e.stateAfter)).toEqual(['P', 'R', 'R', 'A', 'P', 'R', 'F']);
  });

  test('rime (no waiting state): ask fails the attempt with a clear message', async () => {
    const p = await open();
    p.register({
      name: 'job',
      lifecycle: 'rime',
      attempts: 1,
      handler: async (ctx) => {
        await ctx.ask({ q: 1 });
        return null;
      },
    });
    p.start(FAST);
    const id = await p.enqueue('job', null);
    const job = await waitForState(p, id, (j) => j.terminal);
    expect(job.state).toBe('JOB_STATUS_FAILED');
    expect(job.errors).toHaveLength(1);
    expect(job.errors[0]!.message).toMatch(/no waiting state/);
    expect(job.errors[0]!.message).toMatch(/rime/);
    expect(types(await p.history(id))).toEqual(['ADMIT', 'CLAIM', 'FAIL']);
  });
});

describe('idempotency keys', () => {
  test('a second enqueue with the same key returns the same id; one row', async () => {
    const p = await open();
    p.register({ name: 'job', lifecycle: 'ecotaxa', handler: async () => null });
    p.register({ name: 'other', lifecycle: 'ecotaxa', handler: async () => null });
    const a = await p.enqueue('job', { n: 1 }, { idempotencyKey: 'k1' });
    const b = await p.enqueue('job', { n: 2 }, { idempotencyKey: 'k1' });
    expect(b).toBe(a);
    expect(await countRows(p)).toBe(1);
    expect((await p.get(a)).params).toEqual({ n: 1 });
    expect(await p.history(a)).toHaveLength(1); // no second CREATE
    // The key is per type.
    const c = await p.enqueue('other', null, { idempotencyKey: 'k1' });
    expect(c).not.toBe(a);
    // Also within one enqueueMany.
    const [d, e] = await p.enqueueMany('job', [{ params: 1, idempotencyKey: 'k2' }, { params: 2, idempotencyKey: 'k2' }]);
    expect(e).toBe(d);
    expect(await countRows(p)).toBe(3);
  });
});

describe('progress', () => {
  test('{current,total} form: rate-limited, and the last figure is stored before SUCCEED', async () => {
    const p = await open();
    const reports = 50;
    p.register({
      name: 'job',
      lifecycle: 'ecotaxa',
      handler: async (ctx) => {
        for (let i = 1; i <= reports; i++) await ctx.progress({ current: i, total: reports }, `item ${i}`);
        return null;
      },
    });
    p.start({ ...FAST, progressIntervalMs: 10_000 });
    const id = await p.enqueue('job', null);
    await waitForState(p, id, 'F');
    const history = await p.history(id);
    const progress = eventsOf(history, 'PROGRESS');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThan(reports);
    const i = history.findIndex((e) => e.type === 'SUCCEED');
    const beforeSucceed = history[i - 1]!;
    expect(beforeSucceed.type).toBe('PROGRESS');
    expect(beforeSucceed.payload).toMatchObject({ current: reports, total: reports, message: `item ${reports}` });
  });

  test('percent form: the last figure reaches storage; many calls → few PROGRESS events', async () => {
    const p = await open();
    const seen: number[] = [];
    p.on('job:progress', ({ job }) => seen.push(job.progress.percent));
    p.register({
      name: 'job',
      lifecycle: 'uws',
      handler: async (ctx) => {
        for (let i = 1; i <= 60; i++) {
          await ctx.progress(i);
          if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 30));
        }
        return null;
      },
    });
    p.start({ ...FAST, progressIntervalMs: 25 });
    const id = await p.enqueue('job', null);
    const job = await waitForState(p, id, 'COMPLETED');
    const history = await p.history(id);
    const progress = eventsOf(history, 'PROGRESS');
    expect(progress.length).toBeLessThan(60);
    expect(progress.at(-1)!.payload).toMatchObject({ percent: 60 });
    expect(history.at(-2)!.type).toBe('PROGRESS');
    expect(seen.at(-1)).toBe(60);
    // Percentages never go backwards within an attempt.
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(job.progress.percent).toBe(100); // completion forces 100
  });

  test('a job failing after reporting keeps the last reported figures in its row', async () => {
    const p = await open();
    p.register({
      name: 'job',
      lifecycle: 'rime',
      attempts: 1,
      handler: async (ctx) => {
        await ctx.progress(10, 'starting');
        await ctx.progress({ current: 3, total: 8 }, 'three of eight');
        throw new Error('then it broke');
      },
    });
    p.start({ ...FAST, progressIntervalMs: 10_000 });
    const id = await p.enqueue('job', null);
    const job = await waitForState(p, id, 'JOB_STATUS_FAILED');
    expect(job.progress).toEqual({ percent: 37.5, message: 'three of eight', current: 3, total: 8 });
    const history = await p.history(id);
    expect(types(history).slice(-2)).toEqual(['PROGRESS', 'FAIL']);
  });
});

describe('events', () => {
  test('job:transition and job:ended deliver typed payloads; a throwing listener does not break the engine', async () => {
    const p = await open();
    const transitions: Array<PhaselineEventMap['job:transition']> = [];
    const ended: Job[] = [];
    const errors: Array<PhaselineEventMap['error']> = [];
    p.on('job:transition', () => {
      throw new Error('listener bug');
    });
    p.on('job:transition', (payload) => {
      expectTypeOf(payload.job).toEqualTypeOf<Job>();
      expectTypeOf(payload.event).toEqualTypeOf<JobEvent>();
      transitions.push(payload);
    });
    p.on('job:ended', ({ job }) => {
      expectTypeOf(job).toEqualTypeOf<Job>();
      ended.push(job);
    });
    p.on('error', (payload) => errors.push(payload));
    p.register({ name: 'job', lifecycle: 'ecotaxa', handler: async () => ({ answer: 42 }) });
    p.start(FAST);
    const id = await p.enqueue('job', { x: 1 });
    await waitFor(() => ended.length === 1, 2000, 'job:ended');
    expect(transitions.map((t) => t.event.type)).toEqual(['CREATE', 'CLAIM', 'SUCCEED']);
    for (const { job, event } of transitions) {
      expect(job.id).toBe(id);
      expect(event.jobId).toBe(id);
      expect(job.state).toBe(event.stateAfter);
      expect(job.version).toBe(event.seq);
    }
    expect(ended[0]).toMatchObject({ id, state: 'F', outcome: 'succeeded', terminal: true, result: { answer: 42 } });
    expect(errors.length).toBe(3); // one per transition
    expect(errors[0]!.where).toMatch(/listener of job:transition/);
    expect((errors[0]!.error as Error).message).toBe('listener bug');
    // The engine still works: a second job runs to the end.
    const second = await p.enqueue('job', null);
    await waitForState(p, second, 'F');
  });
});

describe('claim order', () => {
  test('priority first, then age', async () => {
    const p = await open();
    const order: string[] = [];
    p.register({
      name: 'job',
      lifecycle: 'ecotaxa',
      handler: async (ctx) => {
        order.push(ctx.params as string);
        return null;
      },
    });
    const plan: Array<[string, number]> = [['a', 0], ['b', 5], ['c', 0], ['d', 10], ['e', 5], ['f', -1], ['g', 10]];
    const ids: number[] = [];
    for (const [name, priority] of plan) ids.push(await p.enqueue('job', name, { priority }));
    p.start({ ...FAST, concurrency: 1 });
    for (const id of ids) await waitForState(p, id, 'F');
    expect(order).toEqual(['d', 'g', 'b', 'e', 'a', 'c', 'f']);
  });
});

describe('stop', () => {
  test.each([
    ['uws', 'SUSPENDED', 'COMPLETED'],
    ['ecotaxa', 'P', 'F'],
  ] as const)('%s: stop(grace) with a handler ignoring its signal releases the job (→ %s); another Phaseline completes it', async (lifecycle, releasedState, doneState) => {
    const db = await freshDatabase();
    const first = createPhaseline({ db });
    const h = gatedHandler();
    let second: ReturnType<typeof createPhaseline> | undefined;
    try {
      first.register({ name: 'job', lifecycle, handler: h.stubborn });
      first.start(FAST);
      const id = await first.enqueue('job', { k: 1 });
      await h.started.promise;
      const t0 = Date.now();
      await first.stop(50);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(h.seen.signalFired).toBe(true);
      expect(h.seen.returned).toBe(false);
      const released = await first.get(id);
      expect(released.state).toBe(releasedState);
      expect(released.queued).toBe(true);
      expect(released.running).toBe(false);
      expect(released.lease).toBeNull();
      expect(released.attempt).toBe(1);
      expect(types(await first.history(id)).at(-1)).toBe('RELEASE');
      await first.close();

      second = createPhaseline({ db });
      const attempts: number[] = [];
      second.register({ name: 'job', lifecycle, handler: async (ctx) => (attempts.push(ctx.attempt), { resumed: true }) });
      second.start(FAST);
      const done = await waitForState(second, id, doneState);
      expect(done.result).toEqual({ resumed: true });
      expect(attempts).toEqual([1]); // a release does not spend an attempt
      expect(done.attempt).toBe(1);
      const history = types(await second.history(id));
      expect(history.slice(-4)).toEqual(['CLAIM', 'RELEASE', 'CLAIM', 'SUCCEED']);
      // The first handler returning late changes nothing.
      h.gate.resolve('open');
      await waitFor(() => h.seen.returned, 1000, 'late return');
      expect((await second.get(id)).state).toBe(doneState);
    } finally {
      h.gate.resolve('open');
      await first.close(0);
      await second?.close(0);
    }
  });
});

describe('delayed jobs', () => {
  test('delayMs is respected: not claimed before runAfter', async () => {
    const p = await open();
    const startedAt = new Map<string, number>();
    p.register({
      name: 'job',
      lifecycle: 'synapse',
      handler: async (ctx) => {
        startedAt.set(ctx.params as string, Date.now());
        return null;
      },
    });
    p.start(FAST);
    const delayed = await p.enqueue('job', 'delayed', { delayMs: LEAD_MS + 300 });
    const now = await p.enqueue('job', 'now');
    const runAfter = (await p.get(delayed)).runAfter;
    expect(runAfter).toBeGreaterThan(Date.now());
    await waitForState(p, now, 'COMPLETE');
    expect((await p.get(delayed)).state).toBe('PROCESSING');
    const done = await waitForState(p, delayed, 'COMPLETE', 3000);
    expect(startedAt.get('delayed')!).toBeGreaterThanOrEqual(runAfter);
    expect(startedAt.get('delayed')!).toBeGreaterThan(startedAt.get('now')!);
    const claim = eventsOf(await p.history(delayed), 'CLAIM')[0]!;
    expect(claim.at).toBeGreaterThanOrEqual(runAfter);
    expect(done.runAfter).toBe(0);
  });

  test('runAt is respected too', async () => {
    const p = await open();
    p.register({ name: 'job', lifecycle: 'qiskit', handler: async () => null });
    p.start(FAST);
    const runAt = Date.now() + 200;
    const id = await p.enqueue('job', null, { runAt });
    const done = await waitForState(p, id, 'DONE', 3000);
    expect(eventsOf(await p.history(id), 'CLAIM')[0]!.at).toBeGreaterThanOrEqual(runAt);
    expect(done.startedAt!).toBeGreaterThanOrEqual(runAt);
  });
});

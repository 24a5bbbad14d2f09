/**
 * Durable sleep (`ctx.sleep`, `ctx.sleepUntil`) as a host app sees it, on a real database (a
 * SQLite file, or PostgreSQL in the postgres project): the attempt ends and frees its slot, the job
 * keeps its lifecycle's running state, a claim takes it up at the wake instant without running its
 * finished steps again, and bad input is refused with nothing written.
 */
import { describe, expect, test } from 'vitest';
import type { Json } from '../machines/common.ts';
import type { HandlerContext } from '../src/runner/context.ts';
import { isPhaselineError } from '../src/errors.ts';
import { defineLifecycle } from '../machines/define.ts';
import {
  FAST, LEAD_MS, deferred, open, rawHistory, rawRow, types, waitFor, waitForState,
} from './helpers/behaviour-harness.ts';

type LifecycleName = 'uws' | 'ecotaxa' | 'rime' | 'synapse' | 'qiskit';
const RUNNING_STATE: Record<LifecycleName, string> = {
  uws: 'EXECUTING', ecotaxa: 'R', rime: 'JOB_STATUS_RUNNING', synapse: 'PROCESSING', qiskit: 'RUNNING',
};
const SUCCESS_STATE: Record<LifecycleName, string> = {
  uws: 'COMPLETED', ecotaxa: 'F', rime: 'JOB_STATUS_SUCCEEDED', synapse: 'COMPLETE', qiskit: 'DONE',
};
const SLEEP_MS = 300 + LEAD_MS;

describe('durable sleep', () => {
  for (const lifecycle of Object.keys(RUNNING_STATE) as LifecycleName[]) {
    test(`${lifecycle}: parks in ${RUNNING_STATE[lifecycle]} without a lease, wakes at the instant, steps not rerun`, async () => {
      const p = await open();
      const runs: string[] = [];
      p.register({
        name: `nap.${lifecycle}`,
        lifecycle,
        handler: async (ctx) => {
          runs.push('enter');
          const before = await ctx.step('before', () => {
            runs.push('before');
            return 1;
          });
          await ctx.sleep(SLEEP_MS);
          runs.push('woke');
          const after = await ctx.step('after', () => {
            runs.push('after');
            return 2;
          });
          return { before, after };
        },
      });
      p.start({ ...FAST, concurrency: 1 });
      const enqueuedAt = Date.now();
      const id = await p.enqueue(`nap.${lifecycle}`, {});
      const asleep = await waitForState(p, id, (job) => job.parked !== null);
      expect(asleep.state).toBe(RUNNING_STATE[lifecycle]);
      expect(asleep.running).toBe(false);
      expect(asleep.lease).toBeNull();
      expect(asleep.queued).toBe(true); // claimable from its wake instant on
      expect(asleep.parked?.wakeAt).toBe(asleep.waits[0]?.kind === 'sleep' ? asleep.waits[0].until : -1);
      const row = await rawRow(p, id);
      expect(row!.running).toBe(0);
      expect(row!.lease_id).toBeNull();
      expect(Number(row!.run_after)).toBe(asleep.parked!.wakeAt);
      const done = await waitForState(p, id, SUCCESS_STATE[lifecycle], 5000 + SLEEP_MS);
      expect(done.result).toEqual({ before: 1, after: 2 });
      expect(Date.now() - enqueuedAt).toBeGreaterThanOrEqual(SLEEP_MS);
      expect(runs).toEqual(['enter', 'before', 'enter', 'woke', 'after']);
      const history = await p.history(id);
      const sleep = history.find((e) => e.type === 'SLEEP')!;
      const wake = history.find((e) => e.type === 'WAKE')!;
      expect(wake.at).toBeGreaterThanOrEqual(sleep.payload!.until as number);
      expect(sleep.stateBefore).toBe(RUNNING_STATE[lifecycle]);
      expect(sleep.stateAfter).toBe(RUNNING_STATE[lifecycle]);
      expect(types(history).filter((t) => t === 'SLEEP' || t === 'WAKE')).toEqual(['SLEEP', 'WAKE']);
      expect(done.attempt).toBe(1);
      expect((await p.replay(id)).divergences).toEqual([]);
    });
  }

  test('a sleeping job frees its slot: with concurrency 1 another job runs meanwhile', async () => {
    const p = await open();
    const order: string[] = [];
    p.register({
      name: 'sleeper',
      lifecycle: 'rime',
      handler: async (ctx) => {
        order.push('sleeper');
        await ctx.sleep(SLEEP_MS);
        order.push('sleeper woke');
        return null;
      },
    });
    p.register({ name: 'quick', lifecycle: 'rime', handler: async () => void order.push('quick') });
    p.start({ ...FAST, concurrency: 1 });
    const sleeper = await p.enqueue('sleeper', {});
    await waitForState(p, sleeper, (job) => job.parked !== null);
    const quick = await p.enqueue('quick', {});
    await waitForState(p, quick, 'JOB_STATUS_SUCCEEDED');
    await waitForState(p, sleeper, 'JOB_STATUS_SUCCEEDED', 5000 + SLEEP_MS);
    expect(order).toEqual(['sleeper', 'quick', 'sleeper', 'sleeper woke']); // re-entered from the top at the wake
  });

  test('a lifecycle of your own (defineLifecycle) sleeps and waits with no change of its own; one naming SLEEP is refused', async () => {
    const apply = { actions: 'apply' } as const;
    const review = defineLifecycle({
      name: 'review', version: 1, initial: 'queued',
      states: {
        queued: { tags: ['queued'], on: { CLAIM: { target: 'reviewing', ...apply } } },
        reviewing: {
          tags: ['running'],
          on: {
            PROGRESS: apply, STEP: apply, SUCCEED: { target: 'approved', ...apply },
            FAIL: [{ guard: 'willRetry', target: 'queued', ...apply }, { target: 'rejected', ...apply }],
            LEASE_LOST: [{ guard: 'willRetry', target: 'queued', ...apply }, { target: 'rejected', ...apply }],
            RELEASE: { target: 'queued', ...apply },
          },
        },
        approved: { type: 'final', tags: ['terminal', 'succeeded'] },
        rejected: { type: 'final', tags: ['terminal', 'failed'] },
      },
    });
    const p = await open({ lifecycles: [review] });
    p.register({
      name: 'review.doc',
      lifecycle: 'review',
      handler: async (ctx) => {
        await ctx.sleep(50);
        return ctx.waitFor('verdict');
      },
    });
    p.start({ ...FAST });
    const id = await p.enqueue('review.doc', {});
    const waiting = await waitForState(p, id, (job) => job.parked?.signal === 'verdict', 5000);
    expect(waiting.state).toBe('reviewing');
    await p.signal(id, 'verdict', 'approved');
    expect((await waitForState(p, id, 'approved', 5000)).result).toBe('approved');
    expect((await p.replay(id)).divergences).toEqual([]);
    const own = defineLifecycle({
      name: 'napper', version: 1, initial: 'queued',
      states: {
        queued: { tags: ['queued'], on: { CLAIM: { target: 'done', actions: 'apply' }, SLEEP: { actions: 'apply' } } },
        done: { type: 'final', tags: ['terminal', 'succeeded'] },
      },
    });
    await expect(open({ lifecycles: [own] })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/SLEEP.*engine's own/) });
  });

  test('sleepUntil a past instant returns at once; a second sleep after waking parks again', async () => {
    const p = await open();
    p.register({
      name: 'twice',
      lifecycle: 'uws',
      handler: async (ctx) => {
        await ctx.sleepUntil(new Date(0));
        await ctx.sleep(50);
        await ctx.sleep(50);
        return 'ok';
      },
    });
    p.start({ ...FAST });
    const id = await p.enqueue('twice', {});
    const done = await waitForState(p, id, 'COMPLETED', 5000);
    expect(done.waits.map((w) => w.kind)).toEqual(['sleep', 'sleep', 'sleep']);
    const parkEvents = types(await p.history(id)).filter((t) => t === 'SLEEP' || t === 'WAKE');
    // The past instant parks nothing (a SLEEP that records it, no WAKE); each later sleep parks once.
    expect(parkEvents).toEqual(['SLEEP', 'SLEEP', 'WAKE', 'SLEEP', 'WAKE']);
  });

  test('bad durations and calls after the attempt ended are refused, nothing written', async () => {
    const p = await open();
    const seen: string[] = [];
    const later = deferred<HandlerContext<Json>>();
    p.register({
      name: 'bad',
      lifecycle: 'uws',
      handler: async (ctx) => {
        for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
          try {
            await ctx.sleep(ms);
            seen.push('slept');
          } catch (error) {
            seen.push(isPhaselineError(error, 'INVALID_INPUT') ? 'INVALID_INPUT' : String(error));
          }
        }
        try {
          await ctx.sleepUntil(new Date(Number.NaN));
        } catch (error) {
          seen.push(isPhaselineError(error, 'INVALID_INPUT') ? 'INVALID_INPUT' : String(error));
        }
        later.resolve(ctx);
        return 'done';
      },
    });
    p.start({ ...FAST });
    const id = await p.enqueue('bad', {});
    const done = await waitForState(p, id, 'COMPLETED', 5000);
    expect(seen).toEqual(Array(5).fill('INVALID_INPUT'));
    const rowBefore = await rawRow(p, id);
    const historyBefore = await rawHistory(p, id);
    const ctx = await later.promise;
    await expect(ctx.sleep(10)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(ctx.waitFor('x')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await rawRow(p, id)).toEqual(rowBefore);
    expect(await rawHistory(p, id)).toEqual(historyBefore);
    expect(types(await p.history(id))).not.toContain('SLEEP');
    expect(done.waits).toEqual([]);
  });

  test('send() refuses the engine\'s own parking events', async () => {
    const p = await open();
    p.register({ name: 'idle', lifecycle: 'uws', handler: async () => null });
    const id = await p.enqueue('idle', {});
    const before = await rawRow(p, id);
    for (const type of ['SLEEP', 'WAIT', 'WAKE']) {
      await expect(p.send(id, { type, until: 1, index: 0, signal: 'x' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
    expect(await rawRow(p, id)).toEqual(before);
  });

  test('cancelling a sleeping job ends it as the lifecycle says, without waiting for the wake instant', async () => {
    for (const lifecycle of ['rime', 'uws', 'synapse'] as const) {
      const p = await open();
      let woke = false;
      p.register({
        name: `long.${lifecycle}`,
        lifecycle,
        handler: async (ctx) => {
          await ctx.sleep(60_000);
          woke = true;
          return null;
        },
      });
      p.start({ ...FAST });
      const id = await p.enqueue(`long.${lifecycle}`, {});
      await waitForState(p, id, (job) => job.parked !== null);
      await p.cancel(id);
      const ended = await waitForState(p, id, (job) => job.terminal, 5000);
      expect(ended.outcome).toBe('cancelled');
      expect(woke).toBe(false);
      expect((await p.replay(id)).divergences).toEqual([]);
      await p.close(0);
    }
  });

  test('a sleep of a job this process parked starts close to its instant (the runner arms a timer)', async () => {
    const p = await open();
    p.register({ name: 'punctual', lifecycle: 'rime', handler: async (ctx) => { await ctx.sleep(200); return null; } });
    // A long poll: only the wake timer can take the job up in time.
    p.start({ ...FAST, pollIntervalMs: 60_000 });
    const id = await p.enqueue('punctual', {});
    await waitFor(async () => ((await p.get(id)).terminal ? true : null), 5000 + LEAD_MS, 'job done');
    const history = await p.history(id);
    const sleep = history.find((e) => e.type === 'SLEEP')!;
    const wake = history.find((e) => e.type === 'WAKE')!;
    expect(wake.at - (sleep.payload!.until as number)).toBeLessThan(2000 + LEAD_MS);
  });
});

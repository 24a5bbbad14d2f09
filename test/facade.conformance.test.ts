/**
 * The facade end to end on the store of the project (test/support/stores.ts): a fresh database per
 * test, workers, replay. The first file of the conformance suite that runs on both stores.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { createPhaseline, type Phaseline } from '../src/phaseline.ts';
import { waitFor } from './helpers/wait.ts';
import { STORE_TAG, freshDatabase } from './support/stores.ts';

const opened: Phaseline[] = [];
afterEach(async () => {
  for (const p of opened.splice(0)) await p.close(0);
});

async function open(): Promise<Phaseline> {
  const p = createPhaseline({ db: await freshDatabase() });
  opened.push(p);
  await p.ready();
  return p;
}

describe(`the facade ${STORE_TAG}`, () => {
  test('each test gets an empty database', async () => {
    const p = await open();
    expect(await p.list()).toEqual([]);
    p.register({ name: 'noop', lifecycle: 'rime', handler: async () => null });
    await p.enqueue('noop', null);
    expect(await p.list()).toHaveLength(1);
    const q = await open();
    expect(await q.list()).toEqual([]);
  });

  test('200 jobs at concurrency 8: each succeeds once, history complete, replay 0 diverged', async () => {
    const p = await open();
    const runs = new Map<number, number>();
    p.register({
      name: 'count',
      lifecycle: 'rime',
      handler: async (ctx) => {
        runs.set(ctx.job.id, (runs.get(ctx.job.id) ?? 0) + 1);
        await ctx.progress({ current: 1, total: 2 });
        return { id: ctx.job.id };
      },
    });
    const ids = await p.enqueueMany('count', Array.from({ length: 200 }, (_, i) => ({ params: { i } })));
    p.start({ concurrency: 8, pollIntervalMs: 20 });
    await waitFor(async () => ((await p.list({ states: ['JOB_STATUS_SUCCEEDED'] })).length === 200 ? true : null), 20_000, '200 jobs to succeed');
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(runs.size).toBe(200);
    for (const id of [ids[0]!, ids[199]!]) {
      expect((await p.history(id)).map((e) => e.type)).toEqual(['CREATE', 'ADMIT', 'CLAIM', 'PROGRESS', 'SUCCEED']);
    }
    expect(await p.replayAll()).toMatchObject({ jobs: 200, diverged: 0 });
  });
});

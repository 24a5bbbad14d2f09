/**
 * Child jobs (`ctx.spawn`, `ctx.join`) on a real database (a SQLite file, or PostgreSQL in the
 * postgres project): a spawn is a durable step (a re-entered parent makes no second child), a
 * child's ending signals its parent in the same transaction, and the join returns how each ended,
 * whether the child ended before the parent waited or after.
 */
import { describe, expect, test } from 'vitest';
import type { ChildOutcome } from '../src/runner/context.ts';
import { FAST, deferred, open, rawRow, types, waitForState } from './helpers/behaviour-harness.ts';

describe('child jobs', () => {
  test('a parent spawns children of other lifecycles, parks in join, and gets each outcome once', async () => {
    const p = await open();
    let entries = 0;
    // The children wait until the parent is parked in its join, so that the join does park.
    const gate = deferred<void>();
    p.register({
      name: 'child.ok',
      lifecycle: 'rime',
      handler: async (ctx) => {
        await gate.promise;
        return { doubled: (ctx.params as { n: number }).n * 2 };
      },
    });
    p.register({ name: 'child.fails', lifecycle: 'uws', attempts: 1, handler: async () => { throw new Error('child broke'); } });
    p.register({
      name: 'parent',
      lifecycle: 'ecotaxa',
      handler: async (ctx) => {
        entries++;
        const a = await ctx.spawn('a', 'child.ok', { n: 1 });
        const b = await ctx.spawn('b', 'child.ok', { n: 2 });
        const c = await ctx.spawn('c', 'child.fails', null);
        const outcomes = await ctx.join([a, b, c]);
        return outcomes.map((o: ChildOutcome) => ({ outcome: o.outcome, result: o.result, state: o.state }));
      },
    });
    p.start({ ...FAST, concurrency: 4 });
    const id = await p.enqueue('parent', null);
    const parked = await waitForState(p, id, (job) => job.parked !== null, 10_000);
    expect(parked.state).toBe('R');
    gate.resolve();
    const done = await waitForState(p, id, 'F', 10_000);
    expect(done.result).toEqual([
      { outcome: 'succeeded', result: { doubled: 2 }, state: 'JOB_STATUS_SUCCEEDED' },
      { outcome: 'succeeded', result: { doubled: 4 }, state: 'JOB_STATUS_SUCCEEDED' },
      { outcome: 'failed', result: null, state: 'ERROR' },
    ]);
    const children = [...(await p.list({ type: 'child.ok' })), ...(await p.list({ type: 'child.fails' }))];
    expect(children.map((c) => c.idempotencyKey).sort()).toEqual([`child:${id}:a`, `child:${id}:b`, `child:${id}:c`]);
    expect(entries).toBeGreaterThanOrEqual(2); // re-entered after parking, and still three children
    const history = await p.history(id);
    const signals = history.filter((e) => e.type === 'SIGNAL');
    expect(signals.map((e) => e.actor).sort()).toEqual(children.map((c) => `child/${c.id}`).sort());
    expect(types(history)).toContain('WAIT');
    expect((await p.replay(id)).divergences).toEqual([]);
    for (const child of children) expect((await p.replay(child.id)).divergences).toEqual([]);
  });

  test('a child that ends before the parent joins is not missed: the join takes its kept signal without parking', async () => {
    const p = await open();
    const childDone = deferred<void>();
    p.register({ name: 'fast.child', lifecycle: 'synapse', handler: async () => 'quick' });
    p.register({
      name: 'slow.parent',
      lifecycle: 'rime',
      handler: async (ctx) => {
        const child = await ctx.spawn('only', 'fast.child', null);
        await childDone.promise;
        return (await ctx.join([child]))[0]!.result;
      },
    });
    p.on('job:ended', ({ job }) => {
      if (job.type === 'fast.child') childDone.resolve();
    });
    p.start({ ...FAST, concurrency: 2 });
    const id = await p.enqueue('slow.parent', null);
    const done = await waitForState(p, id, 'JOB_STATUS_SUCCEEDED', 10_000);
    expect(done.result).toBe('quick');
    const kinds = types(await p.history(id)).filter((t) => ['SIGNAL', 'WAIT', 'WAKE'].includes(t));
    expect(kinds).toEqual(['SIGNAL', 'WAIT']);
  });

  test('reserved child keys and unknown child types are refused; nothing is created', async () => {
    const p = await open();
    p.register({ name: 'plain', lifecycle: 'rime', handler: async () => null });
    await expect(p.enqueue('plain', null, { idempotencyKey: 'child:1:x' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    let seen: unknown = null;
    p.register({
      name: 'bad.parent',
      lifecycle: 'rime',
      attempts: 1,
      handler: async (ctx) => {
        try {
          await ctx.spawn('x', 'no-such-type', null);
        } catch (error) {
          seen = (error as { code?: string }).code;
        }
        return null;
      },
    });
    p.start({ ...FAST });
    const id = await p.enqueue('bad.parent', null);
    await waitForState(p, id, 'JOB_STATUS_SUCCEEDED', 5000);
    expect(seen).toBe('UNKNOWN_JOB_TYPE');
    expect((await p.list()).map((j) => j.id)).toEqual([id]);
    expect(await rawRow(p, id + 1)).toBeUndefined();
  });
});

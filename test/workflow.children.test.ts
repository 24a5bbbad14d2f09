/**
 * Child jobs (`ctx.spawn`, `ctx.join`) on a real database (a SQLite file, or PostgreSQL in the
 * postgres project): a spawn is a durable step (a re-entered parent makes no second child), a
 * child's ending signals its parent in the same transaction, and the join returns how each ended,
 * whether the child ended before the parent waited or after.
 */
import { describe, expect, test } from 'vitest';
import type { ChildOutcome } from '../src/runner/context.ts';
import { engineOf } from '../src/internal.ts';
import { STORE } from './support/stores.ts';
import { FAST, deferred, onCleanup, open, rawRow, types, waitForState } from './helpers/behaviour-harness.ts';

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

  test('a child deleted before it ends releases its parent from the join, with outcome null', async () => {
    const p = await open();
    const gate = deferred<void>();
    onCleanup(() => gate.resolve());
    p.register({ name: 'child.slow', lifecycle: 'rime', handler: async () => { await gate.promise; return 1; } });
    p.register({
      name: 'parent.deleted',
      lifecycle: 'rime',
      handler: async (ctx) => {
        const child = await ctx.spawn('only', 'child.slow', null);
        return (await ctx.join([child])).map((o: ChildOutcome) => o.outcome);
      },
    });
    p.start({ ...FAST, concurrency: 2 });
    const id = await p.enqueue('parent.deleted', null);
    await waitForState(p, id, (job) => job.parked !== null, 10_000);
    const [child] = await p.list({ type: 'child.slow' });
    await p.delete(child!.id);
    const done = await waitForState(p, id, 'JOB_STATUS_SUCCEEDED', 10_000);
    expect(done.result).toEqual([null]);
    expect((await p.history(id)).filter((e) => e.type === 'SIGNAL').map((e) => e.actor)).toEqual([`child/${child!.id}`]);
    expect((await p.replay(id)).divergences).toEqual([]);
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

  test('parent and child name each other: job.parentId, job.children, the child\'s CREATE key and the parent\'s spawn STEP', async () => {
    const p = await open();
    p.register({ name: 'leaf', lifecycle: 'rime', handler: async (ctx) => ctx.params });
    p.register({
      name: 'root',
      lifecycle: 'uws',
      handler: async (ctx) => {
        const a = await ctx.spawn('a', 'leaf', 1);
        const b = await ctx.spawn('b', { name: 'leaf' }, 2, { cancelWithParent: false });
        return (await ctx.join([a, b])).map((o) => o.result);
      },
    });
    p.start({ ...FAST, concurrency: 3 });
    const id = await p.enqueue('root', null);
    const done = await waitForState(p, id, 'COMPLETED', 10_000);
    expect(done.result).toEqual([1, 2]);
    expect(done.parentId).toBeNull();
    expect(done.children.map((c) => c.cancelWithParent)).toEqual([true, false]);
    const [a, b] = done.children.map((c) => c.id) as [number, number];
    for (const [child, name] of [[a, 'a'], [b, 'b']] as const) {
      const job = await p.get(child);
      expect(job.parentId).toBe(id);
      expect(job.children).toEqual([]);
      const create = (await p.history(child))[0]!;
      expect(create.type).toBe('CREATE');
      expect((create.payload as { idempotencyKey: string }).idempotencyKey).toBe(`child:${id}:${name}`);
    }
    const steps = (await p.history(id)).filter((e) => e.type === 'STEP').map((e) => e.payload);
    expect(steps).toEqual([
      { name: 'spawn:a', result: a },
      { name: 'spawn:b', result: { id: b, cancelWithParent: false } },
    ]);
    expect(done.steps).toEqual({ 'spawn:a': a, 'spawn:b': { id: b, cancelWithParent: false } });
    for (const job of [id, a, b]) expect((await p.replay(job)).divergences).toEqual([]);
  });

  test('cancelling a parent cancels its unfinished children (and theirs) in the same transaction, each by its own CANCEL; a detached child and a finished one stay', async () => {
    const p = await open();
    const release = deferred<void>();
    onCleanup(() => release.resolve());
    // A child that runs until cancelled (its signal), one that has finished, one detached.
    const untilCancelled = async (ctx: { signal: AbortSignal }) => {
      await Promise.race([new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)), release.promise]);
      return null;
    };
    p.register({ name: 'runs', lifecycle: 'rime', handler: untilCancelled });
    p.register({ name: 'quick', lifecycle: 'synapse', handler: async () => 'done' });
    p.register({
      name: 'middle',
      lifecycle: 'ecotaxa',
      handler: async (ctx) => {
        const grandchild = await ctx.spawn('g', 'runs', null);
        return ctx.join([grandchild]);
      },
    });
    p.register({
      name: 'top',
      lifecycle: 'uws',
      handler: async (ctx) => {
        const quick = await ctx.spawn('quick', 'quick', null);
        await ctx.join([quick]);
        const runs = await ctx.spawn('runs', 'runs', null);
        const middle = await ctx.spawn('middle', 'middle', null);
        const detached = await ctx.spawn('detached', 'runs', null, { cancelWithParent: false });
        return ctx.join([runs, middle, detached]);
      },
    });
    p.start({ ...FAST, concurrency: 8 });
    const id = await p.enqueue('top', null);
    const parked = await waitForState(p, id, (job) => job.children.length === 4 && job.parked !== null, 10_000);
    const [quick, runs, middle, detached] = parked.children.map((c) => c.id) as [number, number, number, number];
    const grandchild = (await waitForState(p, middle, (job) => job.children.length === 1 && job.parked !== null, 10_000)).children[0]!.id;
    await waitForState(p, grandchild, (job) => job.running, 10_000);
    await waitForState(p, runs, (job) => job.running, 10_000);
    await waitForState(p, detached, (job) => job.running, 10_000);

    await p.cancel(id);
    // Written with the parent's cancellation: asked of every unfinished descendant at once.
    for (const child of [runs, middle, grandchild]) {
      const job = await p.get(child);
      expect(job.cancelRequested || job.outcome === 'cancelled').toBe(true);
      const cancels = (await p.history(child)).filter((e) => e.type === 'CANCEL');
      expect(cancels).toHaveLength(1);
    }
    expect((await p.history(runs)).find((e) => e.type === 'CANCEL')!.actor).toBe(`parent/${id}`);
    expect((await p.history(grandchild)).find((e) => e.type === 'CANCEL')!.actor).toBe(`parent/${middle}`);
    expect((await p.get(detached)).cancelRequested).toBe(false);
    expect((await p.history(quick)).some((e) => e.type === 'CANCEL')).toBe(false);

    await waitForState(p, id, (job) => job.terminal, 10_000);
    for (const child of [runs, middle, grandchild]) expect((await waitForState(p, child, (job) => job.terminal, 10_000)).outcome).toBe('cancelled');
    expect((await p.get(id)).outcome).toBe('cancelled');
    expect((await p.get(quick)).outcome).toBe('succeeded');
    expect((await p.get(detached)).terminal).toBe(false);
    release.resolve();
    await waitForState(p, detached, (job) => job.terminal, 10_000);
    for (const job of [id, quick, runs, middle, grandchild, detached]) expect((await p.replay(job)).divergences).toEqual([]);
  });

  test('a lifecycle\'s own cancelling event (UWS ABORT) cancels the children too', async () => {
    const p = await open();
    p.register({ name: 'runs2', lifecycle: 'rime', handler: async (ctx) => { await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)); return null; } });
    p.register({ name: 'top2', lifecycle: 'uws', handler: async (ctx) => ctx.join([await ctx.spawn('r', 'runs2', null)]) });
    p.start({ ...FAST, concurrency: 3 });
    const id = await p.enqueue('top2', null);
    const child = (await waitForState(p, id, (job) => job.children.length === 1 && job.parked !== null, 10_000)).children[0]!.id;
    await waitForState(p, child, (job) => job.running, 10_000);
    await p.send(id, { type: 'ABORT' }, { lifecycle: 'uws' });
    expect((await p.get(child)).cancelRequested).toBe(true);
    expect((await waitForState(p, child, (job) => job.terminal, 10_000)).outcome).toBe('cancelled');
    expect((await waitForState(p, id, (job) => job.terminal, 10_000)).state).toBe('ABORTED');
    expect((await p.history(child)).filter((e) => e.type === 'CANCEL')).toHaveLength(1);
  });

  test('a spawn option of the wrong kind is refused before anything is written', async () => {
    const p = await open();
    let seen: unknown = null;
    p.register({ name: 'leaf2', lifecycle: 'rime', handler: async () => null });
    p.register({
      name: 'wrong',
      lifecycle: 'rime',
      attempts: 1,
      handler: async (ctx) => {
        try {
          await ctx.spawn('x', 'leaf2', null, { cancelWithParent: 'no' as unknown as boolean });
        } catch (error) {
          seen = (error as { code?: string }).code;
        }
        return null;
      },
    });
    p.start({ ...FAST });
    const id = await p.enqueue('wrong', null);
    const done = await waitForState(p, id, 'JOB_STATUS_SUCCEEDED', 5000);
    expect(seen).toBe('INVALID_INPUT');
    expect(done.children).toEqual([]);
    expect(await rawRow(p, id + 1)).toBeUndefined();
  });

  // The engine door itself (SQLite: the facade hides the engine on PostgreSQL, where the same script runs).
  test.skipIf(STORE !== 'sqlite')('a spawn whose parent step is refused (its lease is not the caller\'s) creates no child: one transaction', async () => {
    const p = await open();
    p.register({ name: 'leaf3', lifecycle: 'rime', handler: async () => null });
    const parent = await p.enqueue('leaf3', null);
    const engine = engineOf(p);
    const options = { lifecycle: 'rime', type: 'leaf3', input: { params: null }, idempotencyKey: `child:${parent}:x` };
    expect(() => engine.spawn({ jobId: parent, fence: { leaseId: 'not-the-lease' }, actor: 'w' }, 'spawn:x', options, false)).toThrow(expect.objectContaining({ code: 'LEASE_LOST' }));
    expect(await rawRow(p, parent + 1)).toBeUndefined();
    expect((await p.get(parent)).children).toEqual([]);
    expect(types(await p.history(parent))).toEqual(['ADMIT']);
  });

  test.skipIf(STORE !== 'sqlite')('a child spawned after its parent was asked to cancel (before its handler saw it) is cancelled with it', async () => {
    const p = await open();
    p.register({ name: 'leaf4', lifecycle: 'rime', handler: async () => null });
    const parent = await p.enqueue('leaf4', null);
    const engine = engineOf(p);
    const [claimed] = engine.claimDue(1, ['leaf4'], (now) => ({ leaseId: 'L1', leaseExpiresAt: now + 60_000, workerId: 'w', actor: 'w' }));
    expect(claimed!.id).toBe(parent);
    await p.cancel(parent);
    const options = { lifecycle: 'rime', type: 'leaf4', input: { params: null }, idempotencyKey: `child:${parent}:late` };
    const child = engine.spawn({ jobId: parent, fence: { leaseId: 'L1' }, actor: 'w' }, 'spawn:late', options, false);
    const job = await p.get(child.id);
    expect(job.outcome).toBe('cancelled');
    expect((await p.history(child.id)).find((e) => e.type === 'CANCEL')!.actor).toBe(`parent/${parent}`);
    const detached = engine.spawn({ jobId: parent, fence: { leaseId: 'L1' }, actor: 'w' }, 'spawn:free', { ...options, idempotencyKey: `child:${parent}:free` }, true);
    expect((await p.get(detached.id)).terminal).toBe(false);
    expect((await p.get(parent)).children).toEqual([{ id: child.id, cancelWithParent: true }, { id: detached.id, cancelWithParent: false }]);
  });
});

/**
 * Flows built outside handlers (`enqueue(type, params, { dependsOn })`) on a real database (a
 * SQLite file, or PostgreSQL in the postgres project): a job is not claimable (its row says so, so
 * no claim looks at it) until every dependency has ended, whatever the outcome; the handler reads
 * how each ended; the BLOCK / DEPENDENT / UNBLOCK events are in the histories, which replay; an
 * unknown dependency is refused and nothing is written.
 */
import { describe, expect, test } from 'vitest';
import { FAST, deferred, onCleanup, open, rawHistory, rawRow, types, waitForState } from './helpers/behaviour-harness.ts';
import type { DependencyOutcome } from '../src/engine/parking.ts';
import { defineLifecycle } from '../machines/define.ts';

describe('dependsOn', () => {
  test('a job waits, not claimable, until every dependency ends (one fails, one succeeds), then runs and reads how each ended', async () => {
    const p = await open();
    const gates = [deferred<void>(), deferred<void>()];
    onCleanup(() => gates.forEach((g) => g.resolve()));
    let ran = 0;
    p.register({ name: 'dep.ok', lifecycle: 'rime', handler: async () => { await gates[0]!.promise; return 'ok'; } });
    p.register({ name: 'dep.fails', lifecycle: 'uws', attempts: 1, handler: async () => { await gates[1]!.promise; throw new Error('broke'); } });
    p.register({
      name: 'after',
      lifecycle: 'ecotaxa',
      handler: async (ctx) => {
        ran++;
        return ctx.job.dependencies.map((d: DependencyOutcome) => d.outcome);
      },
    });
    p.start({ ...FAST, concurrency: 4 });
    const a = await p.enqueue('dep.ok', null);
    const b = await p.enqueue('dep.fails', null);
    const id = await p.enqueue('after', null, { dependsOn: [a, b, a] });
    await waitForState(p, a, (job) => job.running, 10_000);
    await waitForState(p, b, (job) => job.running, 10_000);
    const blocked = await p.get(id);
    expect(blocked.blockedBy).toEqual([a, b]);
    expect(blocked.queued).toBe(false);
    expect((await rawRow(p, id))!.claimable).toBeFalsy();
    expect(types(await p.history(a))).toContain('DEPENDENT');

    gates[0]!.resolve();
    await waitForState(p, a, 'JOB_STATUS_SUCCEEDED', 10_000);
    const half = await p.get(id);
    expect(half.blockedBy).toEqual([b]);
    expect(half.queued).toBe(false);
    expect(ran).toBe(0);

    gates[1]!.resolve();
    const done = await waitForState(p, id, 'F', 10_000);
    expect(ran).toBe(1);
    expect(done.result).toEqual(['succeeded', 'failed']);
    expect(done.dependencies).toEqual([
      { id: a, state: 'JOB_STATUS_SUCCEEDED', outcome: 'succeeded' },
      { id: b, state: 'ERROR', outcome: 'failed' },
    ]);
    const history = await p.history(id);
    const kinds = types(history);
    expect(kinds.indexOf('BLOCK')).toBeLessThan(kinds.indexOf('UNBLOCK'));
    expect(kinds.filter((k) => k === 'UNBLOCK')).toHaveLength(2);
    expect(history.filter((e) => e.type === 'UNBLOCK').map((e) => e.actor)).toEqual([`job/${a}`, `job/${b}`]);
    // The BLOCK is written with the creation: the same instant as the CREATE.
    expect(history.find((e) => e.type === 'BLOCK')!.at).toBe(history[0]!.at);
    for (const job of [a, b]) expect((await p.history(job)).filter((e) => e.type === 'DEPENDENT').map((e) => e.payload)).toEqual([{ id }]);
    for (const job of [a, b, id]) expect((await p.replay(job)).divergences).toEqual([]);
  });

  test('a dependency deleted before it ends unblocks its dependent (outcome null), which then runs', async () => {
    const p = await open();
    p.register({ name: 'dep.later', lifecycle: 'rime', handler: async () => 1 });
    p.register({ name: 'waits', lifecycle: 'rime', handler: async (ctx) => ctx.job.dependencies.map((d: DependencyOutcome) => d.outcome) });
    p.start({ ...FAST, concurrency: 2 });
    const dep = await p.enqueue('dep.later', null, { delayMs: 60_000 });
    const id = await p.enqueue('waits', null, { dependsOn: [dep] });
    expect((await p.get(id)).blockedBy).toEqual([dep]);
    await p.delete(dep);
    const done = await waitForState(p, id, 'JOB_STATUS_SUCCEEDED', 10_000);
    expect(done.result).toEqual([null]);
    expect((await p.history(id)).filter((e) => e.type === 'UNBLOCK').map((e) => e.actor)).toEqual([`job/${dep}`]);
    expect((await p.replay(id)).divergences).toEqual([]);
  });

  test('dependencies already ended are not waited for; with none left the job runs at once', async () => {
    const p = await open();
    const gate = deferred<void>();
    onCleanup(() => gate.resolve());
    p.register({ name: 'quick', lifecycle: 'synapse', handler: async () => 1 });
    p.register({ name: 'slow', lifecycle: 'rime', handler: async () => { await gate.promise; return 2; } });
    p.register({ name: 'next', lifecycle: 'rime', handler: async (ctx) => ctx.job.dependencies.length });
    p.start({ ...FAST, concurrency: 3 });
    const q = await p.enqueue('quick', null);
    await waitForState(p, q, 'COMPLETE', 10_000);
    const now = await p.enqueue('next', null, { dependsOn: [q] });
    expect(types(await p.history(now))).not.toContain('BLOCK');
    expect((await waitForState(p, now, 'JOB_STATUS_SUCCEEDED', 10_000)).result).toBe(0);

    const s = await p.enqueue('slow', null);
    const later = await p.enqueue('next', null, { dependsOn: [q, s] });
    expect((await p.history(later)).find((e) => e.type === 'BLOCK')!.payload).toEqual({ on: [s] });
    expect((await p.history(q)).some((e) => e.type === 'DEPENDENT')).toBe(false);
    gate.resolve();
    expect((await waitForState(p, later, 'JOB_STATUS_SUCCEEDED', 10_000)).result).toBe(1);
  });

  test('a cancelled dependency unblocks its dependent; a dependent cancelled while blocked ends, and its dependency still ends as it would', async () => {
    const p = await open();
    const gate = deferred<void>();
    onCleanup(() => gate.resolve());
    p.register({ name: 'held', lifecycle: 'rime', handler: async () => { await gate.promise; return null; } });
    p.register({ name: 'then', lifecycle: 'rime', handler: async (ctx) => ctx.job.dependencies[0]!.outcome });
    // Enqueued before any worker runs: the dependency is still queued.
    const first = await p.enqueue('held', null);
    const waiter = await p.enqueue('then', null, { dependsOn: [first] });
    await p.cancel(first);
    expect((await p.get(waiter)).blockedBy).toEqual([]);
    p.start({ ...FAST, concurrency: 2 });
    expect((await waitForState(p, waiter, 'JOB_STATUS_SUCCEEDED', 10_000)).result).toBe('cancelled');

    const second = await p.enqueue('held', null);
    const doomed = await p.enqueue('then', null, { dependsOn: [second] });
    await waitForState(p, second, (job) => job.running, 10_000);
    expect((await p.cancel(doomed)).outcome).toBe('cancelled');
    gate.resolve();
    await waitForState(p, second, 'JOB_STATUS_SUCCEEDED', 10_000);
    expect(types(await p.history(doomed)).filter((t) => t === 'UNBLOCK')).toEqual([]);
    for (const job of [first, waiter, second, doomed]) expect((await p.replay(job)).divergences).toEqual([]);
  });

  test('an unknown dependency is refused (JOB_NOT_FOUND) and nothing is written; a malformed list is INVALID_INPUT; the engine\'s events are not sent by hand', async () => {
    const p = await open();
    p.register({ name: 'plain', lifecycle: 'rime', handler: async () => null });
    const known = await p.enqueue('plain', null);
    const before = await rawHistory(p, known);
    await expect(p.enqueue('plain', null, { dependsOn: [known, known + 100] })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect(await rawRow(p, known + 1)).toBeUndefined();
    expect(await rawHistory(p, known)).toEqual(before);
    await expect(p.enqueue('plain', null, { dependsOn: [0] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(p.enqueue('plain', null, { dependsOn: 'x' as unknown as number[] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    for (const type of ['BLOCK', 'DEPENDENT', 'UNBLOCK']) {
      await expect(p.send(known, { type, id: known, on: [known] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
    expect(await rawHistory(p, known)).toEqual(before);
    expect((await p.list()).map((j) => j.id)).toEqual([known]);
    const own = defineLifecycle({
      name: 'blocker', version: 1, initial: 'queued',
      states: {
        queued: { tags: ['queued'], on: { CLAIM: { target: 'done', actions: 'apply' }, UNBLOCK: { actions: 'apply' } } },
        done: { type: 'final', tags: ['terminal', 'succeeded'] },
      },
    });
    await expect(open({ lifecycles: [own] })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/UNBLOCK.*engine's own/) });
  });
});

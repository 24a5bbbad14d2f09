/**
 * The store boundary with a store that must wait: the engine's transaction scripts, unchanged,
 * on an asynchronous store (test/support/async-store.ts), give what they give on the SQLite store.
 */
import { describe, expect, test } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { Engine, type TransitionRecord } from '../src/engine/engine.ts';
import { AsyncSqliteStore } from './support/async-store.ts';

const steps = () => {
  let now = 1_000;
  return () => (now += 10);
};
const leaseFor = (now: number) => ({ leaseId: 'lease-1.30000', leaseExpiresAt: now + 30_000, workerId: 'w', actor: 'w/lease-1' });
const uws = (params: number, idempotencyKey?: string) => ({ lifecycle: 'uws', type: 'job', input: { params }, ...(idempotencyKey ? { idempotencyKey } : {}) });

/** The same operations on an engine of either kind of store; `await` is a no-op on the synchronous one. */
async function script(engine: Engine<any>) {
  const a = await engine.create(uws(1, 'k'));
  const again = await engine.create(uws(99, 'k'));
  const b = await engine.create(uws(2));
  const c = await engine.create(uws(3));
  await engine.send(b.id, { type: 'SET', priority: 5 });
  const claimed = await engine.claimDue(2, ['job'], leaseFor);
  await engine.send(claimed[0]!.id, { type: 'SUCCEED', result: { ok: true } }, { fence: { leaseId: 'lease-1.30000' } });
  const refused = await (async () => engine.send(a.id, { type: 'RESUME' }))().then(() => 'accepted', (error) => error.code);
  const accepts = await engine.accepts(a.id, 'CLAIM');
  const [d, e] = await engine.createMany([uws(4), uws(5)]);
  // A batch: one send refused (a lease it does not hold), one accepted, then a claim of the freed slot.
  const refusals: string[] = [];
  const fenced = (jobId: number, leaseId: string) => () => ({ jobId, event: { type: 'SUCCEED', result: null }, options: { fence: { leaseId } } });
  const next = await engine.sendEachThenClaim(
    [fenced(a.id, 'someone-else'), fenced(a.id, 'lease-1.30000')],
    (send: { jobId: number }, error: unknown) => refusals.push(`${send.jobId} ${(error as { code: string }).code}`),
    () => ({ limit: 1, types: ['job'], leaseFor }),
  );
  await engine.deleteJobs([c.id]);
  const jobs = await engine.list();
  const histories = await Promise.all(jobs.map((job: { id: number }) => engine.history(job.id)));
  return { again: again.id === a.id, claimed: claimed.map((row: { id: number }) => row.id), refused, accepts, refusals, next: next.map((row: { id: number }) => row.id), batch: [d!.id, e!.id], gone: await engine.find(c.id), jobs, histories };
}

describe('an asynchronous store', () => {
  test('runs the same scripts to the same rows and histories as the SQLite store', async () => {
    const sync = new Engine(new SqliteStore(openDatabase(':memory:')), { clock: steps() });
    const store = new AsyncSqliteStore(openDatabase(':memory:'));
    const engine = new Engine(store, { clock: steps() });
    const missing = engine.get(1);
    expect(missing).toBeInstanceOf(Promise);
    await expect(missing).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    const expected = await script(sync);
    const actual = await script(engine);
    expect(actual).toEqual(expected);
    expect(expected).toMatchObject({
      again: true, claimed: [2, 1], refused: 'ILLEGAL_TRANSITION', accepts: false, gone: undefined,
      refusals: ['1 LEASE_LOST'], next: [3], batch: [4, 5],
    });
    expect(store.counts.awaited).toBeGreaterThanOrEqual(store.counts.ops);
  });

  test('observers and the snapshot cache see a transaction only once it has committed', async () => {
    const store = new AsyncSqliteStore(openDatabase(':memory:'));
    const engine = new Engine(store, { clock: steps() });
    const seen: TransitionRecord[] = [];
    engine.onTransition((record) => seen.push(record));
    const created = engine.create(uws(1));
    expect(seen).toHaveLength(0); // the script is still waiting on its first query
    const job = await created;
    expect(seen.map((r) => r.event.type)).toEqual(['CREATE', 'RUN']);
    // Sends to one job from many callers at once take turns: each sees the version the last wrote.
    const versions = await Promise.all([1, 2, 3, 4].map((priority) => engine.send(job.id, { type: 'SET', priority })));
    expect(versions.map((row) => row.version)).toEqual([3, 4, 5, 6]);
    expect(seen).toHaveLength(6);
  });

  test('a query that fails mid-script rolls the whole transaction back, with its notifications', async () => {
    const store = new AsyncSqliteStore(openDatabase(':memory:'));
    const engine = new Engine(store, { clock: steps() });
    const seen: string[] = [];
    engine.onTransition(({ event }) => seen.push(event.type));
    store.failNext = 'appendEvent'; // after the row was inserted
    await expect(engine.create(uws(1))).rejects.toThrow('appendEvent failed');
    expect(await engine.list()).toEqual([]);
    expect(seen).toEqual([]);
    const job = await engine.create(uws(2));
    expect((await engine.history(job.id)).map((e) => e.type)).toEqual(['CREATE', 'RUN']);
  });
});

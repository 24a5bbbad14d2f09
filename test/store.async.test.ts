/**
 * The store boundary with a store that must wait: the engine's transaction scripts, unchanged,
 * on an asynchronous store (test/support/async-store.ts), give what they give on the SQLite store.
 */
import { describe, expect, test } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { Engine, type TransitionRecord } from '../src/engine/engine.ts';
import { AsyncSqliteStore } from './support/async-store.ts';
import { script, steps, uws } from './support/store-scenario.ts';

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
    store.failNext = 'appendEvents'; // after the row was inserted
    await expect(engine.create(uws(1))).rejects.toThrow('appendEvents failed');
    expect(await engine.list()).toEqual([]);
    expect(seen).toEqual([]);
    const job = await engine.create(uws(2));
    expect((await engine.history(job.id)).map((e) => e.type)).toEqual(['CREATE', 'RUN']);
  });
});

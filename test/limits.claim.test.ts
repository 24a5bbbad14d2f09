/**
 * Concurrency and rate limits, enforced by the claim, on the store of the project (both stores:
 * this file is in the conformance suite).
 *
 * A fast-check model drives two engines on one database (two connections, as two processes) and
 * three simulated workers through the runner's own port (src/runner/port.ts) and recovery module
 * (src/runner/recovery.ts), on a manual clock: enqueues with and without concurrency keys, claims,
 * final writes batched with a claim after them, successes, failures with and without a retry,
 * releases, cancellations of queued and running jobs, deletions, crashes (a worker forgets its
 * jobs without writing anything) and time passing, after which leases expire and are recovered.
 * After every command:
 * - no type runs more jobs than its `concurrency`, no key more than its type's `keyConcurrency`,
 *   and no type's claims in a rate window exceed its `rateLimit` (the windows recomputed from the
 *   claims' instants);
 * - the counters in job_slots equal a recount from the jobs (running per type and per key, each
 *   key's head its best queued job, no row for a key with nothing queued or running);
 * - a claim that took fewer jobs than it asked left only jobs that a limit holds back.
 *
 * Then: the rate limit with a manual clock through the facade, key concurrency through the
 * facade's workers, and bad limits refused at defineJobType and register.
 *
 * Seed: PHASELINE_SEED (printed); runs: PHASELINE_PROPERTY_RUNS (default 40 on SQLite, 10 on PostgreSQL).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { builtInLifecycles } from '../machines/index.ts';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import type { Store } from '../src/db/store.ts';
import { Engine } from '../src/engine/engine.ts';
import type { Job } from '../src/engine/job-types.ts';
import { LifecycleRegistry } from '../src/engine/lifecycles.ts';
import type { TypeLimits } from '../src/engine/limits.ts';
import { isPhaselineError } from '../src/errors.ts';
import { createPhaseline, defineJobType, type Phaseline } from '../src/index.ts';
import { LeaseWatch, newLeaseId } from '../src/runner/leases.ts';
import { enginePort, type RunnerPort } from '../src/runner/port.ts';
import { recoverExpired } from '../src/runner/recovery.ts';
import { seedFromEnv } from './helpers/processes.ts';
import { waitFor } from './helpers/wait.ts';
import { openRawDb, type RawDb } from './support/raw-db.ts';
import { STORE, STORE_TAG, freshDatabase } from './support/stores.ts';

const SEED = seedFromEnv();
const RUNS = Number(process.env.PHASELINE_PROPERTY_RUNS ?? (STORE === 'postgres' ? 10 : 40));

const LIMITS: Record<string, TypeLimits> = {
  capped: { concurrency: 2, rateLimit: null, keyConcurrency: 1 },
  keyed: { concurrency: null, rateLimit: null, keyConcurrency: 2 },
  rated: { concurrency: 3, rateLimit: { max: 3, perMs: 1000 }, keyConcurrency: 1 },
  free: { concurrency: null, rateLimit: null, keyConcurrency: 1 },
};
const TYPES = Object.keys(LIMITS);
const KEYS = ['a', 'b', 'c'];
const LEASE_MS = 500;
const WORKERS = 3;
const T0 = 1_700_000_000_000;

type Command =
  | { kind: 'enqueue'; type: number; key: number | null; priority: number; delay: number }
  | { kind: 'claim'; worker: number; n: number }
  | { kind: 'end'; worker: number; pick: number[]; how: 'succeed' | 'fail' | 'retry' | 'release'; claimAfter: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'crash'; worker: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'recover'; worker: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('enqueue' as const), type: fc.nat(TYPES.length - 1), key: fc.option(fc.nat(KEYS.length - 1), { freq: 2 }), priority: fc.integer({ min: 0, max: 2 }), delay: fc.constantFrom(0, 0, 0, 300) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('claim' as const), worker: fc.nat(WORKERS - 1), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('end' as const), worker: fc.nat(WORKERS - 1), pick: fc.array(fc.nat(20), { minLength: 1, maxLength: 3 }), how: fc.constantFrom('succeed' as const, 'fail' as const, 'retry' as const, 'release' as const), claimAfter: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), worker: fc.nat(WORKERS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(100, 400, 700) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('recover' as const), worker: fc.nat(WORKERS - 1) }) },
);

interface Worker {
  id: string;
  port: RunnerPort;
  watch: LeaseWatch;
  /** Jobs it holds: id → lease. */
  held: Map<number, { leaseId: string; actor: string; type: string; attempt: number }>;
}

interface World {
  now: number;
  engines: Engine<Store>[];
  workers: Worker[];
  raw: RawDb;
  /** Each rate-limited type's window as the limit's rule makes it from the claims' instants. */
  windows: Map<string, { start: number; count: number }>;
  close(): Promise<void>;
}

async function openEngine(db: string, clock: () => number): Promise<Engine<Store>> {
  const options = { lifecycles: new LifecycleRegistry(Object.values(builtInLifecycles)), clock, limits: (type: string) => LIMITS[type] };
  if (STORE === 'sqlite') return new Engine(new SqliteStore(openDatabase(db)), options) as unknown as Engine<Store>;
  const { PgStore } = await import('../src/db/pg-store.ts');
  return new Engine<Store>(await PgStore.open(db, { max: 3 }), options);
}

async function openWorld(): Promise<World> {
  const db = await freshDatabase();
  const world = { now: T0 } as World;
  const clock = () => world.now;
  world.engines = [await openEngine(db, clock), await openEngine(db, clock)];
  world.workers = Array.from({ length: WORKERS }, (_, i) => ({
    id: `w${i}`,
    port: enginePort(world.engines[i % 2]!),
    watch: new LeaseWatch(LEASE_MS, () => world.now),
    held: new Map(),
  }));
  world.raw = await openRawDb(db);
  world.windows = new Map();
  world.close = async () => {
    await world.raw.close();
    for (const engine of world.engines) await engine.store.close();
  };
  return world;
}

function leaseFor(worker: Worker) {
  return (now: number) => {
    const leaseId = newLeaseId(LEASE_MS);
    return { leaseId, leaseExpiresAt: now + LEASE_MS, workerId: worker.id, actor: `${worker.id}/${leaseId}` };
  };
}

interface JobFacts {
  id: number;
  type: string;
  key: string | null;
  running: number;
  claimable: number;
  priority: number;
  runAfter: number;
}

async function jobFacts(raw: RawDb): Promise<JobFacts[]> {
  return raw.all<JobFacts>('SELECT id, type, concurrency_key AS "key", running, claimable, priority, run_after AS "runAfter" FROM jobs ORDER BY id');
}

/** The claim took what it did from `world`: record it against the rate windows, and check it. */
function recordClaims(world: World, claimed: readonly Job[]): void {
  for (const type of TYPES) {
    const rate = LIMITS[type]!.rateLimit;
    if (!rate) continue;
    let window = world.windows.get(type) ?? { start: 0, count: 0 };
    if (world.now >= window.start + rate.perMs || world.now < window.start - rate.perMs) window = { start: world.now, count: 0 };
    window.count += claimed.filter((job) => job.type === type).length;
    world.windows.set(type, window);
    expect(window.count, `claims of ${type} in the window from ${window.start}`).toBeLessThanOrEqual(rate.max);
  }
}

/** Every limit holds, and the counters equal a recount. */
async function checkInvariants(world: World): Promise<JobFacts[]> {
  const jobs = await jobFacts(world.raw);
  const runningByType = new Map<string, number>();
  const runningByKey = new Map<string, number>();
  const heads = new Map<string, JobFacts>();
  for (const job of jobs) {
    if (job.running) runningByType.set(job.type, (runningByType.get(job.type) ?? 0) + 1);
    if (job.key === null) continue;
    const key = `${job.type}/${job.key}`;
    if (job.running) runningByKey.set(key, (runningByKey.get(key) ?? 0) + 1);
    const head = heads.get(key);
    if (job.claimable && (!head || job.priority > head.priority || (job.priority === head.priority && job.id < head.id))) heads.set(key, job);
  }
  for (const [type, limits] of Object.entries(LIMITS)) {
    if (limits.concurrency !== null) expect(runningByType.get(type) ?? 0, `running ${type}`).toBeLessThanOrEqual(limits.concurrency);
  }
  for (const [key, n] of runningByKey) expect(n, `running ${key}`).toBeLessThanOrEqual(LIMITS[key.split('/')[0]!]!.keyConcurrency);
  const slots = await world.raw.all<{ type: string; key: string; running: number; headId: number | null; headPriority: number | null; headRunAfter: number | null }>(
    'SELECT type, key, running, head_id AS "headId", head_priority AS "headPriority", head_run_after AS "headRunAfter" FROM job_slots ORDER BY type, key',
  );
  const typeRows = slots.filter((s) => s.key === '');
  for (const row of typeRows) expect(row.running, `job_slots running of type ${row.type}`).toBe(runningByType.get(row.type) ?? 0);
  const keyRows = Object.fromEntries(slots.filter((s) => s.key !== '').map((s) => [`${s.type}/${s.key}`, { running: s.running, head: s.headId, priority: s.headPriority, runAfter: s.headRunAfter }]));
  const expected: typeof keyRows = {};
  for (const key of new Set([...runningByKey.keys(), ...heads.keys()])) {
    const head = heads.get(key);
    expected[key] = { running: runningByKey.get(key) ?? 0, head: head?.id ?? null, priority: head?.priority ?? null, runAfter: head?.runAfter ?? null };
  }
  expect(keyRows, 'job_slots key rows against a recount').toEqual(expected);
  return jobs;
}

/**
 * After a claim that took fewer than `asked`: every due queued job left is held back by a limit
 * (its type full or out of rate, its key full, another job of its key ahead of it, or its key
 * served by this very claim, which takes one job per key).
 */
function checkShortClaim(world: World, jobs: readonly JobFacts[], claimed: readonly Job[], asked: number): void {
  if (claimed.length >= asked) return;
  const running = (type: string, key?: string) => jobs.filter((j) => j.running && j.type === type && (key === undefined || j.key === key)).length;
  const servedKeys = new Set(claimed.filter((job) => job.concurrencyKey !== null).map((job) => `${job.type}/${job.concurrencyKey}`));
  for (const job of jobs) {
    if (!job.claimable || job.runAfter > world.now) continue;
    const limits = LIMITS[job.type]!;
    const typeFull = limits.concurrency !== null && running(job.type) >= limits.concurrency;
    const window = world.windows.get(job.type);
    const rateFull = limits.rateLimit !== null && window !== undefined && window.count >= limits.rateLimit.max;
    let keyHeld = false;
    if (job.key !== null) {
      const ahead = jobs.some((o) => o.claimable && o.type === job.type && o.key === job.key && (o.priority > job.priority || (o.priority === job.priority && o.id < job.id)));
      keyHeld = ahead || running(job.type, job.key) >= limits.keyConcurrency || servedKeys.has(`${job.type}/${job.key}`);
    }
    expect(typeFull || rateFull || keyHeld, `job ${job.id} (${job.type}, key ${job.key}) was due and free, yet a claim asking for ${asked} took ${claimed.length}`).toBe(true);
  }
}

/** A refusal a worker may meet (its lease taken by recovery, its job cancelled or deleted). */
function expectedRefusal(error: unknown): boolean {
  return isPhaselineError(error, 'LEASE_LOST') || isPhaselineError(error, 'JOB_NOT_FOUND') || isPhaselineError(error, 'ILLEGAL_TRANSITION') || isPhaselineError(error, 'STALE_VERSION');
}

async function run(world: World, cmd: Command): Promise<void> {
  const { engines, workers } = world;
  switch (cmd.kind) {
    case 'enqueue': {
      const type = TYPES[cmd.type]!;
      await engines[cmd.type % 2]!.create({
        lifecycle: 'rime',
        type,
        input: { params: null, priority: cmd.priority, runAfter: cmd.delay ? world.now + cmd.delay : null },
        concurrencyKey: cmd.key === null ? null : KEYS[cmd.key]!,
      });
      return;
    }
    case 'claim': {
      const worker = workers[cmd.worker]!;
      const claimed = await worker.port.claim(cmd.n, TYPES, leaseFor(worker));
      for (const job of claimed) worker.held.set(job.id, { leaseId: job.lease!.id, actor: `${worker.id}/${job.lease!.id}`, type: job.type, attempt: job.attempt });
      recordClaims(world, claimed);
      checkShortClaim(world, await checkInvariants(world), claimed, cmd.n);
      return;
    }
    case 'end': {
      const worker = workers[cmd.worker]!;
      const ids = [...worker.held.keys()];
      if (ids.length === 0) return;
      const chosen = [...new Set(cmd.pick.map((i) => ids[i % ids.length]!))];
      const writes = chosen.map((id) => () => {
        const held = worker.held.get(id)!;
        const event =
          cmd.how === 'succeed' ? { type: 'SUCCEED', result: null }
          : cmd.how === 'release' ? { type: 'RELEASE' }
          : { type: 'FAIL', error: { message: 'x', kind: 'transient' }, ...(cmd.how === 'retry' ? { retryAt: world.now + 200 } : {}) };
        return { jobId: id, leaseId: held.leaseId, actor: held.actor, event };
      });
      let claimedAfter: Job[] = [];
      const refused: unknown[] = [];
      claimedAfter = await worker.port.finish(
        writes,
        (_write, error) => refused.push(error),
        () => ({ limit: cmd.claimAfter, types: TYPES, leaseFor: leaseFor(worker) }),
        chosen,
      );
      for (const error of refused) if (!expectedRefusal(error)) throw error;
      for (const id of chosen) worker.held.delete(id);
      for (const job of claimedAfter) worker.held.set(job.id, { leaseId: job.lease!.id, actor: `${worker.id}/${job.lease!.id}`, type: job.type, attempt: job.attempt });
      recordClaims(world, claimedAfter);
      checkShortClaim(world, await checkInvariants(world), claimedAfter, cmd.claimAfter);
      return;
    }
    case 'cancel':
    case 'delete': {
      const jobs = await jobFacts(world.raw);
      if (jobs.length === 0) return;
      const id = jobs[cmd.pick % jobs.length]!.id;
      try {
        if (cmd.kind === 'cancel') await engines[cmd.pick % 2]!.send(id, { type: 'CANCEL' });
        else await engines[cmd.pick % 2]!.deleteJobs([id]);
      } catch (error) {
        if (!isPhaselineError(error, 'ILLEGAL_TRANSITION')) throw error; // a finished job
      }
      return;
    }
    case 'crash':
      workers[cmd.worker]!.held.clear();
      workers[cmd.worker]!.watch.reset();
      return;
    case 'advance':
      world.now += cmd.ms;
      return;
    case 'recover': {
      const worker = workers[cmd.worker]!;
      await recoverExpired(worker.port, worker.watch, {
        isActive: (id) => worker.held.has(id),
        retry: (_type, attempt) => (attempt < 3 ? { retryAt: world.now + 100 } : {}),
        actor: `${worker.id}/recovery`,
        report: (error) => {
          throw error;
        },
      });
      return;
    }
  }
}

describe(`limits enforced by the claim ${STORE_TAG}`, () => {
  it('never exceeded, counters equal a recount, short claims only when limits hold back (model)', async () => {
    console.log(`[limits.claim] ${STORE_TAG} seed=${SEED} numRuns=${RUNS} (PHASELINE_SEED, PHASELINE_PROPERTY_RUNS)`);
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 10, maxLength: 60 }), async (commands) => {
        const world = await openWorld();
        try {
          for (const cmd of commands) {
            await run(world, cmd);
            await checkInvariants(world);
          }
          // Drain: time passes, every lease expires and is recovered, every job runs to its end.
          for (let round = 0; round < 200; round++) {
            const open = await world.raw.all<{ n: number }>('SELECT count(*) AS n FROM jobs WHERE ended_at IS NULL');
            if (open[0]!.n === 0) break;
            world.now += LEASE_MS;
            await run(world, { kind: 'recover', worker: 0 });
            await run(world, { kind: 'recover', worker: 0 });
            await run(world, { kind: 'claim', worker: 0, n: 6 });
            await run(world, { kind: 'end', worker: 0, pick: [0, 1, 2, 3, 4, 5], how: 'succeed', claimAfter: 0 });
          }
          const open = await world.raw.all<{ n: number }>('SELECT count(*) AS n FROM jobs WHERE ended_at IS NULL');
          expect(open[0]!.n, 'jobs left unfinished after the drain').toBe(0);
          await checkInvariants(world);
          expect(await world.raw.all('SELECT type, key, running FROM job_slots WHERE running <> 0 OR key <> \'\'')).toEqual([]);
        } finally {
          await world.close();
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe(`limits through the facade ${STORE_TAG}`, () => {
  const opened: Phaseline[] = [];
  afterEach(async () => {
    for (const p of opened.splice(0)) await p.close(0);
  });
  async function open(clock?: () => number): Promise<Phaseline> {
    const p = createPhaseline({ db: await freshDatabase(), ...(clock ? { clock } : {}) });
    opened.push(p);
    await p.ready();
    return p;
  }

  it('a rate limit: at most max claims per window of perMs, on a manual clock', async () => {
    let now = T0;
    const p = await open(() => now);
    const started: number[] = [];
    const type = p.register(defineJobType({ name: 'rated', lifecycle: 'rime', rateLimit: { max: 2, perMs: 1000 }, handler: async () => {
      started.push(now);
      return null;
    } }));
    await p.enqueueMany(type, Array.from({ length: 5 }, () => ({ params: null })));
    p.start({ concurrency: 5, pollIntervalMs: 5 });
    await waitFor(() => (started.length === 2 ? true : null), 10_000, 'two starts');
    // The window is spent: no third start while the clock stands still.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(started).toEqual([T0, T0]);
    now += 999;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(started).toHaveLength(2);
    now += 1;
    await waitFor(() => (started.length === 4 ? true : null), 10_000, 'two more starts in the next window');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(started).toEqual([T0, T0, T0 + 1000, T0 + 1000]);
    now += 1000;
    await waitFor(() => (started.length === 5 ? true : null), 10_000, 'the last start');
  });

  it('key concurrency: one running job per customer (default keyConcurrency 1), other keys and unkeyed jobs run beside it', async () => {
    const p = await open();
    const runningByKey = new Map<string, number>();
    let most = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    const type = p.register(defineJobType<{ customer: string | null }>({ name: 'per-customer', lifecycle: 'rime', handler: async (ctx) => {
      const key = ctx.params.customer ?? '-';
      seen.push(key);
      runningByKey.set(key, (runningByKey.get(key) ?? 0) + 1);
      if (key !== '-') most = Math.max(most, runningByKey.get(key)!);
      await gate;
      runningByKey.set(key, runningByKey.get(key)! - 1);
      return null;
    } }));
    for (let i = 0; i < 4; i++) await p.enqueue(type, { customer: 'acme' }, { concurrencyKey: 'acme' });
    await p.enqueue(type, { customer: 'globex' }, { concurrencyKey: 'globex' });
    await p.enqueue(type, { customer: null });
    p.start({ concurrency: 8, pollIntervalMs: 5 });
    await waitFor(() => (seen.length === 3 ? true : null), 10_000, 'three jobs to start');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([...seen].sort()).toEqual(['-', 'acme', 'globex']);
    release();
    await waitFor(async () => ((await p.list({ states: ['JOB_STATUS_SUCCEEDED'] })).length === 6 ? true : null), 10_000, 'all six to succeed');
    expect(most).toBe(1);
    const job = (await p.list()).find((j) => j.concurrencyKey === 'acme');
    expect(job?.concurrencyKey).toBe('acme');
    expect((await p.history(job!.id))[0]!.payload).toMatchObject({ concurrencyKey: 'acme' });
    expect(await p.replayAll()).toMatchObject({ jobs: 6, diverged: 0 });
  });

  it('three instances on one database, claiming at once: a type never runs more than its concurrency, a key more than one', async () => {
    const db = await freshDatabase();
    const instances = [createPhaseline({ db }), createPhaseline({ db }), createPhaseline({ db })];
    opened.push(...instances);
    await Promise.all(instances.map((p) => p.ready()));
    let running = 0;
    let most = 0;
    const byKey = new Map<string, number>();
    let mostByKey = 0;
    let done = 0;
    const handler = async (ctx: { params: { key: string | null } }) => {
      running++;
      most = Math.max(most, running);
      const key = ctx.params.key;
      if (key !== null) {
        byKey.set(key, (byKey.get(key) ?? 0) + 1);
        mostByKey = Math.max(mostByKey, byKey.get(key)!);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 4)));
      running--;
      if (key !== null) byKey.set(key, byKey.get(key)! - 1);
      done++;
      return null;
    };
    for (const p of instances) p.register(defineJobType<{ key: string | null }>({ name: 'shared', lifecycle: 'rime', concurrency: 3, handler }));
    const items = Array.from({ length: 150 }, (_, i) => {
      const key = i % 3 === 0 ? null : `k${i % 4}`;
      return { params: { key }, ...(key ? { concurrencyKey: key } : {}) };
    });
    await instances[0]!.enqueueMany('shared', items);
    for (const p of instances) p.start({ concurrency: 8, pollIntervalMs: 5 });
    await waitFor(() => (done === 150 ? true : null), 60_000, 'all 150 jobs');
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(1); // the limit, not a single worker, is what held them back
    expect(mostByKey).toBe(1);
  });

  it.runIf(STORE === 'postgres')('on a server, a claim waits for the type\'s counter row that another transaction holds, and then sees its count', async () => {
    const db = await freshDatabase();
    const engine = await openEngine(db, () => T0);
    for (let i = 0; i < 3; i++) await engine.create({ lifecycle: 'rime', type: 'capped', input: { params: null } });
    const worker: Worker = { id: 'w', port: enginePort(engine), watch: new LeaseWatch(LEASE_MS), held: new Map() };
    // The first claim makes the type's row; running is 1 after it.
    expect(await engine.claimDue(1, TYPES, leaseFor(worker))).toHaveLength(1);
    const pg = await import('pg');
    const other = new pg.default.Client({ connectionString: db });
    await other.connect();
    try {
      // Another host's transaction that has claimed the last slot and not yet committed.
      await other.query('BEGIN');
      await other.query("UPDATE job_slots SET running = running + 1 WHERE type = 'capped' AND key = ''");
      let answered = false;
      const claim = Promise.resolve(engine.claimDue(2, ['capped'], leaseFor(worker))).finally(() => (answered = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(answered, 'the claim went ahead without waiting for the counter row').toBe(false);
      await other.query('COMMIT');
      expect(await claim).toEqual([]);
    } finally {
      await other.end();
      await engine.store.close();
    }
  });

  it('bad limits are refused with INVALID_INPUT at defineJobType and at register, and nothing is registered', async () => {
    const p = await open();
    const handler = async () => null;
    const bad: Array<Record<string, unknown>> = [
      { concurrency: 0 }, { concurrency: -1 }, { concurrency: 1.5 }, { concurrency: '2' }, { concurrency: Number.NaN },
      { keyConcurrency: 0 }, { keyConcurrency: 2.5 },
      { rateLimit: { max: 0, perMs: 1000 } }, { rateLimit: { max: 1 } }, { rateLimit: { perMs: 10 } }, { rateLimit: { max: 1, perMs: -5 } },
      { rateLimit: { max: 1, perMs: 1000, burst: 3 } }, { rateLimit: 5 }, { rateLimit: [1, 2] },
    ];
    for (const fields of bad) {
      const definition = { name: 'bad', lifecycle: 'rime', handler, ...fields };
      expect(() => defineJobType(definition as never), JSON.stringify(fields)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
      expect(() => p.register(definition as never), JSON.stringify(fields)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    }
    expect(p.jobTypes()).toEqual([]);
    const good = defineJobType({ name: 'good', lifecycle: 'rime', handler, concurrency: 3, keyConcurrency: 2, rateLimit: { max: 5, perMs: 100 } });
    expect([good.concurrency, good.keyConcurrency, good.rateLimit]).toEqual([3, 2, { max: 5, perMs: 100 }]);
  });
});

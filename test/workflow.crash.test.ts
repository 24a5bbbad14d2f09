/**
 * Durable sleep and signals under SIGKILL, with real worker processes on a real database (a SQLite
 * file, or PostgreSQL in the postgres project). Workers are killed at seeded random moments after
 * they begin work (before a handler sleeps, while it sleeps, just after it wakes), and the first
 * kill of the sleep test waits until a job is asleep; then a last worker drains the rest.
 *
 * Sleep: every job succeeds once; every SLEEP of a job records the same wake instant (a restart
 * never restarts the sleep from zero); the wake and every run of the step after the sleep come at
 * or after that instant (never skipped); no step ran again after it was recorded; one history event
 * per version; replay agrees with every row.
 * Signals: each job gets one signal, sent at random moments (before its handler waits, while it
 * waits, while no worker is alive): every job ends with its own payload, one SIGNAL each, none lost.
 * Children: parents spawn three children each (of other lifecycles) and join them, killed at random
 * moments (between spawns, while parked in the join, while children run): one child per (parent,
 * name), each listed by its parent, each succeeded once and signalled its parent once; every
 * parent resumed after its last child ended and succeeded with every child's outcome; one event
 * per version and replay exact for every job.
 * Dependencies: a graph of jobs enqueued up front with `dependsOn`, run under kills: no job ran
 * before its last dependency ended, each got one UNBLOCK per dependency, all succeeded once.
 *
 * The seed is printed; PHASELINE_SEED repeats it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPhaseline, type Phaseline } from '../src/phaseline.ts';
import type { JobEvent } from '../src/engine/job.ts';
import { CHILD_NAMES, PARK_LIFECYCLES, SLEEP_MS, leafName, registerParkTypes, sleeperName, spawnerName, waiterName } from './fixtures/runner/park-types.ts';
import { makeTempDir, prng, seedFromEnv, sleep, spawnFixture, type Child } from './helpers/processes.ts';
import { STORE_TAG, freshDatabase } from './support/stores.ts';

const JOBS = 10;
const VICTIMS = 5;

interface LogLine {
  jobId: number;
  step: string;
  at: number;
}

function readLog(file: string): LogLine[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0).map((line) => {
    const match = /^(\d+) (\w+) (\d+) (\d+)$/.exec(line);
    if (!match) throw new Error(`malformed log line ${JSON.stringify(line)}`);
    return { jobId: Number(match[1]), step: match[2]!, at: Number(match[4]) };
  });
}

const spawned: Child[] = [];
afterEach(() => {
  for (const child of spawned.splice(0)) if (child.process.exitCode === null && child.process.signalCode === null) child.kill('SIGKILL');
});

function spawnWorker(db: string, log: string, mode: 'crash' | 'drain', seed: number): Child {
  const child = spawnFixture('park-worker.ts', [db, log, mode, String(seed)]);
  spawned.push(child);
  return child;
}

async function begin(child: Child): Promise<void> {
  await child.waitForLine(/^OPEN /, 40_000);
  child.process.stdin!.write('start\n');
  await child.waitForLine(/^READY /);
}

async function kill(child: Child): Promise<void> {
  child.kill('SIGKILL');
  const exit = await child.exited;
  expect(exit.signal, `the worker was still running when killed (stderr: ${child.stderr()})`).toBe('SIGKILL');
  expect(child.stderr(), 'the worker reported no error').not.toMatch(/ERROR/);
}

async function drain(db: string, log: string, seed: number): Promise<void> {
  const child = spawnWorker(db, log, 'drain', seed);
  await begin(child);
  await child.waitForLine(/^DRAINED /, 60_000);
  const exit = await child.exited;
  expect(exit.code, `drain worker stderr:\n${child.stderr()}`).toBe(0);
  expect(child.stderr()).not.toMatch(/ERROR/);
}

async function waitUntil(what: string, test: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Jobs of `names` enqueued in a fresh database, and an empty log. */
async function prepare(name: (lifecycle: string) => string): Promise<{ db: string; log: string; observer: Phaseline; ids: number[]; remove: () => void }> {
  const db = await freshDatabase();
  const temp = makeTempDir('phaseline-park-');
  const log = join(temp.dir, 'steps.log');
  writeFileSync(log, '');
  const observer = createPhaseline({ db });
  await observer.ready();
  registerParkTypes(observer, null);
  const ids: number[] = [];
  for (let i = 0; i < JOBS; i++) ids.push(await observer.enqueue(name(PARK_LIFECYCLES[i % PARK_LIFECYCLES.length]!), { n: i }));
  return { db, log, observer, ids, remove: temp.remove };
}

/** One event per version, replay exact, succeeded once; no step run again after its STEP was recorded. */
async function checkCommon(observer: Phaseline, id: number, history: JobEvent[], lines: LogLine[]): Promise<void> {
  const job = await observer.get(id);
  const where = `job ${id} (${job.lifecycle})`;
  expect(job.outcome, `${where} succeeded (errors ${JSON.stringify(job.errors)})`).toBe('succeeded');
  expect(history.map((e) => e.seq), `${where}: one event per version`).toEqual(history.map((_e, i) => i + 1));
  expect(job.version).toBe(history.length);
  expect(history.filter((e) => e.type === 'SUCCEED')).toHaveLength(1);
  expect((await observer.replay(id)).divergences, `${where} replays exactly`).toEqual([]);
  for (const step of ['a', 'b']) {
    const recorded = history.find((e) => e.type === 'STEP' && e.payload?.name === step);
    expect(recorded, `${where}: step ${step} recorded`).toBeDefined();
    const late = lines.filter((l) => l.jobId === id && l.step === step && l.at > recorded!.at);
    expect(late, `${where}: step ${step} did not run again after it was recorded`).toEqual([]);
  }
}

describe(`durable sleep and signals survive SIGKILL ${STORE_TAG}`, () => {
  it('kills before, during and after sleeps: the wake instant stands, nothing skipped or rerun', async () => {
    const seed = seedFromEnv();
    console.log(`workflow.crash sleep: seed ${seed} (PHASELINE_SEED=${seed} repeats it)`);
    const random = prng(seed);
    const { db, log, observer, ids, remove } = await prepare(sleeperName);
    let killsWhileAsleep = 0;
    try {
      let next = spawnWorker(db, log, 'crash', seed);
      for (let v = 0; v < VICTIMS; v++) {
        const victim = next;
        next = spawnWorker(db, log, 'crash', seed + v + 1);
        await begin(victim);
        // Every job may be asleep, with nothing for this worker to run yet: wait a little, not for ever.
        await victim.waitForLine(/^RUNNING$/, 3000).catch(() => null);
        if (v === 0) {
          // The first kill comes while a job sleeps.
          await waitUntil('a job asleep', async () => (await observer.list()).some((job) => job.parked !== null));
        } else if (v === 1) {
          // The second just after a job woke: running again, its sleep behind it.
          await waitUntil('a job awake again', async () => (await observer.list()).some((job) => job.running && job.waits.length > 0), 10_000).catch(() => {});
        } else {
          await sleep(Math.floor(random() * (SLEEP_MS + 600)));
        }
        const asleep = (await observer.list()).filter((job) => job.parked !== null).length;
        await kill(victim);
        if (asleep > 0) killsWhileAsleep++;
      }
      await kill(next).catch(() => {});
      await drain(db, log, seed + 100);

      const lines = readLog(log);
      let parks = 0;
      // Attempts cut by a kill (a lease recovered) before the job's sleep was recorded, and after it woke.
      let cutBefore = 0;
      let cutAfter = 0;
      for (const id of ids) {
        const history = await observer.history(id);
        await checkCommon(observer, id, history, lines);
        const sleeps = history.filter((e) => e.type === 'SLEEP');
        expect(sleeps.length, `job ${id} slept`).toBeGreaterThanOrEqual(1);
        const until = sleeps[0]!.payload!.until as number;
        // Recorded once for the sleep's first call: every later SLEEP parks on the same instant.
        expect(sleeps.map((e) => e.payload!.until), `job ${id}: the sleep was never restarted`).toEqual(sleeps.map(() => until));
        expect(until - sleeps[0]!.at).toBeLessThanOrEqual(SLEEP_MS);
        const wakes = history.filter((e) => e.type === 'WAKE');
        expect(wakes.length, `job ${id} woke once per park`).toBe(sleeps.length);
        for (const wake of wakes) expect(wake.at, `job ${id}: woke at or after its instant`).toBeGreaterThanOrEqual(until);
        const b = lines.filter((l) => l.jobId === id && l.step === 'b');
        expect(b.length).toBeGreaterThanOrEqual(1);
        for (const line of b) expect(line.at, `job ${id}: step b never ran before the wake instant`).toBeGreaterThanOrEqual(until);
        parks += sleeps.length;
        const lost = history.filter((e) => e.type === 'LEASE_LOST');
        cutBefore += lost.filter((e) => e.seq < sleeps[0]!.seq).length;
        cutAfter += lost.filter((e) => e.seq > wakes[0]!.seq).length;
      }
      expect(cutAfter, 'a kill cut an attempt after its wake').toBeGreaterThanOrEqual(1);
      console.log(
        `workflow.crash sleep: ${VICTIMS} kills, ${killsWhileAsleep} while a job slept; ${cutBefore} attempts cut before their sleep was recorded, ` +
          `${cutAfter} after the wake; ${parks} SLEEP events for ${JOBS} jobs`,
      );
      expect(killsWhileAsleep).toBeGreaterThanOrEqual(1);
    } finally {
      await observer.close();
      remove();
    }
  }, 240_000);

  it('signals sent before, during and between crashes: none lost, each taken once', async () => {
    const seed = seedFromEnv() + 1;
    console.log(`workflow.crash signals: seed ${seed}`);
    const random = prng(seed);
    const { db, log, observer, ids, remove } = await prepare(waiterName);
    const unsent = [...ids];
    const sendSome = async (count: number): Promise<void> => {
      for (let i = 0; i < count && unsent.length > 0; i++) {
        const id = unsent.splice(Math.floor(random() * unsent.length), 1)[0]!;
        await observer.signal(id, 'go', `go-${id}`);
      }
    };
    try {
      await sendSome(2); // before any handler runs
      let next = spawnWorker(db, log, 'crash', seed);
      for (let v = 0; v < VICTIMS; v++) {
        const victim = next;
        next = spawnWorker(db, log, 'crash', seed + v + 1);
        await begin(victim);
        // Every job may be asleep, with nothing for this worker to run yet: wait a little, not for ever.
        await victim.waitForLine(/^RUNNING$/, 3000).catch(() => null);
        await sleep(Math.floor(random() * 400));
        await sendSome(1); // while a worker runs (its jobs waiting or not yet)
        await sleep(Math.floor(random() * 200));
        await kill(victim);
        await sendSome(1); // while no worker is alive
      }
      await kill(next).catch(() => {});
      await sendSome(unsent.length);
      await drain(db, log, seed + 100);

      const lines = readLog(log);
      for (const id of ids) {
        const history = await observer.history(id);
        await checkCommon(observer, id, history, lines);
        const job = await observer.get(id);
        expect((job.result as { payload: unknown }).payload, `job ${id} got its signal`).toBe(`go-${id}`);
        expect(history.filter((e) => e.type === 'SIGNAL'), `job ${id}: one SIGNAL`).toHaveLength(1);
        expect(job.signals).toEqual([]);
      }
    } finally {
      await observer.close();
      remove();
    }
  }, 240_000);

  it('spawn and join under kills: one child per (parent, name), every parent resumed after its children and finished', async () => {
    const seed = seedFromEnv() + 2;
    console.log(`workflow.crash children: seed ${seed} (PHASELINE_SEED=${seed - 2} repeats it)`);
    const random = prng(seed);
    const { db, log, observer, ids, remove } = await prepare(spawnerName);
    let killsWhileParked = 0;
    try {
      let next = spawnWorker(db, log, 'crash', seed);
      for (let v = 0; v < VICTIMS; v++) {
        const victim = next;
        next = spawnWorker(db, log, 'crash', seed + v + 1);
        await begin(victim);
        await victim.waitForLine(/^RUNNING$/, 3000).catch(() => null);
        if (v === 0) await waitUntil('a parent parked in its join', async () => (await observer.list()).some((job) => job.parked !== null), 10_000).catch(() => {});
        else await sleep(Math.floor(random() * 500));
        if ((await observer.list()).some((job) => job.parked !== null)) killsWhileParked++;
        await kill(victim);
      }
      await kill(next).catch(() => {});
      await drain(db, log, seed + 100);

      const all = await observer.list();
      const children = all.filter((job) => job.parentId !== null);
      let lost = 0;
      for (const id of ids) {
        const parent = await observer.get(id);
        const where = `parent ${id} (${parent.lifecycle})`;
        expect(parent.outcome, `${where} succeeded (errors ${JSON.stringify(parent.errors)})`).toBe('succeeded');
        const mine = children.filter((c) => c.parentId === id);
        expect(mine.map((c) => c.idempotencyKey).sort(), `${where}: one child per name`).toEqual(CHILD_NAMES.map((name) => `child:${id}:${name}`));
        const result = parent.result as { children: number[]; outcomes: string[]; results: Array<{ name: string }> };
        expect(parent.children.map((c) => c.id), `${where} lists its children`).toEqual(result.children);
        expect(result.children.slice().sort((a, b) => a - b)).toEqual(mine.map((c) => c.id).sort((a, b) => a - b));
        expect(result.outcomes).toEqual(CHILD_NAMES.map(() => 'succeeded'));
        expect(result.results).toEqual(CHILD_NAMES.map((name) => ({ name })));
        const history = await observer.history(id);
        const succeeded = history.find((e) => e.type === 'SUCCEED')!;
        for (const child of mine) {
          expect(child.endedAt!, `${where} resumed after child ${child.id} ended`).toBeLessThanOrEqual(succeeded.at);
          expect(history.filter((e) => e.type === 'SIGNAL' && e.actor === `child/${child.id}`), `${where}: child ${child.id} signalled once`).toHaveLength(1);
        }
        // One spawn step per child: a re-entered parent never recorded a second.
        expect(history.filter((e) => e.type === 'STEP').map((e) => e.payload!.name)).toEqual(CHILD_NAMES.map((name) => `spawn:${name}`));
        lost += history.filter((e) => e.type === 'LEASE_LOST').length;
      }
      expect(children).toHaveLength(ids.length * CHILD_NAMES.length);
      for (const job of all) {
        const history = await observer.history(job.id);
        expect(history.map((e) => e.seq), `job ${job.id}: one event per version`).toEqual(history.map((_e, i) => i + 1));
        expect(job.outcome, `job ${job.id} succeeded`).toBe('succeeded');
        expect(history.filter((e) => e.type === 'SUCCEED')).toHaveLength(1);
        expect((await observer.replay(job.id)).divergences, `job ${job.id} replays exactly`).toEqual([]);
      }
      console.log(`workflow.crash children: ${VICTIMS} kills, ${killsWhileParked} while a parent was parked; ${lost} parent attempts cut by a kill; ${children.length} children for ${ids.length} parents`);
      expect(lost, 'a kill cut a parent attempt').toBeGreaterThanOrEqual(1);
    } finally {
      await observer.close();
      remove();
    }
  }, 240_000);

  it('dependsOn under kills: no job runs before its dependencies end; one UNBLOCK per dependency', async () => {
    const seed = seedFromEnv() + 3;
    console.log(`workflow.crash dependencies: seed ${seed} (PHASELINE_SEED=${seed - 3} repeats it)`);
    const random = prng(seed);
    const db = await freshDatabase();
    const temp = makeTempDir('phaseline-deps-');
    const log = join(temp.dir, 'steps.log');
    writeFileSync(log, '');
    const observer = createPhaseline({ db });
    await observer.ready();
    registerParkTypes(observer, null);
    const lc = (i: number) => leafName(PARK_LIFECYCLES[i % PARK_LIFECYCLES.length]!);
    // Three layers: 6 roots, 6 jobs on two roots each, 3 on two of those each.
    const layers: number[][] = [[], [], []];
    const deps = new Map<number, number[]>();
    for (let i = 0; i < 6; i++) layers[0]!.push(await observer.enqueue(lc(i), { layer: 0, i }));
    for (let layer = 1; layer < 3; layer++) {
      const below = layers[layer - 1]!;
      for (let i = 0; i < (layer === 1 ? 6 : 3); i++) {
        const on = [below[(i * 2) % below.length]!, below[(i * 2 + 1) % below.length]!];
        const id = await observer.enqueue(lc(i + layer), { layer, i }, { dependsOn: on });
        deps.set(id, on);
        layers[layer]!.push(id);
      }
    }
    try {
      let next = spawnWorker(db, log, 'crash', seed);
      for (let v = 0; v < VICTIMS; v++) {
        const victim = next;
        next = spawnWorker(db, log, 'crash', seed + v + 1);
        await begin(victim);
        await victim.waitForLine(/^RUNNING$/, 3000).catch(() => null);
        await sleep(Math.floor(random() * 400));
        await kill(victim);
      }
      await kill(next).catch(() => {});
      await drain(db, log, seed + 100);

      const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => l.split(' ').map(Number));
      let cut = 0;
      for (const id of layers.flat()) {
        const job = await observer.get(id);
        const history = await observer.history(id);
        expect(job.outcome, `job ${id} succeeded`).toBe('succeeded');
        expect(history.map((e) => e.seq), `job ${id}: one event per version`).toEqual(history.map((_e, i) => i + 1));
        expect(history.filter((e) => e.type === 'SUCCEED')).toHaveLength(1);
        expect((await observer.replay(id)).divergences, `job ${id} replays exactly`).toEqual([]);
        cut += history.filter((e) => e.type === 'LEASE_LOST').length;
        const on = deps.get(id);
        if (!on) continue;
        const ended = Math.max(...(await Promise.all(on.map(async (d) => (await observer.get(d)).endedAt!))));
        const unblocks = history.filter((e) => e.type === 'UNBLOCK');
        expect(unblocks.map((e) => e.actor).sort(), `job ${id}: one UNBLOCK per dependency`).toEqual(on.map((d) => `job/${d}`).sort());
        expect(job.dependencies.map((d) => d.id).sort()).toEqual([...on].sort());
        const firstClaim = history.find((e) => e.type === 'CLAIM')!;
        expect(firstClaim.seq, `job ${id}: claimed only after its last UNBLOCK`).toBeGreaterThan(Math.max(...unblocks.map((e) => e.seq)));
        expect(firstClaim.at).toBeGreaterThanOrEqual(ended);
        for (const line of lines.filter((l) => l[0] === id)) expect(line[3]!, `job ${id}: its handler ran after its dependencies ended`).toBeGreaterThanOrEqual(ended);
        for (const d of on) expect((await observer.history(d)).filter((e) => e.type === 'DEPENDENT' && (e.payload as { id: number }).id === id)).toHaveLength(1);
      }
      console.log(`workflow.crash dependencies: ${VICTIMS} kills; ${cut} attempts cut by a kill; ${layers.flat().length} jobs, ${deps.size} with dependencies`);
    } finally {
      await observer.close();
      temp.remove();
    }
  }, 240_000);
});

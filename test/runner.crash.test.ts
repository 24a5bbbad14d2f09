/**
 * Crash recovery with real processes on a real database (a SQLite file, or a PostgreSQL server in
 * the postgres project): worker processes are SIGKILLed at random moments, over and over, while
 * they run jobs made of durable steps. Then the history must show that no job was lost, every job
 * succeeded once, no durable step ran again in an attempt that began after the step was recorded,
 * and replay agrees with every stored row.
 *
 * - Sequential: one worker process at a time is killed, 20 times; a last one drains the rest, so
 *   every recovery is done by workers that start after the crash (the next processes are spawned
 *   and open the database while one runs, as that takes a second or more, but start their workers
 *   only when told).
 * - Concurrent: a surviving worker process runs all along while others beside it are killed, so
 *   expired leases are recovered by a live process that claims at the same time.
 *
 * Each worker is killed a random delay after it began its first job (so every kill interrupts
 * work, however slowly a loaded machine lets it claim). Kill schedules come from a seeded PRNG;
 * the seed is printed, and PHASELINE_SEED repeats it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPhaseline } from '../src/phaseline.ts';
import type { JobEvent } from '../src/engine/job.ts';
import { CRASH_ATTEMPTS, CRASH_LIFECYCLES, CRASH_STEPS, registerCrashTypes, stepResult, typeName } from './fixtures/runner/crash-types.ts';
import { makeTempDir, prng, seedFromEnv, sleep, spawnFixture, type Child } from './helpers/processes.ts';
import { openJobCount, openRawDb, type RawDb } from './support/raw-db.ts';
import { STORE_TAG, freshDatabase } from './support/stores.ts';

const JOBS = 30;
/** The lifecycles' wire spelling of success. */
const SUCCESS_STATE: Record<string, string> = {
  ecotaxa: 'F',
  uws: 'COMPLETED',
  rime: 'JOB_STATUS_SUCCEEDED',
  synapse: 'COMPLETE',
  qiskit: 'DONE',
};

interface LogLine {
  jobId: number;
  step: string;
  leaseId: string;
  pid: number;
  at: number;
}

function readLog(file: string): LogLine[] {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  expect(lines.at(-1), 'the side-effect log ends with a complete line').toBe('');
  return lines.slice(0, -1).map((line) => {
    const match = /^(\d+) (s\d+) ([0-9a-f-]{36}\.\d+) (\d+) (\d+)$/.exec(line);
    if (!match) throw new Error(`malformed side-effect log line: ${JSON.stringify(line)}`);
    return { jobId: Number(match[1]), step: match[2]!, leaseId: match[3]!, pid: Number(match[4]), at: Number(match[5]) };
  });
}

/** The lease id in a worker's actor (`<workerId>/<leaseId>`); null for recovery and clients. */
function leaseOfActor(actor: string | null): string | null {
  const match = actor === null ? null : /\/([0-9a-f-]{36}\.\d+)$/.exec(actor);
  return match ? match[1]! : null;
}

/** A fresh database holding JOBS crash jobs (the five lifecycles in turn), and an empty log in a temp dir. */
async function prepare(prefix: string): Promise<{ db: string; log: string; ids: number[]; remove: () => void }> {
  const db = await freshDatabase();
  const temp = makeTempDir(prefix);
  const log = join(temp.dir, 'steps.log');
  writeFileSync(log, '');
  const setup = createPhaseline({ db });
  registerCrashTypes(setup, null);
  const ids: number[] = [];
  for (let i = 0; i < JOBS; i++) ids.push(await setup.enqueue(typeName(CRASH_LIFECYCLES[i % CRASH_LIFECYCLES.length]!), { n: i }));
  await setup.close();
  return { db, log, ids, remove: temp.remove };
}

/** Every crash worker a test spawned, so that none outlives it. */
const spawned: Child[] = [];

/** A crash worker process, its database open but its workers not started (see {@link begin}). */
function spawnWorker(db: string, log: string, mode: 'crash' | 'drain', seed: number, concurrency?: number): Child {
  const child = spawnFixture('crash-worker.ts', [db, log, mode, String(seed), ...(concurrency !== undefined ? [String(concurrency)] : [])]);
  spawned.push(child);
  return child;
}

/**
 * `count` crash workers, `make(i)` spawning the i-th, each spawned `depth` turns before it is
 * taken: call the result for the next one.
 */
function ahead(count: number, make: (i: number) => Child, depth = 2): () => Child {
  const waiting: Child[] = [];
  let made = 0;
  const fill = () => {
    while (waiting.length < depth && made < count) waiting.push(make(made++));
  };
  fill();
  return () => {
    const child = waiting.shift();
    if (!child) throw new Error(`all ${count} workers taken`);
    fill();
    return child;
  };
}

/** Tell a worker whose database is open to start its workers; resolves with its READY line. */
async function begin(child: Child): Promise<string> {
  await child.waitForLine(/^OPEN /);
  child.process.stdin!.write('start\n');
  return child.waitForLine(/^READY /);
}

/**
 * Start a worker that is to be killed, and wait until it runs a job (its claim may come late on a
 * loaded machine): the random delay before the kill counts from there, so that every kill
 * interrupts work. False when every job ended first, and there is nothing left to interrupt.
 */
async function beginVictim(child: Child, raw: RawDb): Promise<boolean> {
  await begin(child);
  const deadline = Date.now() + 40_000;
  for (let i = 0; !child.lines.includes('RUNNING'); i++) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) throw new Error(`worker ${child.pid} exited; stderr:\n${child.stderr()}`);
    if (Date.now() > deadline) throw new Error(`worker ${child.pid} ran no job within 40 s; stderr:\n${child.stderr()}`);
    if (i % 20 === 0 && (await openJobCount(raw)) === 0) return false;
    await sleep(10);
  }
  return true;
}

function killLeftovers(): void {
  for (const child of spawned.splice(0)) {
    if (child.process.exitCode === null && child.process.signalCode === null) child.kill('SIGKILL');
  }
}

/** SIGKILL a running crash worker and check it was still running and had reported no error. */
async function kill(child: Child, what: string): Promise<void> {
  child.kill('SIGKILL');
  const exit = await child.exited;
  expect(exit.signal, `${what}: the worker was still running when killed (stderr: ${child.stderr()})`).toBe('SIGKILL');
  expect(child.stderr(), `${what}: the worker reported no error`).not.toMatch(/ERROR/);
}

/** Wait for a drain-mode worker to report that every job is terminal and exit cleanly. */
async function drained(child: Child): Promise<void> {
  await child.waitForLine(/^DRAINED /, 40_000);
  const exit = await child.exited;
  expect(exit.code, `drain worker stderr:\n${child.stderr()}`).toBe(0);
  expect(child.stderr()).not.toMatch(/ERROR/);
}

interface Outcome {
  leaseLost: number;
  /** LEASE_LOST events by recovering worker id. */
  recoveredBy: Map<string, number>;
  stepRuns: number;
  reruns: number;
  events: number;
}

/**
 * Every job terminal and succeeded exactly once; every claim but the last recovered as a lost
 * lease with a retry; every step recorded once by a lease of the job, and the handler's result built
 * from the recorded results; and in the side-effect log, no step run by an attempt that was claimed
 * after the step had been recorded. Replay: 0 diverged.
 */
async function checkOutcome(db: string, log: string, ids: number[]): Promise<Outcome> {
  const p = createPhaseline({ db });
  try {
    registerCrashTypes(p, null);
    const jobs = await p.list();
    expect(jobs.map((j) => j.id).sort((a, b) => a - b)).toEqual(ids);
    const logLines = readLog(log);
    const byJob = new Map<number, LogLine[]>();
    for (const line of logLines) byJob.set(line.jobId, [...(byJob.get(line.jobId) ?? []), line]);
    expect([...byJob.keys()].every((id) => ids.includes(id)), 'log lines only for enqueued jobs').toBe(true);

    const outcome: Outcome = { leaseLost: 0, recoveredBy: new Map(), stepRuns: logLines.length, reruns: 0, events: 0 };
    for (const job of jobs) {
      const where = `job ${job.id} (${job.lifecycle})`;
      expect(job.terminal, `${where} is terminal`).toBe(true);
      expect(job.outcome, `${where} succeeded (errors: ${JSON.stringify(job.errors)})`).toBe('succeeded');
      expect(job.state, where).toBe(SUCCESS_STATE[job.lifecycle]);
      expect(job.progress.percent, where).toBe(100);

      const history: JobEvent[] = await p.history(job.id);
      expect(history.map((e) => e.seq), `${where}: one event per version`).toEqual(history.map((_, i) => i + 1));
      expect(job.version).toBe(history.length);
      const count = (type: string) => history.filter((e) => e.type === type).length;
      expect(count('SUCCEED'), `${where} succeeded exactly once`).toBe(1);
      expect(count('FAIL') + count('TIMEOUT') + count('RELEASE'), `${where}: only crashes interrupted it`).toBe(0);

      // Every claim but the last ended with the recovery of its expired lease.
      const claims = new Map<string, number>(); // lease id → seq of its CLAIM
      for (const e of history.filter((e) => e.type === 'CLAIM')) {
        const lease = leaseOfActor(e.actor);
        expect(lease, `${where}: CLAIM by a worker lease (${e.actor})`).not.toBeNull();
        expect(claims.has(lease!), `${where}: lease ${lease} claimed once`).toBe(false);
        claims.set(lease!, e.seq);
      }
      const lost = history.filter((e) => e.type === 'LEASE_LOST');
      outcome.leaseLost += lost.length;
      for (const e of lost) {
        expect(e.payload?.retryAt, `${where}: recovered with a retry`).toEqual(expect.any(Number));
        expect(e.actor, `${where}: recovered by a worker's maintenance`).toMatch(/\/recovery$/);
        const by = e.actor!.replace(/\/recovery$/, '');
        outcome.recoveredBy.set(by, (outcome.recoveredBy.get(by) ?? 0) + 1);
      }
      expect(claims.size, `${where}: claims = lease recoveries + 1`).toBe(lost.length + 1);
      expect(job.attempt, `${where}: each recovery spent an attempt`).toBe(claims.size);
      expect(job.attempt).toBeLessThanOrEqual(CRASH_ATTEMPTS);

      // Each step recorded exactly once, by a lease of this job, with that lease's result.
      const recorded = new Map<string, { seq: number; lease: string }>();
      for (const e of history.filter((e) => e.type === 'STEP')) {
        const name = e.payload?.name as string;
        expect(recorded.has(name), `${where}: step ${name} recorded once`).toBe(false);
        const lease = leaseOfActor(e.actor);
        expect(lease !== null && claims.has(lease), `${where}: step ${name} recorded under a claimed lease`).toBe(true);
        expect(e.payload?.result).toBe(stepResult(name, lease!));
        recorded.set(name, { seq: e.seq, lease: lease! });
      }
      expect([...recorded.keys()].sort()).toEqual([...CRASH_STEPS].sort());
      // The handler got the recorded results back, whichever attempt recorded them.
      expect(job.result).toEqual(Object.fromEntries(CRASH_STEPS.map((s) => [s, stepResult(s, recorded.get(s)!.lease)])));

      // The side-effect log against the history.
      const lines = byJob.get(job.id) ?? [];
      const seen = new Set<string>();
      for (const line of lines) {
        const key = `${line.step} ${line.leaseId}`;
        expect(seen.has(key), `${where}: lease ${line.leaseId} ran step ${line.step} once`).toBe(false);
        seen.add(key);
        const claimSeq = claims.get(line.leaseId);
        expect(claimSeq, `${where}: step ${line.step} ran under a lease this job was claimed with`).toBeDefined();
        const step = recorded.get(line.step)!;
        // The heart of it: no attempt that began after a step was recorded ran that step again.
        expect(
          claimSeq! < step.seq,
          `${where}: step ${line.step} ran under lease ${line.leaseId} (claimed at seq ${claimSeq}) after it was recorded at seq ${step.seq}`,
        ).toBe(true);
        if (line.leaseId !== step.lease) outcome.reruns++;
      }
      for (const [name, step] of recorded) {
        expect(seen.has(`${name} ${step.lease}`), `${where}: the recording lease of ${name} ran it`).toBe(true);
      }
    }

    const summary = await p.replayAll();
    expect(summary.jobs).toBe(JOBS);
    expect(summary.diverged, JSON.stringify(summary.reports, null, 2)).toBe(0);
    outcome.events = summary.events;
    return outcome;
  } finally {
    await p.close();
  }
}

describe(`runner: crash recovery across SIGKILLed worker processes ${STORE_TAG}`, () => {
  it('sequential: 20 workers killed one after another, then one drains; no job lost, no recorded step rerun', async () => {
    const CRASHES = 20;
    const seed = seedFromEnv();
    console.log(`[runner.crash] ${STORE_TAG} sequential seed ${seed} (repeat with PHASELINE_SEED=${seed})`);
    const random = prng(seed);
    const started = Date.now();
    const { db, log, ids, remove } = await prepare('phaseline-crash-');
    const raw = await openRawDb(db);
    try {
      const kills: number[] = [];
      // The crash workers, then the one that drains.
      const next = ahead(CRASHES + 1, (i) => (i < CRASHES ? spawnWorker(db, log, 'crash', seed + i + 1) : spawnWorker(db, log, 'drain', seed)));
      for (let round = 0; round < CRASHES; round++) {
        const child = next();
        if (!(await beginVictim(child, raw))) {
          await kill(child, `round ${round}, idle`);
          break; // nothing left to interrupt
        }
        const delay = 20 + Math.floor(random() * 300);
        kills.push(delay);
        await sleep(delay);
        await kill(child, `round ${round}`);
      }
      const left = await openJobCount(raw);
      const drainer = next();
      await begin(drainer);
      await drained(drainer);

      const outcome = await checkOutcome(db, log, ids);
      // The crashes did interrupt running jobs, or this test proved nothing.
      expect(outcome.leaseLost, 'leases recovered after the crashes').toBeGreaterThan(0);
      console.log(
        `[runner.crash] ${STORE_TAG} sequential seed ${seed}: ${kills.length} kills, each this long after the worker began a job: ${kills.join(',')} ms; ${left}/${JOBS} jobs unfinished before the drain; ` +
          `${outcome.leaseLost} leases recovered; ${outcome.stepRuns} step runs, ${outcome.reruns} of them re-runs of steps a crash kept from ` +
          `being recorded; ${outcome.events} events; ${Date.now() - started} ms`,
      );
    } finally {
      killLeftovers();
      await raw.close();
      remove();
    }
  }, 120_000);

  it('concurrent: workers killed beside a live one, which recovers their leases; no job lost, no recorded step rerun', async () => {
    const CRASHES = 8;
    const seed = seedFromEnv() + 7;
    console.log(`[runner.crash] ${STORE_TAG} concurrent seed ${seed} (repeat with PHASELINE_SEED=${seed - 7})`);
    const random = prng(seed);
    const started = Date.now();
    const { db, log, ids, remove } = await prepare('phaseline-crash-live-');
    const raw = await openRawDb(db);
    try {
      // One job at a time, so that the killed workers beside it get their share of the work.
      const survivor = spawnWorker(db, log, 'drain', seed, 1);
      const next = ahead(CRASHES, (i) => spawnWorker(db, log, 'crash', seed + i + 1));
      const survivorId = `crash-drain-${(await begin(survivor)).split(' ')[1]}`;
      let kills = 0;
      for (; kills < CRASHES; kills++) {
        const child = next();
        if (!(await beginVictim(child, raw))) {
          await kill(child, `victim ${kills}, idle`);
          break; // the survivor ran the rest: nothing left to interrupt
        }
        await sleep(50 + Math.floor(random() * 300));
        await kill(child, `victim ${kills}`);
      }
      await drained(survivor);

      const outcome = await checkOutcome(db, log, ids);
      expect(outcome.leaseLost, 'leases recovered after the crashes').toBeGreaterThan(0);
      // The live process, not a fresh one, recovered what the killed ones held.
      expect(outcome.recoveredBy.get(survivorId) ?? 0, `recoveries by the survivor (all: ${JSON.stringify([...outcome.recoveredBy])})`).toBeGreaterThan(0);
      console.log(
        `[runner.crash] ${STORE_TAG} concurrent seed ${seed}: ${kills} kills; ${outcome.leaseLost} leases recovered (${outcome.recoveredBy.get(survivorId)} by the live worker); ` +
          `${outcome.stepRuns} step runs, ${outcome.reruns} re-runs; ${outcome.events} events; ${Date.now() - started} ms`,
      );
    } finally {
      killLeftovers();
      await raw.close();
      remove();
    }
  }, 120_000);
});

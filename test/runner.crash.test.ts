/**
 * Crash recovery with real processes on a real database file: worker processes are SIGKILLed at
 * random moments, over and over, while they run jobs made of durable steps. Then the history must
 * show that no job was lost, every job succeeded once, no durable step ran again in an attempt that
 * began after the step was recorded, and replay agrees with every stored row.
 *
 * - Sequential: one worker process at a time is killed, 20 times; a last one drains the rest, so
 *   every recovery is done by a process that starts after the crash.
 * - Concurrent: a surviving worker process runs all along while others beside it are killed, so
 *   expired leases are recovered by a live process that claims at the same time.
 *
 * Kill schedules come from a seeded PRNG; the seed is printed, and PHASELINE_SEED repeats it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPhaseline } from '../src/phaseline.ts';
import type { JobEvent } from '../src/engine/job.ts';
import { CRASH_ATTEMPTS, CRASH_LIFECYCLES, CRASH_STEPS, registerCrashTypes, stepResult, typeName } from './fixtures/runner/crash-types.ts';
import { makeTempDir, prng, seedFromEnv, sleep, spawnFixture, type Child } from './helpers/processes.ts';

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

/** A temp dir with a database holding JOBS crash jobs (the five lifecycles in turn) and an empty log. */
async function prepare(prefix: string): Promise<{ file: string; log: string; ids: number[]; remove: () => void }> {
  const temp = makeTempDir(prefix);
  const file = join(temp.dir, 'jobs.db');
  const log = join(temp.dir, 'steps.log');
  writeFileSync(log, '');
  const setup = createPhaseline({ file });
  registerCrashTypes(setup, null);
  const ids: number[] = [];
  for (let i = 0; i < JOBS; i++) ids.push(await setup.enqueue(typeName(CRASH_LIFECYCLES[i % CRASH_LIFECYCLES.length]!), { n: i }));
  await setup.close();
  return { file, log, ids, remove: temp.remove };
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
async function checkOutcome(file: string, log: string, ids: number[]): Promise<Outcome> {
  const p = createPhaseline({ file });
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

async function unfinished(file: string): Promise<number> {
  const p = createPhaseline({ file });
  try {
    return (await p.list()).filter((j) => !j.terminal).length;
  } finally {
    await p.close();
  }
}

describe('runner: crash recovery across SIGKILLed worker processes', () => {
  it('sequential: 20 workers killed one after another, then one drains; no job lost, no recorded step rerun', async () => {
    const CRASHES = 20;
    const seed = seedFromEnv();
    console.log(`[runner.crash] sequential seed ${seed} (repeat with PHASELINE_SEED=${seed})`);
    const random = prng(seed);
    const started = Date.now();
    const { file, log, ids, remove } = await prepare('phaseline-crash-');
    try {
      const kills: number[] = [];
      for (let round = 0; round < CRASHES; round++) {
        const child = spawnFixture('crash-worker.ts', [file, log, 'crash', String(seed + round + 1)]);
        await child.waitForLine(/^READY /);
        const delay = 20 + Math.floor(random() * 300);
        kills.push(delay);
        await sleep(delay);
        await kill(child, `round ${round}`);
      }
      const left = await unfinished(file);
      await drained(spawnFixture('crash-worker.ts', [file, log, 'drain', String(seed)]));

      const outcome = await checkOutcome(file, log, ids);
      // The crashes did interrupt running jobs, or this test proved nothing.
      expect(outcome.leaseLost, 'leases recovered after the crashes').toBeGreaterThan(0);
      console.log(
        `[runner.crash] sequential seed ${seed}: ${CRASHES} kills after ${kills.join(',')} ms; ${left}/${JOBS} jobs unfinished before the drain; ` +
          `${outcome.leaseLost} leases recovered; ${outcome.stepRuns} step runs, ${outcome.reruns} of them re-runs of steps a crash kept from ` +
          `being recorded; ${outcome.events} events; ${Date.now() - started} ms`,
      );
    } finally {
      remove();
    }
  }, 120_000);

  it('concurrent: workers killed beside a live one, which recovers their leases; no job lost, no recorded step rerun', async () => {
    const CRASHES = 8;
    const seed = seedFromEnv() + 7;
    console.log(`[runner.crash] concurrent seed ${seed} (repeat with PHASELINE_SEED=${seed - 7})`);
    const random = prng(seed);
    const started = Date.now();
    const { file, log, ids, remove } = await prepare('phaseline-crash-live-');
    let survivor: Child | null = null;
    try {
      // One job at a time, so that the killed workers beside it get their share of the work.
      survivor = spawnFixture('crash-worker.ts', [file, log, 'drain', String(seed), '1']);
      const survivorId = `crash-drain-${(await survivor.waitForLine(/^READY /)).split(' ')[1]}`;
      let kills = 0;
      for (; kills < CRASHES; kills++) {
        const child = spawnFixture('crash-worker.ts', [file, log, 'crash', String(seed + kills + 1)]);
        await child.waitForLine(/^READY /);
        await sleep(50 + Math.floor(random() * 300));
        await kill(child, `victim ${kills}`);
        if (survivor.lines.some((l) => l.startsWith('DRAINED '))) break; // nothing left to interrupt
      }
      await drained(survivor);

      const outcome = await checkOutcome(file, log, ids);
      expect(outcome.leaseLost, 'leases recovered after the crashes').toBeGreaterThan(0);
      // The live process, not a fresh one, recovered what the killed ones held.
      expect(outcome.recoveredBy.get(survivorId) ?? 0, `recoveries by the survivor (all: ${JSON.stringify([...outcome.recoveredBy])})`).toBeGreaterThan(0);
      console.log(
        `[runner.crash] concurrent seed ${seed}: ${kills} kills; ${outcome.leaseLost} leases recovered (${outcome.recoveredBy.get(survivorId)} by the live worker); ` +
          `${outcome.stepRuns} step runs, ${outcome.reruns} re-runs; ${outcome.events} events; ${Date.now() - started} ms`,
      );
    } finally {
      if (survivor && survivor.process.exitCode === null && survivor.process.signalCode === null) survivor.kill('SIGKILL');
      remove();
    }
  }, 120_000);
});

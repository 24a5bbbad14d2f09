/**
 * A model-based test of the runner's protocol, with no timers: a fake clock and several simulated
 * workers that act through the runner's own code, its port (src/runner/port.ts: claim, fenced
 * write, heartbeat) and its recovery module (src/runner/recovery.ts, with a LeaseWatch per worker):
 * they claim, heartbeat, work (progress, durable steps, ask, succeed, fail, release, cancel-done),
 * crash (forget their leases and what they observed), recover expired leases, and write late with
 * leases they lost; clients enqueue, cancel and reply. Only the loop's timers are the model's. Each
 * worker has its own wall clock (one starts an hour ahead, one behind, and they jump) that stamps
 * the leases it writes, and its own lease duration; true time is the model's. Expiry is modelled
 * as the rule says: an observer takes a lease as expired once the record it saw (lease id, expiry)
 * has stayed the same for the holder's duration, from when that observer first saw it. And no
 * recovery may take a lease whose holder renewed it within its duration in true time, whatever
 * the clocks say. Every command is checked against an independent model of the
 * five lifecycles, and after every command:
 * - each job's row matches the model (state, flags, outcome, lease, attempt, progress, steps...);
 * - version = history length, seq 1..n, and no job has more than one SUCCEED;
 * - no job is lost: each is claimable, waiting, terminal, or running under a lease that either
 *   lives or will be found expired;
 * - every refused write (a stale lease, an event the state does not accept) changed nothing: the
 *   job's raw row and history and the connection's total_changes() are as before.
 * After the commands, a drain must bring every job to a terminal state, and replay must agree.
 *
 * Seed: PHASELINE_SEED (printed); runs: PHASELINE_PROPERTY_RUNS (default 200).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtInLifecycles } from '../machines/index.ts';
import { openDatabase, type OpenDatabase } from '../src/db/open.ts';
import { Engine } from '../src/engine/engine.ts';
import type { Job } from '../src/engine/job-types.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { LifecycleRegistry } from '../src/engine/lifecycles.ts';
import { isPhaselineError } from '../src/errors.ts';
import { replayAll } from '../src/replay/replay.ts';
import { LeaseWatch } from '../src/runner/leases.ts';
import { enginePort, type RunnerPort, type RunningLease } from '../src/runner/port.ts';
import { recoverExpired } from '../src/runner/recovery.ts';
import { seedFromEnv } from './helpers/processes.ts';

const LIFECYCLES = ['ecotaxa', 'uws', 'rime', 'synapse', 'qiskit'] as const;
type LifecycleName = (typeof LIFECYCLES)[number];
const TYPES = LIFECYCLES.map((l) => `model-${l}`);
const WORKERS = 3;
/** Each worker's lease duration; the last is the drainer's. */
const LEASE_MS = [1000, 1000, 2500, 1000];
const MAX_LEASE_MS = Math.max(...LEASE_MS);
/** Each worker's wall clock at the start, against true time: one an hour ahead, one behind. */
const SKEW_MS = [0, 3_600_000, -5_000, 0];
const MAX_RETRY_DELAY = 500;
const T0 = 1_700_000_000_000;

// ── The model ─────────────────────────────────────────────────────────────────

type Phase = 'queued' | 'validating' | 'running' | 'waiting' | 'done';
type Outcome = 'succeeded' | 'failed' | 'cancelled';

interface MJob {
  id: number;
  lifecycle: LifecycleName;
  phase: Phase;
  outcome: Outcome | null;
  /** UWS: released (RELEASE goes to SUSPENDED, which is waiting and claimable). */
  suspended: boolean;
  cancelRequested: boolean;
  resuming: boolean;
  attempt: number;
  runAfter: number;
  leaseId: string | null;
  leaseExpiresAt: number | null;
  workerId: string | null;
  /** The holder's lease duration, and the true instant it last wrote the lease record. */
  leaseMs: number;
  renewedAt: number;
  version: number;
  succeeds: number;
  percent: number;
  steps: Record<string, string>;
  replies: number;
}

interface Model {
  /** True time; also every worker's monotonic clock. */
  now: number;
  /** Each worker's wall clock minus true time. */
  skew: number[];
  /** What each worker's maintenance has seen of each running job's lease record, and since when. */
  observed: Array<Map<number, { leaseId: string; expiresAt: number; since: number }>>;
  jobs: Map<number, MJob>;
  /** What each worker believes it holds: job id → lease id. */
  workers: Array<Map<number, string>>;
  /** Every lease ever issued. */
  leases: Array<{ jobId: number; leaseId: string }>;
  nextLease: number;
  /** Refused writes checked to have changed nothing, for the statistics. */
  refused: { leaseLost: number; illegal: number };
  /** Leases recovered, of them taken from a worker whose wall clock was not the recoverer's; recoveries a late heartbeat beat. */
  recovered: { total: number; skewed: number; raced: number };
  /** Accepted events by `lifecycle:type`, for the statistics (how much of the protocol a run covered). */
  accepted: Record<string, number>;
  /** Times the invariants were checked (once per command run, and per drain round). */
  checks: number;
}

interface Real {
  engine: Engine;
  /** The runner's port on the engine: what a Runner is handed. */
  port: RunnerPort;
  database: OpenDatabase;
  /** Each worker's expiry judge, on the model's true time as its monotonic clock. */
  watches: LeaseWatch[];
}

type WorkerEvent =
  | { type: 'CLAIM' }
  | { type: 'VALIDATED' }
  | { type: 'PROGRESS'; percent: number }
  | { type: 'STEP'; name: string; result: string }
  | { type: 'ASK'; question: string }
  | { type: 'SUCCEED'; result: string }
  | { type: 'FAIL'; error: { message: string }; retryAt?: number }
  | { type: 'LEASE_LOST'; retryAt?: number }
  | { type: 'RELEASE' }
  | { type: 'CANCEL' }
  | { type: 'CANCEL_DONE' }
  | { type: 'REPLY'; reply: string };

const working = (j: MJob) => j.phase === 'running' || j.phase === 'validating';
const cancelsInTwoSteps = (l: LifecycleName) => l === 'rime' || l === 'synapse';

/**
 * The model's reading of each lifecycle (machines/*.ts, written independently of them): the job
 * after `event`, or null when the state does not accept it.
 */
function modelTransition(j: MJob, event: WorkerEvent, lease?: { leaseId: string; expiresAt: number; workerId: string }): MJob | null {
  const next: MJob = { ...j, steps: { ...j.steps }, version: j.version + 1 };
  const endAttempt = (phase: Phase, outcome: Outcome | null) => {
    next.phase = phase;
    next.outcome = outcome;
    next.leaseId = next.leaseExpiresAt = next.workerId = null;
    if (phase === 'done') next.runAfter = 0; // a finished job waits for nothing
  };
  const l = j.lifecycle;
  switch (event.type) {
    case 'CLAIM':
      if (j.phase !== 'queued') return null;
      next.phase = l === 'qiskit' ? 'validating' : 'running';
      if (!j.resuming) {
        next.attempt++;
        next.percent = 0;
      }
      next.resuming = false;
      next.suspended = false;
      next.runAfter = 0;
      next.leaseId = lease!.leaseId;
      next.leaseExpiresAt = lease!.expiresAt;
      next.workerId = lease!.workerId;
      return next;
    case 'VALIDATED':
      if (l !== 'qiskit' || j.phase !== 'validating') return null;
      next.phase = 'running';
      return next;
    case 'PROGRESS':
      if (j.phase !== 'running') return null;
      next.percent = Math.max(j.percent, Math.min(100, event.percent));
      return next;
    case 'STEP':
      if (j.phase !== 'running') return null;
      next.steps[event.name] = event.result;
      return next;
    case 'ASK':
      if (l !== 'ecotaxa' || j.phase !== 'running') return null;
      endAttempt('waiting', null);
      return next;
    case 'SUCCEED':
      if (j.phase !== 'running') return null;
      endAttempt('done', 'succeeded');
      next.percent = 100;
      next.succeeds++;
      return next;
    case 'FAIL':
    case 'LEASE_LOST':
      if (!working(j)) return null;
      if (event.retryAt !== undefined && !j.cancelRequested) {
        next.runAfter = event.retryAt;
        endAttempt('queued', null);
      } else {
        next.runAfter = 0; // no next attempt, so no instant to wait for
        endAttempt('done', 'failed');
      }
      return next;
    case 'RELEASE':
      if (!working(j)) return null;
      next.resuming = true;
      // RIME and Synapse end a cancel-requested job that nobody runs any more.
      if (j.cancelRequested && (l === 'rime' || l === 'synapse')) {
        endAttempt('done', 'cancelled');
        return next;
      }
      endAttempt('queued', null);
      next.suspended = l === 'uws';
      return next;
    case 'CANCEL':
      if (j.phase === 'done') return null;
      next.cancelRequested = true;
      if (cancelsInTwoSteps(l) && j.phase === 'running') return next; // ends on CANCEL_DONE
      endAttempt('done', 'cancelled');
      return next;
    case 'CANCEL_DONE':
      if (!cancelsInTwoSteps(l) || j.phase !== 'running' || !j.cancelRequested) return null;
      endAttempt('done', 'cancelled');
      return next;
    case 'REPLY':
      if (l !== 'ecotaxa' || j.phase !== 'waiting') return null;
      next.phase = 'queued';
      next.resuming = true;
      next.replies++;
      return next;
  }
}

/** The wire spelling of the model job's state. */
function expectedState(j: MJob): string {
  const o = j.outcome;
  switch (j.lifecycle) {
    case 'ecotaxa':
      return { queued: 'P', validating: '?', running: 'R', waiting: 'A', done: o === 'succeeded' ? 'F' : 'E' }[j.phase];
    case 'uws':
      if (j.phase === 'queued') return j.suspended ? 'SUSPENDED' : 'QUEUED';
      if (j.phase === 'running') return 'EXECUTING';
      return o === 'succeeded' ? 'COMPLETED' : o === 'failed' ? 'ERROR' : o === 'cancelled' ? 'ABORTED' : '?';
    case 'rime':
      if (j.phase === 'queued') return 'JOB_STATUS_PENDING';
      if (j.phase === 'running') return 'JOB_STATUS_RUNNING';
      return `JOB_STATUS_${o === 'succeeded' ? 'SUCCEEDED' : o === 'failed' ? 'FAILED' : o === 'cancelled' ? 'CANCELLED' : '?'}`;
    case 'synapse':
      if (j.phase === 'queued' || j.phase === 'running') return 'PROCESSING';
      return o === 'succeeded' ? 'COMPLETE' : 'FAILED';
    case 'qiskit':
      if (j.phase === 'queued') return 'QUEUED';
      if (j.phase === 'validating') return 'VALIDATING';
      if (j.phase === 'running') return 'RUNNING';
      return o === 'succeeded' ? 'DONE' : o === 'failed' ? 'ERROR' : 'CANCELLED';
  }
}

// ── Talking to the real engine ────────────────────────────────────────────────

function rawJob(real: Real, id: number): unknown {
  return real.database.sqlite.prepare('SELECT * FROM jobs WHERE id = ?').raw().get(id);
}
function rawHistory(real: Real, id: number): unknown[] {
  return real.database.sqlite.prepare('SELECT * FROM job_events WHERE job_id = ? ORDER BY seq').raw().all(id);
}
function totalChanges(real: Real): number {
  return real.database.sqlite.prepare('SELECT total_changes() AS n').pluck().get() as number;
}

/**
 * Send `event` to job `jobId` as the runner would (fenced by `fence` when given) and check the
 * engine's answer against the model: accepted (the model job is updated), or refused with
 * LEASE_LOST / ILLEGAL_TRANSITION and nothing written at all.
 * @returns whether the engine accepted the event, and the refusal's code otherwise.
 */
function sendChecked(
  model: Model,
  real: Real,
  jobId: number,
  event: WorkerEvent,
  options: { fence?: string; fenceExpiresAt?: number | null; actor: string; lease?: { leaseId: string; expiresAt: number; workerId: string } },
  /** How the write is made; by default `engine.send` with the options (clients). */
  perform?: () => unknown,
): 'ok' | 'LEASE_LOST' | 'ILLEGAL_TRANSITION' {
  const job = model.jobs.get(jobId)!;
  let expected: MJob | 'LEASE_LOST' | 'ILLEGAL_TRANSITION';
  if (options.fence !== undefined && options.fence !== job.leaseId) expected = 'LEASE_LOST';
  else if (options.fenceExpiresAt !== undefined && options.fenceExpiresAt !== job.leaseExpiresAt) expected = 'LEASE_LOST';
  else expected = modelTransition(job, event, options.lease) ?? 'ILLEGAL_TRANSITION';

  const rowBefore = rawJob(real, jobId);
  const historyBefore = rawHistory(real, jobId);
  const changesBefore = totalChanges(real);
  let outcome: 'ok' | 'LEASE_LOST' | 'ILLEGAL_TRANSITION';
  try {
    if (perform) perform();
    else real.engine.send(jobId, { ...event }, {
      ...(options.fence !== undefined
        ? { fence: { leaseId: options.fence, ...(options.fenceExpiresAt !== undefined ? { leaseExpiresAt: options.fenceExpiresAt } : {}) } }
        : {}),
      ...(options.lease ? { lease: { leaseId: options.lease.leaseId, leaseExpiresAt: options.lease.expiresAt, workerId: options.lease.workerId } } : {}),
      actor: options.actor,
    });
    outcome = 'ok';
  } catch (error) {
    if (isPhaselineError(error, 'LEASE_LOST')) outcome = 'LEASE_LOST';
    else if (isPhaselineError(error, 'ILLEGAL_TRANSITION')) outcome = 'ILLEGAL_TRANSITION';
    else throw error;
  }
  const what = `job ${jobId} (${job.lifecycle}, ${job.phase}) ${JSON.stringify(event)} fence ${options.fence ?? '-'} (lease ${job.leaseId})`;
  expect(outcome, what).toBe(typeof expected === 'string' ? expected : 'ok');
  if (outcome === 'ok') {
    model.jobs.set(jobId, expected as MJob);
    const key = `${job.lifecycle}:${event.type}${event.type === 'CLAIM' && job.resuming ? '(resume)' : ''}`;
    model.accepted[key] = (model.accepted[key] ?? 0) + 1;
  } else {
    // A refused write changed nothing: not the row, not the history, not anything else.
    expect(rawJob(real, jobId), `${what}: row unchanged`).toEqual(rowBefore);
    expect(rawHistory(real, jobId), `${what}: history unchanged`).toEqual(historyBefore);
    expect(totalChanges(real), `${what}: nothing written`).toBe(changesBefore);
    if (outcome === 'LEASE_LOST') model.refused.leaseLost++;
    else model.refused.illegal++;
  }
  return outcome;
}

/** The invariants, after every command. */
function checkAll(model: Model, real: Real): void {
  model.checks++;
  const { sqlite } = real.database;
  expect(sqlite.prepare('SELECT count(*) FROM jobs').pluck().get()).toBe(model.jobs.size);
  const doubles = sqlite.prepare("SELECT job_id FROM job_events WHERE type = 'SUCCEED' GROUP BY job_id HAVING count(*) > 1").pluck().all();
  expect(doubles, 'jobs completed twice').toEqual([]);
  let events = 0;
  for (const j of model.jobs.values()) {
    const row = real.engine.find(j.id)!;
    const where = `job ${j.id} (${j.lifecycle}) model ${JSON.stringify(j)}`;
    expect(row, where).toBeDefined();
    expect(
      {
        state: row.state, claimable: row.claimable, running: row.running, waiting: row.waiting, outcome: row.outcome,
        ended: row.endedAt !== null, cancelRequested: row.cancelRequested, attempt: row.attempt, runAfter: row.runAfter,
        leaseId: row.leaseId, leaseExpiresAt: row.leaseExpiresAt, workerId: row.workerId, version: row.version,
        percent: row.progressPercent, steps: (row.snapshot.context as { steps: unknown }).steps,
        replies: ((row.snapshot.context as { replies: unknown[] }).replies).length,
      },
      where,
    ).toEqual({
      state: expectedState(j), claimable: j.phase === 'queued', running: working(j),
      waiting: j.phase === 'waiting' || (j.phase === 'queued' && j.suspended), outcome: j.outcome,
      ended: j.phase === 'done', cancelRequested: j.cancelRequested, attempt: j.attempt, runAfter: j.runAfter,
      leaseId: j.leaseId, leaseExpiresAt: j.leaseExpiresAt, workerId: j.workerId, version: j.version,
      percent: j.percent, steps: j.steps, replies: j.replies,
    });
    // Not lost: someone can always move it on.
    const live = row.outcome !== null || row.claimable || row.waiting || (row.running && row.leaseId !== null && row.leaseExpiresAt !== null);
    expect(live, `${where} is lost`).toBe(true);
    const seqs = sqlite.prepare('SELECT seq FROM job_events WHERE job_id = ? ORDER BY seq').pluck().all(j.id) as number[];
    expect(seqs, where).toEqual(Array.from({ length: row.version }, (_, i) => i + 1));
    const succeeds = sqlite.prepare("SELECT count(*) FROM job_events WHERE job_id = ? AND type = 'SUCCEED'").pluck().get(j.id);
    expect(succeeds, where).toBe(j.succeeds);
    events += row.version;
  }
  expect(sqlite.prepare('SELECT count(*) FROM job_events').pluck().get()).toBe(events);
}

// ── Commands ──────────────────────────────────────────────────────────────────

type Cmd = fc.AsyncCommand<Model, Real>;

function enqueue(model: Model, real: Real, lifecycle: LifecycleName): number {
  const row = real.engine.create({ lifecycle, type: `model-${lifecycle}`, input: { params: { n: model.jobs.size } } });
  const expectedId = model.jobs.size + 1;
  expect(row.id).toBe(expectedId);
  const startEvents = builtInLifecycles[lifecycle].startEvents?.length ?? 0;
  model.jobs.set(row.id, {
    id: row.id, lifecycle, phase: 'queued', outcome: null, suspended: false, cancelRequested: false, resuming: false,
    attempt: 0, runAfter: 0, leaseId: null, leaseExpiresAt: null, workerId: null, leaseMs: 0, renewedAt: 0, version: 1 + startEvents,
    succeeds: 0, percent: 0, steps: {}, replies: 0,
  });
  return row.id;
}

/**
 * The runner's claim (port.claim): one immediate transaction, due claimable jobs in claim order,
 * each under a new lease stamped with the worker's wall clock. (Due-ness is judged on true time
 * here: the engine's clock is the model's.)
 */
function claim(model: Model, real: Real, worker: number, limit: number): number[] {
  const now = model.now;
  const expected = [...model.jobs.values()]
    .filter((j) => j.phase === 'queued' && j.runAfter <= now)
    .map((j) => j.id)
    .sort((a, b) => a - b)
    .slice(0, limit);
  const leases: Array<{ leaseId: string; expiresAt: number; workerId: string }> = [];
  const claimed = real.port.claim(limit, TYPES, () => {
    // The id names the holder's duration, as Runner's lease ids do.
    const leaseId = `lease-${model.nextLease++}.${LEASE_MS[worker]}`;
    const lease = { leaseId, expiresAt: wall(model, worker) + LEASE_MS[worker]!, workerId: `w${worker}` };
    leases.push(lease);
    return { leaseId, leaseExpiresAt: lease.expiresAt, workerId: lease.workerId, actor: `w${worker}/${leaseId}` };
  }) as Job[];
  expect(claimed.map((job) => job.id), `claimed at ${now - T0}`).toEqual(expected);
  claimed.forEach((job, i) => {
    const lease = leases[i]!;
    expect(job.lease?.id).toBe(lease.leaseId);
    const before = model.jobs.get(job.id)!;
    const next = modelTransition(before, { type: 'CLAIM' }, lease);
    expect(next, `job ${job.id} claimable in the model`).not.toBeNull();
    model.jobs.set(job.id, { ...next!, leaseMs: LEASE_MS[worker]!, renewedAt: now });
    const key = `${before.lifecycle}:CLAIM${before.resuming ? '(resume)' : ''}`;
    model.accepted[key] = (model.accepted[key] ?? 0) + 1;
    model.workers[worker]!.set(job.id, lease.leaseId);
    model.leases.push({ jobId: job.id, leaseId: lease.leaseId });
  });
  return claimed.map((job) => job.id);
}

const wall = (model: Model, worker: number): number => model.now + model.skew[worker]!;

/** Which worker holds a lease id now, if any still believes it does. */
const holderOf = (model: Model, jobId: number, leaseId: string): number | null => {
  const w = model.workers.findIndex((held) => held.get(jobId) === leaseId);
  return w < 0 ? null : w;
};

/** The model's reading of the expiry rule: what `worker` takes as expired now, updating what it has seen. */
function modelExpired(model: Model, worker: number): number[] {
  const seen = model.observed[worker]!;
  const running = [...model.jobs.values()].filter(working);
  for (const id of [...seen.keys()]) if (!running.some((j) => j.id === id)) seen.delete(id);
  const expired: number[] = [];
  for (const j of running) {
    if (j.leaseId === null || j.leaseExpiresAt === null) {
      expired.push(j.id);
      continue;
    }
    const before = seen.get(j.id);
    if (!before || before.leaseId !== j.leaseId || before.expiresAt !== j.leaseExpiresAt) {
      seen.set(j.id, { leaseId: j.leaseId, expiresAt: j.leaseExpiresAt, since: model.now });
    }
    if (model.now - seen.get(j.id)!.since >= j.leaseMs) expired.push(j.id);
  }
  return expired.sort((a, b) => a - b);
}

/**
 * The runner's recovery (recoverExpired, as Runner#maintain calls it): the expired leases of jobs
 * this worker does not run, each recovered by a write fenced by the lease record judged. The port
 * it is handed checks each recovery against the model. With `race`, the holder (if alive)
 * heartbeats between the judgement and the write: the write must then be refused and the job stay
 * with its holder.
 */
async function recover(model: Model, real: Real, worker: number, retryDelay: number | null, race = false): Promise<void> {
  const now = model.now;
  const expected = modelExpired(model, worker);
  let judged: RunningLease[] | null = null;
  const watch = real.watches[worker]!;
  const judge = {
    expired: (rows: RunningLease[]) => (judged = watch.expired(rows)),
  } as unknown as LeaseWatch;
  const recovering: RunnerPort = {
    ...real.port,
    recover: (lease, event, actor) => {
      const j = model.jobs.get(lease.id)!;
      expect([lease.leaseId, lease.leaseExpiresAt]).toEqual([j.leaseId, j.leaseExpiresAt]);
      const expectedType = lease.cancelRequested && cancelsInTwoSteps(j.lifecycle) ? 'CANCEL_DONE' : 'LEASE_LOST';
      expect(event.type, `recovery of job ${lease.id}`).toBe(expectedType);
      if (expectedType === 'LEASE_LOST') expect(event.retryAt).toBe(retryDelay !== null ? now + retryDelay : undefined);
      const holder = lease.leaseId === null ? null : holderOf(model, lease.id, lease.leaseId);
      if (race && holder !== null) heartbeat(model, real, holder, lease.id);
      let refusal: unknown = null;
      const outcome = sendChecked(model, real, lease.id, event as WorkerEvent, { fence: lease.leaseId!, fenceExpiresAt: lease.leaseExpiresAt, actor }, () => {
        try {
          real.port.recover(lease, event, actor);
        } catch (error) {
          refusal = error;
          throw error;
        }
      });
      if (race && holder !== null) {
        expect(outcome, `job ${lease.id}: a heartbeat that lands first keeps the lease`).toBe('LEASE_LOST');
        model.recovered.raced++;
        throw refusal; // as the real port does: recoverExpired takes LEASE_LOST as "its worker came back"
      }
      expect(outcome).toBe('ok');
      // The point of the rule: whatever the wall clocks, no lease renewed within its duration is taken.
      if (j.leaseId !== null) {
        expect(now - j.renewedAt, `job ${lease.id}: lease of ${j.workerId} taken ${now - j.renewedAt} ms after its renewal`).toBeGreaterThanOrEqual(j.leaseMs);
      }
      model.recovered.total++;
      if (j.workerId !== null && model.skew[Number(j.workerId.slice(1))] !== model.skew[worker]) model.recovered.skewed++;
    },
  };
  const reported: unknown[] = [];
  await recoverExpired(recovering, judge, {
    isActive: (id) => model.workers[worker]!.has(id),
    retry: () => (retryDelay !== null ? { retryAt: now + retryDelay } : {}),
    actor: `w${worker}/recovery`,
    report: (error) => reported.push(error),
  });
  expect(reported, 'recovery reported no error').toEqual([]);
  expect((judged ?? []).map((r: RunningLease) => r.id).sort((a, b) => a - b), `expired leases for w${worker} at ${now - T0}`).toEqual(expected);
}

/** Runner#beat for one job: renew the lease, stamped with the worker's wall clock; false when it was lost. */
function heartbeat(model: Model, real: Real, worker: number, jobId: number): boolean {
  const leaseId = model.workers[worker]!.get(jobId)!;
  const j = model.jobs.get(jobId)!;
  const expiresAt = wall(model, worker) + LEASE_MS[worker]!;
  const changesBefore = totalChanges(real);
  const { renewed } = real.port.heartbeat(jobId, leaseId, expiresAt) as { renewed: boolean };
  expect(renewed, `renew job ${jobId} lease ${leaseId} (current ${j.leaseId})`).toBe(j.leaseId === leaseId && working(j));
  if (renewed) {
    // The record always changes, even when the worker's clock stood still or stepped back.
    model.jobs.set(jobId, { ...j, leaseExpiresAt: Math.max(expiresAt, j.leaseExpiresAt! + 1), renewedAt: model.now });
  } else {
    expect(totalChanges(real), 'a refused heartbeat writes nothing').toBe(changesBefore);
    model.workers[worker]!.delete(jobId); // the runner's #check: the attempt was lost
  }
  return renewed;
}

const WORK_KINDS = ['VALIDATED', 'PROGRESS', 'STEP', 'ASK', 'SUCCEED', 'FAIL', 'FAIL_RETRY', 'RELEASE', 'CANCEL_DONE'] as const;
type WorkKind = (typeof WORK_KINDS)[number];
const LATE_KINDS = ['SUCCEED', 'FAIL', 'FAIL_RETRY', 'PROGRESS', 'STEP', 'ASK', 'RELEASE', 'CANCEL_DONE', 'VALIDATED', 'LEASE_LOST'] as const;

function workEvent(kind: WorkKind | (typeof LATE_KINDS)[number], arg: number, now: number): WorkerEvent {
  switch (kind) {
    case 'VALIDATED':
    case 'RELEASE':
    case 'CANCEL_DONE':
      return { type: kind };
    case 'PROGRESS':
      return { type: 'PROGRESS', percent: arg % 101 };
    case 'STEP':
      return { type: 'STEP', name: `s${arg % 4}`, result: `r${arg}` };
    case 'ASK':
      return { type: 'ASK', question: `q${arg}` };
    case 'SUCCEED':
      return { type: 'SUCCEED', result: `done${arg}` };
    case 'FAIL':
      return { type: 'FAIL', error: { message: `boom ${arg}` } };
    case 'FAIL_RETRY':
      return { type: 'FAIL', error: { message: `boom ${arg}` }, retryAt: now + (arg % MAX_RETRY_DELAY) };
    case 'LEASE_LOST':
      return { type: 'LEASE_LOST', retryAt: now + (arg % MAX_RETRY_DELAY) };
  }
}

const ENDS_ATTEMPT = new Set(['ASK', 'SUCCEED', 'FAIL', 'RELEASE', 'CANCEL_DONE', 'LEASE_LOST']);

/** A worker acts on a job it believes it holds, fenced by its lease (which may be stale). */
function work(model: Model, real: Real, worker: number, jobId: number, kind: WorkKind, arg: number): void {
  const leaseId = model.workers[worker]!.get(jobId)!;
  const event = workEvent(kind, arg, model.now);
  const actor = `w${worker}/${leaseId}`;
  const outcome = sendChecked(model, real, jobId, event, { fence: leaseId, actor }, () => real.port.write({ jobId, leaseId, actor, event }));
  if (outcome === 'LEASE_LOST' || (outcome === 'ok' && ENDS_ATTEMPT.has(event.type))) model.workers[worker]!.delete(jobId);
}

const pick = <T>(list: readonly T[], index: number): T => list[index % list.length]!;

class EnqueueCmd implements Cmd {
  constructor(readonly lifecycle: LifecycleName) {}
  check = () => true;
  async run(m: Model, r: Real) {
    enqueue(m, r, this.lifecycle);
    checkAll(m, r);
  }
  toString = () => `enqueue(${this.lifecycle})`;
}

class ClaimCmd implements Cmd {
  constructor(readonly worker: number, readonly limit: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    claim(m, r, this.worker, this.limit);
    checkAll(m, r);
  }
  toString = () => `claim(w${this.worker}, ${this.limit})`;
}

class HeartbeatCmd implements Cmd {
  constructor(readonly worker: number) {}
  check = (m: Readonly<Model>) => m.workers[this.worker]!.size > 0;
  async run(m: Model, r: Real) {
    for (const jobId of [...m.workers[this.worker]!.keys()]) heartbeat(m, r, this.worker, jobId);
    checkAll(m, r);
  }
  toString = () => `heartbeat(w${this.worker})`;
}

class AdvanceCmd implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    m.now += this.ms;
    checkAll(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

class RecoverCmd implements Cmd {
  constructor(readonly worker: number, readonly retryDelay: number | null, readonly race: boolean) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await recover(m, r, this.worker, this.retryDelay, this.race);
    checkAll(m, r);
  }
  toString = () => `recover(w${this.worker}, retry ${this.retryDelay ?? 'none'}${this.race ? ', heartbeat races' : ''})`;
}

/** A worker process dies and comes back: it forgets its leases and all it had observed. */
class CrashCmd implements Cmd {
  constructor(readonly worker: number) {}
  check = (m: Readonly<Model>) => m.workers[this.worker]!.size > 0 || m.observed[this.worker]!.size > 0;
  async run(m: Model, r: Real) {
    m.workers[this.worker]!.clear();
    m.observed[this.worker]!.clear();
    r.watches[this.worker]!.reset();
    checkAll(m, r);
  }
  toString = () => `crash(w${this.worker})`;
}

/** A worker's wall clock is set forward or back (NTP, a VM resumed, an operator). */
class ClockCmd implements Cmd {
  constructor(readonly worker: number, readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    m.skew[this.worker]! += this.ms;
    checkAll(m, r);
  }
  toString = () => `clock(w${this.worker}, ${this.ms >= 0 ? '+' : ''}${this.ms})`;
}

/** Workers that believe they hold a job; commands that act on held jobs pick among them. */
const holders = (m: Readonly<Model>) => m.workers.slice(0, WORKERS).flatMap((held, w) => (held.size > 0 ? [w] : []));

class WorkCmd implements Cmd {
  constructor(readonly workerIndex: number, readonly index: number, readonly kind: WorkKind, readonly arg: number) {}
  check = (m: Readonly<Model>) => holders(m).length > 0;
  async run(m: Model, r: Real) {
    const w = pick(holders(m), this.workerIndex);
    const jobId = pick([...m.workers[w]!.keys()].sort((a, b) => a - b), this.index);
    work(m, r, w, jobId, this.kind, this.arg);
    checkAll(m, r);
  }
  toString = () => `work(holder #${this.workerIndex}, job #${this.index}, ${this.kind}, ${this.arg})`;
}

const staleLeases = (m: Readonly<Model>) => m.leases.filter((l) => m.jobs.get(l.jobId)!.leaseId !== l.leaseId);

class LateWriteCmd implements Cmd {
  constructor(readonly index: number, readonly kind: (typeof LATE_KINDS)[number], readonly arg: number) {}
  check = (m: Readonly<Model>) => staleLeases(m).length > 0;
  async run(m: Model, r: Real) {
    const { jobId, leaseId } = pick(staleLeases(m), this.index);
    const event = workEvent(this.kind, this.arg, m.now);
    const actor = `late/${leaseId}`;
    expect(sendChecked(m, r, jobId, event, { fence: leaseId, actor }, () => r.port.write({ jobId, leaseId, actor, event }))).toBe('LEASE_LOST');
    checkAll(m, r);
  }
  toString = () => `late(#${this.index}, ${this.kind}, ${this.arg})`;
}

class CancelCmd implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.jobs.size > 0;
  async run(m: Model, r: Real) {
    const jobId = pick([...m.jobs.keys()], this.index);
    sendChecked(m, r, jobId, { type: 'CANCEL' }, { actor: 'client' });
    checkAll(m, r);
  }
  toString = () => `cancel(#${this.index})`;
}

class ReplyCmd implements Cmd {
  constructor(readonly index: number, readonly preferWaiting: boolean) {}
  check = (m: Readonly<Model>) => m.jobs.size > 0;
  async run(m: Model, r: Real) {
    const waiting = [...m.jobs.values()].filter((j) => j.phase === 'waiting').map((j) => j.id);
    const jobId = this.preferWaiting && waiting.length > 0 ? pick(waiting, this.index) : pick([...m.jobs.keys()], this.index);
    sendChecked(m, r, jobId, { type: 'REPLY', reply: `a${this.index}` }, { actor: 'client' });
    checkAll(m, r);
  }
  toString = () => `reply(#${this.index}${this.preferWaiting ? ', waiting' : ''})`;
}

const worker = fc.integer({ min: 0, max: WORKERS - 1 });
/** Kinds of work, weighted towards those that keep the attempt going. */
const workKind = fc.constantFrom<WorkKind>(
  'PROGRESS', 'PROGRESS', 'PROGRESS', 'STEP', 'STEP', 'STEP', 'VALIDATED', 'VALIDATED', 'ASK', 'ASK',
  'SUCCEED', 'FAIL', 'FAIL_RETRY', 'RELEASE', 'CANCEL_DONE',
);
const enqueueCmd = fc.constantFrom(...LIFECYCLES).map((l): Cmd => new EnqueueCmd(l));
const claimCmd = fc.tuple(worker, fc.integer({ min: 1, max: 3 })).map(([w, n]): Cmd => new ClaimCmd(w, n));
const heartbeatCmd = worker.map((w): Cmd => new HeartbeatCmd(w));
const workCmd = fc.tuple(worker, fc.nat(20), workKind, fc.nat(1000)).map(([w, i, k, a]): Cmd => new WorkCmd(w, i, k, a));
/** fc.commands picks among these uniformly, so repeats weigh. */
const commands = [
  enqueueCmd,
  enqueueCmd,
  claimCmd,
  claimCmd,
  heartbeatCmd,
  heartbeatCmd,
  workCmd,
  workCmd,
  workCmd,
  workCmd,
  workCmd,
  fc.integer({ min: 1, max: Math.round(1.2 * MAX_LEASE_MS) }).map((ms): Cmd => new AdvanceCmd(ms)),
  fc.tuple(worker, fc.option(fc.integer({ min: 0, max: MAX_RETRY_DELAY }), { freq: 4 }), fc.boolean()).map(([w, d, race]): Cmd => new RecoverCmd(w, d, race)),
  fc.tuple(worker, fc.oneof(fc.constantFrom(3_600_000, -3_600_000), fc.integer({ min: -3 * MAX_LEASE_MS, max: 3 * MAX_LEASE_MS }))).map(([w, ms]): Cmd => new ClockCmd(w, ms)),
  worker.map((w): Cmd => new CrashCmd(w)),
  fc.tuple(fc.nat(50), fc.constantFrom(...LATE_KINDS), fc.nat(1000)).map(([i, k, a]): Cmd => new LateWriteCmd(i, k, a)),
  fc.nat(50).map((i): Cmd => new CancelCmd(i)),
  fc.tuple(fc.nat(50), fc.boolean()).map(([i, w]): Cmd => new ReplyCmd(i, w)),
];

function setup(): { model: Model; real: Real } {
  const model: Model = {
    now: T0,
    skew: [...SKEW_MS],
    observed: Array.from({ length: WORKERS + 1 }, () => new Map()),
    recovered: { total: 0, skewed: 0, raced: 0 },
    jobs: new Map(),
    workers: Array.from({ length: WORKERS + 1 }, () => new Map()), // the last one drains at the end
    leases: [],
    nextLease: 1,
    refused: { leaseLost: 0, illegal: 0 },
    accepted: {},
    checks: 0,
  };
  const database = openDatabase(':memory:');
  const engine = new Engine(new SqliteStore(database), { lifecycles: new LifecycleRegistry(Object.values(builtInLifecycles)), clock: () => model.now });
  const watches = LEASE_MS.map((ms) => new LeaseWatch(ms, () => model.now));
  return { model, real: { engine, port: enginePort(engine), database, watches } };
}

/** After the commands: a fresh worker must bring every job to a terminal state. */
async function drain(model: Model, real: Real): Promise<void> {
  const drainer = WORKERS;
  // The drainer first only observes the leases it finds; a lease's duration later it may recover them.
  for (let round = 0; round < 4; round++) {
    model.now += MAX_LEASE_MS + MAX_RETRY_DELAY + 1;
    await recover(model, real, drainer, 0);
    for (const j of [...model.jobs.values()]) {
      if (j.phase === 'waiting') sendChecked(model, real, j.id, { type: 'REPLY', reply: 'drain' }, { actor: 'client' });
    }
    claim(model, real, drainer, 1000);
    for (const jobId of [...model.workers[drainer]!.keys()]) {
      const j = model.jobs.get(jobId)!;
      if (j.phase === 'validating') work(model, real, drainer, jobId, 'VALIDATED', 0);
      const kind = j.cancelRequested && cancelsInTwoSteps(j.lifecycle) ? 'CANCEL_DONE' : 'SUCCEED';
      work(model, real, drainer, jobId, kind, 0);
    }
    checkAll(model, real);
  }
  const open = [...model.jobs.values()].filter((j) => j.phase !== 'done');
  expect(open, 'jobs left unfinished after the drain').toEqual([]);
}

describe('runner protocol on the engine: model-based, fake clock, several workers', () => {
  it('leases, fencing, recovery, cancellation and ask/reply keep every job accounted for', async () => {
    const seed = seedFromEnv();
    const numRuns = Number(process.env.PHASELINE_PROPERTY_RUNS ?? 200);
    console.log(`[runner.model] seed ${seed}, ${numRuns} runs (repeat with PHASELINE_SEED=${seed} PHASELINE_PROPERTY_RUNS=${numRuns})`);
    const totals = {
      generatedCommands: 0, invariantChecks: 0, jobs: 0, events: 0, leaseLost: 0, illegal: 0, succeeded: 0, failed: 0, cancelled: 0,
      recovered: 0, recoveredAcrossClocks: 0, recoveriesBeatenByHeartbeat: 0,
    };
    const accepted: Record<string, number> = {};
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 120, size: 'max' }), async (cmds) => {
        let system: { model: Model; real: Real } | null = null;
        try {
          await fc.asyncModelRun(() => (system = setup()), cmds);
          const { model, real } = system!;
          await drain(model, real);
          const summary = replayAll(real.engine);
          expect(summary.jobs).toBe(model.jobs.size);
          expect(summary.diverged, JSON.stringify(summary.reports, null, 2)).toBe(0);
          totals.generatedCommands += [...cmds].length;
          totals.invariantChecks += model.checks;
          totals.jobs += summary.jobs;
          totals.events += summary.events;
          totals.leaseLost += model.refused.leaseLost;
          totals.illegal += model.refused.illegal;
          totals.recovered += model.recovered.total;
          totals.recoveredAcrossClocks += model.recovered.skewed;
          totals.recoveriesBeatenByHeartbeat += model.recovered.raced;
          for (const j of model.jobs.values()) totals[j.outcome!]++;
          for (const [key, n] of Object.entries(model.accepted)) accepted[key] = (accepted[key] ?? 0) + n;
        } finally {
          (system as { real: Real } | null)?.real.database.sqlite.close();
        }
      }),
      { seed, numRuns },
    );
    console.log(`[runner.model] ${numRuns} runs in ${Date.now() - started} ms: ${JSON.stringify(totals)}`);
    console.log(`[runner.model] accepted events: ${Object.entries(accepted).sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }, 300_000);
});

/**
 * What the worker loop is handed (as graphile-worker's worker is handed its job functions): claim,
 * write, finish, heartbeat, recover and sweep, in terms of jobs and leases. The loop
 * (src/runner/runner.ts) never sees the engine or a store; {@link enginePort} is the one place
 * that turns these calls into engine operations.
 */
import type { Json } from '../../machines/common.ts';
import type { Engine, QueuedSend } from '../engine/engine.ts';
import { toJob, type Job } from '../engine/job.ts';
import type { LeaseRecord } from './leases.ts';
import type { SweepOptions } from './options.ts';
import { sweep } from './sweeper.ts';

export type RunnerEvent = { type: string } & Record<string, unknown>;

/** A lease a claim records; `actor` names the attempt in the history. */
export interface NewLease {
  leaseId: string;
  leaseExpiresAt: number;
  workerId: string;
  actor: string;
}

/** One write of an attempt, fenced by its lease: refused (LEASE_LOST) once the lease is gone. */
export interface AttemptWrite {
  jobId: number;
  leaseId: string;
  actor: string;
  event: RunnerEvent;
}

/** A running job's lease record and what recovery needs to end or retry it. */
export interface RunningLease extends LeaseRecord {
  type: string;
  attempt: number;
  cancelRequested: boolean;
}

/** A job's run-state as a heartbeat or an observed transition shows it. */
export interface RunState {
  running: boolean;
  leaseId: string | null;
  cancelRequested: boolean;
}

/** A committed transition, as the loop observes it. */
export interface Observed {
  job: RunState & { id: number; claimable: boolean };
  actor: string | null;
}

export interface RunnerPort {
  /** Milliseconds since the epoch, on the engine's clock (lease expiries, retry instants). */
  clock(): number;
  /** One transaction: claim up to `limit` due jobs of `types`, each under the lease `leaseFor` makes. */
  claim(limit: number, types: readonly string[], leaseFor: (now: number) => NewLease): Job[];
  /** One fenced write (progress, ask, step, checkpoint, validation). Throws when refused. */
  write(write: AttemptWrite): Job;
  /**
   * The final writes of ending attempts, and then a claim for the freed slots, in one transaction
   * (one commit for many jobs). `report` gets each refused write; `claimAfter` says how many to
   * claim once the writes are done (0 for none).
   */
  finish(
    writes: ReadonlyArray<() => AttemptWrite>,
    report: (write: AttemptWrite, error: unknown) => void,
    claimAfter: () => { limit: number; types: readonly string[]; leaseFor: (now: number) => NewLease },
  ): Job[];
  /** Whether the job's machine accepts an event of this type now (`known` saves a read when it never does). */
  accepts(jobId: number, type: string, known?: Pick<Job, 'lifecycle' | 'lifecycleVersion'>): boolean;
  /** The event to send once the parameters pass validation, when the claim entered a `validating` state. */
  validationEvent(job: Pick<Job, 'id' | 'lifecycle' | 'lifecycleVersion'>): string | null;
  /** Renew a lease, and read the job's run-state after it (null once the job is gone), so the worker sees a cancellation or a lost lease. */
  heartbeat(jobId: number, leaseId: string, expiresAt: number): { renewed: boolean; state: RunState | null };
  /** Every running job's lease record. */
  runningLeases(): RunningLease[];
  /**
   * A recovery's write, fenced by the lease record it judged (a heartbeat that lands first keeps
   * the job with its holder). Throws when refused.
   */
  recover(lease: RunningLease, event: RunnerEvent, actor: string): void;
  /** Destruction and retention. */
  sweep(now: number, options: SweepOptions, report: (error: unknown, where: string) => void): void;
  onTransition(listener: (observed: Observed) => void): () => void;
  onDelete(listener: (ids: readonly number[]) => void): () => void;
}

/** The port of an engine on a synchronous store. */
export function enginePort(engine: Engine): RunnerPort {
  const fenced = (write: AttemptWrite) =>
    engine.send(write.jobId, write.event, { fence: { leaseId: write.leaseId }, actor: write.actor });
  const claim = (limit: number, types: readonly string[], leaseFor: (now: number) => NewLease): Job[] =>
    types.length === 0 || limit <= 0 ? [] : engine.claimDue(limit, types, leaseFor).map((row) => toJob<Json, Json>(row));
  return {
    clock: () => engine.clock(),
    claim,
    write: (write) => toJob(fenced(write)),
    finish: (writes, report, claimAfter) => {
      type Queued = QueuedSend & { write: AttemptWrite };
      const queued = writes.map((make) => (): Queued => {
        const write = make();
        return { jobId: write.jobId, event: write.event, options: { fence: { leaseId: write.leaseId }, actor: write.actor }, write };
      });
      const rows = engine.sendEachThenClaim(queued, (send, error) => report((send as Queued).write, error), claimAfter);
      return rows.map((row) => toJob<Json, Json>(row));
    },
    accepts: (jobId, type, known) => engine.accepts(jobId, type, known),
    validationEvent: (job) => engine.validationEvent(job),
    heartbeat: (jobId, leaseId, expiresAt) => {
      const renewed = engine.renewLease(jobId, leaseId, expiresAt);
      const row = engine.find(jobId);
      return { renewed, state: row ?? null };
    },
    runningLeases: () => engine.runningLeases(),
    recover: (lease, event, actor) => {
      const fence = lease.leaseId !== null ? { fence: { leaseId: lease.leaseId, leaseExpiresAt: lease.leaseExpiresAt } } : {};
      engine.send(lease.id, event, { ...fence, actor });
    },
    sweep: (now, options, report) => sweep(engine, now, options, report),
    onTransition: (listener) => engine.onTransition(({ job, event }) => listener({ job, actor: event.actor })),
    onDelete: (listener) => engine.onDelete(listener),
  };
}

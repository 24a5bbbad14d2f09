/**
 * What the worker loop is handed (as graphile-worker's worker is handed its job functions): claim,
 * write, finish, heartbeat, recover and sweep, in terms of jobs and leases. The loop
 * (src/runner/runner.ts) never sees the engine or a store; {@link enginePort} is the one place
 * that turns these calls into engine operations.
 *
 * Each call returns its value, or its promise: on SQLite the engine answers at once, inside the
 * driver's synchronous transaction; on PostgreSQL once the server has. The loop awaits both alike.
 */
import type { Json } from '../../machines/common.ts';
import type { Store } from '../db/store.ts';
import type { CreateOptions, Engine, QueuedSend } from '../engine/engine.ts';
import { toJob, type Job } from '../engine/job.ts';
import type { Maybe } from '../engine/types.ts';
import type { LeaseRecord } from './leases.ts';
import type { SweepOptions } from './options.ts';
import { sweep } from './sweeper.ts';

export type { Maybe } from '../engine/types.ts';

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
  job: RunState & { id: number; claimable: boolean; state: string };
  actor: string | null;
  /** The event's type (CLAIM, PROGRESS, CANCEL...). */
  type: string;
}

/** What the claim that follows a batch of final writes takes, decided inside its transaction. */
export interface ClaimRequest {
  limit: number;
  types: readonly string[];
  leaseFor: (now: number) => NewLease;
}

export interface RunnerPort {
  /** Milliseconds since the epoch, on the engine's clock (lease expiries, retry instants). */
  clock(): number;
  /** One transaction: claim up to `limit` due jobs of `types`, each under the lease `leaseFor` makes. */
  claim(limit: number, types: readonly string[], leaseFor: (now: number) => NewLease): Maybe<Job[]>;
  /** One fenced write (progress, ask, step, checkpoint, validation). Throws (or rejects) when refused. */
  write(write: AttemptWrite): Maybe<Job>;
  /**
   * The final writes of ending attempts, and then a claim for the freed slots, in one transaction
   * (one commit for many jobs). `report` gets each refused write; `claimAfter` says how many to
   * claim once the writes are done (0 for none).
   */
  finish(
    writes: ReadonlyArray<() => AttemptWrite>,
    report: (write: AttemptWrite, error: unknown) => void,
    claimAfter: () => ClaimRequest,
    /** The jobs the writes are for. */
    jobIds: readonly number[],
  ): Maybe<Job[]>;
  /** Create a job; with an idempotency key seen before, the first job. Returns its id. */
  create(options: CreateOptions): Maybe<number>;
  /**
   * A handler's child (`ctx.spawn`): created (or found by its key) and recorded in the parent's
   * step `stepName`, in one transaction fenced by the parent's lease. Returns the child's id.
   */
  spawn(parent: { jobId: number; leaseId: string; actor: string }, stepName: string, options: CreateOptions, detached: boolean): Maybe<number>;
  /** Whether the job's machine accepts an event of this type now (`known` saves a read when it never does). */
  accepts(jobId: number, type: string, known?: Pick<Job, 'lifecycle' | 'lifecycleVersion'>): Maybe<boolean>;
  /** The event to send once the parameters pass validation, when the claim entered a `validating` state. */
  validationEvent(job: Pick<Job, 'id' | 'lifecycle' | 'lifecycleVersion'>): Maybe<string | null>;
  /** Renew a lease, and read the job's run-state after it (null once the job is gone), so the worker sees a cancellation or a lost lease. */
  heartbeat(jobId: number, leaseId: string, expiresAt: number): Maybe<{ renewed: boolean; state: RunState | null }>;
  /** Every running job's lease record. */
  runningLeases(): Maybe<RunningLease[]>;
  /**
   * A recovery's write, fenced by the lease record it judged (a heartbeat that lands first keeps
   * the job with its holder). Throws (or rejects) when refused.
   */
  recover(lease: RunningLease, event: RunnerEvent, actor: string): Maybe<void>;
  /** Destruction and retention. */
  sweep(now: number, options: SweepOptions, report: (error: unknown, where: string) => void): Maybe<void>;
  /** Committed transitions of this process. */
  onTransition(listener: (observed: Observed) => void): () => void;
  onDelete(listener: (ids: readonly number[]) => void): () => void;
  /**
   * Work may have become due in another process or on another host (PostgreSQL LISTEN/NOTIFY, a
   * commit to the SQLite file by another process); absent where only polling finds it.
   */
  onWake?(listener: () => void): () => void;
}

/** The port of an engine, on either kind of store. */
export function enginePort<S extends Store>(engine: Engine<S>): RunnerPort {
  // Typed for the asynchronous case, which also covers a synchronous store's plain values.
  const e = engine as unknown as Engine<Store>;
  const sync = engine.store.synchronous;
  const then = <A, B>(value: Maybe<A>, fn: (a: A) => B): Maybe<B> => (sync ? fn(value as A) : Promise.resolve(value).then(fn));
  const fenced = (write: AttemptWrite) => e.send(write.jobId, write.event, { fence: { leaseId: write.leaseId }, actor: write.actor });
  const jobs = (rows: Parameters<typeof toJob>[0][]) => rows.map((row) => toJob<Json, Json>(row));
  return {
    clock: () => engine.clock(),
    claim: (limit, types, leaseFor) => (types.length === 0 || limit <= 0 ? [] : then(e.claimDue(limit, types, leaseFor), jobs)),
    write: (write) => then(fenced(write), (row) => toJob(row)),
    finish: (writes, report, claimAfter, jobIds) => {
      type Queued = QueuedSend & { write: AttemptWrite };
      const queued = writes.map((make) => (): Queued => {
        const write = make();
        return { jobId: write.jobId, event: write.event, options: { fence: { leaseId: write.leaseId }, actor: write.actor }, write };
      });
      return then(e.sendEachThenClaim(queued, (send, error) => report((send as Queued).write, error), claimAfter, jobIds), jobs);
    },
    create: (options) => then(e.create(options), (row) => row.id),
    spawn: (parent, stepName, options, detached) =>
      then(e.spawn({ jobId: parent.jobId, fence: { leaseId: parent.leaseId }, actor: parent.actor }, stepName, options, detached), (row) => row.id),
    accepts: (jobId, type, known) => e.accepts(jobId, type, known),
    validationEvent: (job) => e.validationEvent(job),
    heartbeat: (jobId, leaseId, expiresAt) => {
      const read = (renewed: boolean) => then(e.find(jobId), (row) => ({ renewed, state: row ?? null }));
      const renewed = e.renewLease(jobId, leaseId, expiresAt);
      return sync ? read(renewed as unknown as boolean) : renewed.then(read);
    },
    runningLeases: () => e.runningLeases(),
    recover: (lease, event, actor) => {
      const fence = lease.leaseId !== null ? { fence: { leaseId: lease.leaseId, leaseExpiresAt: lease.leaseExpiresAt } } : {};
      return then(e.send(lease.id, event, { ...fence, actor }), () => undefined);
    },
    sweep: (now, options, report) => sweep(e, now, options, report),
    onTransition: (listener) => engine.onTransition(({ job, event }) => listener({ job, actor: event.actor, type: event.type })),
    onDelete: (listener) => engine.onDelete(listener),
    ...(engine.store.listen ? { onWake: (listener: () => void) => engine.store.listen!(listener) } : {}),
  };
}

/**
 * The port of an engine still being opened (a PostgreSQL server connecting and migrating): every
 * call waits for it; listeners attach once it is there. A failed open rejects each call, which the
 * loop reports and retries after its backoff.
 */
export function pendingPort(port: Promise<RunnerPort>, clock: () => number): RunnerPort {
  const attach = (subscribe: (ready: RunnerPort) => () => void): (() => void) => {
    let unsubscribe: (() => void) | null = null;
    let cancelled = false;
    port.then((ready) => {
      if (!cancelled) unsubscribe = subscribe(ready);
    }, () => {});
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
  };
  return {
    clock,
    claim: async (...args) => (await port).claim(...args),
    write: async (...args) => (await port).write(...args),
    finish: async (...args) => (await port).finish(...args),
    create: async (...args) => (await port).create(...args),
    spawn: async (...args) => (await port).spawn(...args),
    accepts: async (...args) => (await port).accepts(...args),
    validationEvent: async (...args) => (await port).validationEvent(...args),
    heartbeat: async (...args) => (await port).heartbeat(...args),
    runningLeases: async () => (await port).runningLeases(),
    recover: async (...args) => (await port).recover(...args),
    sweep: async (...args) => (await port).sweep(...args),
    onTransition: (listener) => attach((ready) => ready.onTransition(listener)),
    onDelete: (listener) => attach((ready) => ready.onDelete(listener)),
    onWake: (listener) => attach((ready) => ready.onWake?.(listener) ?? (() => {})),
  };
}

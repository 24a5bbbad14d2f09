/**
 * The public shape of a stored job and of one history event (what `get`, `list` and `history`
 * return). Rows stay inside the store; `job.ts` maps them to these.
 */
import type { JobError, Json, Outcome } from '../../machines/common.ts';
import type { DependencyOutcome, Parked, SignalRecord, SpawnedChild, WaitRecord } from './parking.ts';

export type { Parked, SignalRecord, WaitRecord } from './parking.ts';

/**
 * The fields a stored job (as exported: `StoredJob`) and its public view ({@link Job}) share,
 * each as the row holds it.
 */
export interface JobFields {
  id: number;
  /** Lifecycle machine name, and the version the job runs on: the one it was created with, or the one an upgrade moved it to. */
  lifecycle: string;
  lifecycleVersion: number;
  type: string;
  /** Wire spelling of the top-level state: `P`, `EXECUTING`, `JOB_STATUS_RUNNING`, `PROCESSING`, `DONE`... */
  state: string;
  /** Rises by one with each transition; Phaseline's own etag. */
  version: number;
  /** The version at which `state` last changed. */
  stateVersion: number;
  outcome: Outcome | null;
  owner: string | null;
  runId: string | null;
  idempotencyKey: string | null;
  /** Jobs of one type with one key run at most the type's `keyConcurrency` at once; null: no key. */
  concurrencyKey: string | null;
  /** The W3C traceparent of the context the job was enqueued in (OpenTelemetry), or null. */
  traceparent: string | null;
  errors: JobError[];
  question: Json | null;
  reply: Json | null;
  inside: Json | null;
  step: number | null;
  cancelRequested: boolean;
  /** Instants in UTC milliseconds. */
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  destructionAt: number | null;
  /** Seconds an attempt may run; 0 = unlimited. */
  executionDuration: number;
  quoteAt: number | null;
  priority: number;
  /** Not claimable before this instant; 0 when due. */
  runAfter: number;
  attempt: number;
}

export interface Job<Params = Json, Result = Json> extends JobFields {
  /** The full state value, e.g. `{ E: 'killed' }` where the wire shows `E`. */
  stateValue: string | Record<string, unknown>;
  queued: boolean;
  running: boolean;
  waiting: boolean;
  terminal: boolean;
  params: Params;
  result: Result | null;
  progress: { percent: number; message: string | null; current: number | null; total: number | null };
  /** Durable step results by name. */
  steps: Record<string, Json>;
  /** Replies in the order the job asked. */
  replies: Json[];
  /**
   * Set while the job is parked: its handler sleeps (`ctx.sleep`) or waits for a signal
   * (`ctx.waitFor`); its state stays the lifecycle's running one, no worker holds it, and a claim
   * takes it up again at `wakeAt` (null: when the signal comes).
   */
  parked: Parked | null;
  /** The handler's durable waits (sleeps and signal waits), in the order it made them. */
  waits: WaitRecord[];
  /** Signals received that no wait has taken yet, oldest first. */
  signals: SignalRecord[];
  /** The job whose handler spawned this one (`ctx.spawn`; its key `child:<parentId>:<name>` names it), else null. */
  parentId: number | null;
  /**
   * The children this job's handler has spawned, in spawn order: every one, exactly (a child and
   * its parent's spawn step are written in one transaction). `cancelWithParent` false: spawned
   * with `{ cancelWithParent: false }`, so cancelling this job leaves it be.
   */
  children: SpawnedChild[];
  /** The dependencies (`enqueue(..., { dependsOn })`) not ended yet: the job is not claimable while any is left. */
  blockedBy: number[];
  /** How each dependency that was unfinished at the job's creation ended, in the order they ended. */
  dependencies: DependencyOutcome[];
  lease: { id: string; expiresAt: number; workerId: string | null } | null;
}

export interface JobEvent {
  jobId: number;
  /** 1 for CREATE, then one more per event: the job's version after it. */
  seq: number;
  at: number;
  /** `CREATE` first; `UPGRADE` where the job moved to another lifecycle version (payload `{ from, to }`); else a machine event. */
  type: string;
  /** The event without type and instant; for CREATE, the job's identity and machine input. */
  payload: Record<string, unknown> | null;
  stateBefore: string | null;
  stateAfter: string;
  actor: string | null;
}

/** A job of any type, whatever its parameters and result (as XState's `AnyStateMachine`): what views and HTTP take. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJob = Job<any, any>;

/**
 * The public shape of a stored job and of one history event (what `get`, `list` and `history`
 * return). Rows stay inside the store; `job.ts` maps them to these.
 */
import type { JobError, Json, Outcome } from '../../machines/common.ts';

export interface Job<Params = Json, Result = Json> {
  id: number;
  /** Lifecycle machine name and the version the job was created with. */
  lifecycle: string;
  lifecycleVersion: number;
  type: string;
  /** Wire spelling of the top-level state: `P`, `EXECUTING`, `JOB_STATUS_RUNNING`, `PROCESSING`, `DONE`... */
  state: string;
  /** The full state value, e.g. `{ E: 'killed' }` where the wire shows `E`. */
  stateValue: string | Record<string, unknown>;
  /** Rises by one with each transition; Phaseline's own etag. */
  version: number;
  /** The version at which `state` last changed. */
  stateVersion: number;
  queued: boolean;
  running: boolean;
  waiting: boolean;
  terminal: boolean;
  outcome: Outcome | null;
  owner: string | null;
  runId: string | null;
  idempotencyKey: string | null;
  params: Params;
  result: Result | null;
  errors: JobError[];
  question: Json | null;
  reply: Json | null;
  inside: Json | null;
  step: number | null;
  progress: { percent: number; message: string | null; current: number | null; total: number | null };
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
  /** Durable step results by name. */
  steps: Record<string, Json>;
  /** Replies in the order the job asked. */
  replies: Json[];
  lease: { id: string; expiresAt: number; workerId: string | null } | null;
}

export interface JobEvent {
  jobId: number;
  seq: number;
  at: number;
  /** `CREATE`, then machine event types. */
  type: string;
  payload: Record<string, unknown> | null;
  stateBefore: string | null;
  stateAfter: string;
  actor: string | null;
}

/** A job of any type, whatever its parameters and result (as XState's `AnyStateMachine`): what views and HTTP take. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJob = Job<any, any>;

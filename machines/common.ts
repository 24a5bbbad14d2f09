/**
 * The engine's vocabulary, shared by every lifecycle machine.
 *
 * The engine never names a lifecycle's states. It reads their tags:
 * - `queued`: a worker may claim the job;
 * - `running`: a handler runs it (under a lease);
 * - `waiting`: it needs a reply or a resume (EcoTaxa A, UWS HELD/SUSPENDED);
 * - `terminal` with exactly one of `succeeded`, `failed`, `cancelled`;
 * - `archived` (terminal): destruction has archived the job, keeping its record (UWS ARCHIVED);
 * - `validating` (running): the runner checks the parameters before the handler runs (Qiskit VALIDATING).
 *
 * Machines are pure. Every event carries `at` (UTC milliseconds), stamped by the
 * engine, so a transition is a function of (snapshot, event) and replay is exact.
 * How an event changes the context does not depend on the lifecycle: that is
 * {@link reduceJob}. The machines only say which events each state accepts and
 * where they lead.
 */
import type { AnyStateMachine, EventObject } from 'xstate';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const ENGINE_TAGS = ['queued', 'running', 'waiting', 'terminal', 'succeeded', 'failed', 'cancelled', 'archived', 'validating'] as const;
export type EngineTag = (typeof ENGINE_TAGS)[number];
export const OUTCOME_TAGS = ['succeeded', 'failed', 'cancelled'] as const;
export type Outcome = (typeof OUTCOME_TAGS)[number];

/** One failure of a job, as stored in its `errors` list. */
export interface JobError {
  message: string;
  /** The error's class name, when it came from a thrown Error. */
  name?: string;
  stack?: string;
  /** UWS errorSummary type: `transient` errors may succeed when retried. */
  kind?: 'transient' | 'fatal';
  /** The attempt the error ended. */
  attempt: number;
  at: number;
}

export interface Progress {
  /** 0..100; never moves backwards within one attempt. */
  percent: number;
  message: string | null;
  current: number | null;
  total: number | null;
}

/** What a job's creation sets; the rest of {@link JobContext} starts empty. */
export interface JobInput {
  params: Json;
  /** Higher runs first. */
  priority?: number;
  /** Not claimable before this instant (UTC ms). */
  runAfter?: number | null;
  /** Wall-clock seconds an attempt may run; 0 means unlimited (UWS). */
  executionDuration?: number;
  /** When the job is destroyed (UTC ms; UWS destruction). */
  destruction?: number | null;
  /** When the job is expected to finish (UTC ms; UWS quote). */
  quote?: number | null;
  /** A progress message for the new job (EcoTaxa: "Waiting for a slot"). */
  message?: string | null;
}

export interface JobContext {
  params: Json;
  result: Json | null;
  errors: JobError[];
  progress: Progress;
  question: Json | null;
  reply: Json | null;
  /** Replies in the order the job asked, so a resumed handler's k-th `ask` returns the k-th reply. */
  replies: Json[];
  /** Internal state kept across steps (EcoTaxa `inside`). */
  inside: Json | null;
  /** EcoTaxa step number. */
  step: number | null;
  /** Results of finished durable steps, by step name. */
  steps: Record<string, Json>;
  /** Attempts begun. A claim after a reply or a release resumes the current attempt instead. */
  attempt: number;
  /** True between a reply (or a release) and the next claim: that claim continues the attempt. */
  resuming: boolean;
  /** RIME `cancellationRequested`, Synapse `jobCanceling`. */
  cancelRequested: boolean;
  priority: number;
  runAfter: number | null;
  executionDuration: number;
  destruction: number | null;
  quote: number | null;
}

type At = { at: number };
export type ClaimEvent = At & { type: 'CLAIM' };
export type ProgressEvent = At & {
  type: 'PROGRESS';
  percent?: number;
  current?: number;
  total?: number;
  message?: string | null;
};
export type AskEvent = At & { type: 'ASK'; question: Json; message?: string | null };
export type ReplyEvent = At & { type: 'REPLY'; reply: Json };
export type CheckpointEvent = At & { type: 'CHECKPOINT'; inside?: Json; step?: number | null };
export type StepEvent = At & { type: 'STEP'; name: string; result: Json };
export type SucceedEvent = At & { type: 'SUCCEED'; result: Json };
export type FailEvent = At & {
  type: 'FAIL';
  error: Omit<JobError, 'at' | 'attempt'>;
  /** Present when the runner retries: the job goes back to the queue until this instant. */
  retryAt?: number;
};
/** Ask for cancellation: a job nobody runs ends at once, a running one when its handler stops. */
export type CancelEvent = At & { type: 'CANCEL'; reason?: string };
/** The runner confirms that a cancelled handler has stopped. */
export type CancelDoneEvent = At & { type: 'CANCEL_DONE' };
/** A lease expired: its worker crashed or hung. With `retryAt` the job goes back to the queue. */
export type LeaseLostEvent = At & { type: 'LEASE_LOST'; retryAt?: number };
/** The attempt ran longer than its execution duration. */
export type TimeoutEvent = At & { type: 'TIMEOUT'; retryAt?: number };
/** A stopping worker gives the job back without spending an attempt. */
export type ReleaseEvent = At & { type: 'RELEASE' };
/** Change job-control values. */
export type SetEvent = At & {
  type: 'SET';
  priority?: number;
  runAfter?: number | null;
  executionDuration?: number;
  destruction?: number | null;
  quote?: number | null;
  params?: Json;
};

/** Events every lifecycle machine understands (in the states where they make sense). */
export type CommonEvent =
  | ClaimEvent
  | ProgressEvent
  | AskEvent
  | ReplyEvent
  | CheckpointEvent
  | StepEvent
  | SucceedEvent
  | FailEvent
  | CancelEvent
  | CancelDoneEvent
  | LeaseLostEvent
  | TimeoutEvent
  | ReleaseEvent
  | SetEvent;

/**
 * Lifecycle commands that carry nothing but their instant. Each machine accepts its own
 * (UWS RUN/ABORT/HOLD/SUSPEND/RESUME/ARCHIVE, EcoTaxa KILL/RESTART, RIME ADMIT, Qiskit QUEUE/VALIDATED).
 */
export type CommandEvent = At & {
  type: 'RUN' | 'ABORT' | 'HOLD' | 'SUSPEND' | 'RESUME' | 'ARCHIVE' | 'KILL' | 'RESTART' | 'ADMIT' | 'QUEUE' | 'VALIDATED';
};

export const COMMON_EVENT_TYPES = [
  'CLAIM', 'PROGRESS', 'ASK', 'REPLY', 'CHECKPOINT', 'STEP', 'SUCCEED', 'FAIL',
  'CANCEL', 'CANCEL_DONE', 'LEASE_LOST', 'TIMEOUT', 'RELEASE', 'SET',
] as const satisfies readonly CommonEvent['type'][];

/** Any event a machine may receive: its type and the instant the engine stamped on it. */
export type TimedEvent = EventObject & { at: number };

export function initialContext(input: JobInput): JobContext {
  return {
    params: input.params,
    result: null,
    errors: [],
    progress: { percent: 0, message: input.message ?? null, current: null, total: null },
    question: null,
    reply: null,
    replies: [],
    inside: null,
    step: null,
    steps: {},
    attempt: 0,
    resuming: false,
    cancelRequested: false,
    priority: input.priority ?? 0,
    runAfter: input.runAfter ?? null,
    executionDuration: input.executionDuration ?? 0,
    destruction: input.destruction ?? null,
    quote: input.quote ?? null,
  };
}

/**
 * How an accepted event changes the context, the same for every lifecycle.
 * Machines call it through their `apply` action; lifecycle-specific wording
 * (EcoTaxa "Killed", Synapse "Complete") is added by their own actions after it.
 */
export function reduceJob(context: JobContext, event: EventObject): JobContext {
  const e = event as CommonEvent | CommandEvent;
  // A plain copy, then field writes: `{ ...context, field }` literals take a slow path in V8.
  const next = { ...context };
  switch (e.type) {
    case 'CLAIM':
      next.runAfter = null;
      if (context.resuming) {
        next.resuming = false;
      } else {
        // A new attempt: progress may start again from zero.
        next.attempt = context.attempt + 1;
        next.progress = { percent: 0, message: null, current: null, total: null };
      }
      break;
    case 'PROGRESS': {
      const { progress } = context;
      const current = e.current ?? progress.current;
      const total = e.total ?? progress.total;
      const derived =
        e.percent ?? (current !== null && total !== null && total > 0 ? (100 * current) / total : progress.percent);
      next.progress = {
        // Monotone within an attempt by construction: a lower report keeps the higher figure.
        percent: Math.max(progress.percent, Math.min(100, derived)),
        message: e.message === undefined ? progress.message : e.message,
        current,
        total,
      };
      break;
    }
    case 'ASK':
      next.question = e.question;
      next.reply = null;
      if (e.message !== undefined) next.progress = { ...context.progress, message: e.message };
      break;
    case 'REPLY':
      next.reply = e.reply;
      next.replies = [...context.replies, e.reply];
      next.resuming = true;
      break;
    case 'CHECKPOINT':
      if (e.inside !== undefined) next.inside = e.inside;
      if (e.step !== undefined) next.step = e.step;
      break;
    case 'STEP':
      next.steps = { ...context.steps, [e.name]: e.result };
      break;
    case 'SUCCEED':
      next.result = e.result;
      next.question = null;
      next.progress = { ...context.progress, percent: 100, current: context.progress.total ?? context.progress.current };
      break;
    case 'FAIL':
      next.errors = [...context.errors, { ...e.error, attempt: context.attempt, at: e.at }];
      next.runAfter = retryInstant(context, e);
      break;
    case 'CANCEL':
    case 'ABORT': // UWS
    case 'KILL': // EcoTaxa
      next.cancelRequested = true;
      break;
    case 'RESTART': // EcoTaxa: a new attempt that runs from the beginning
      next.question = null;
      next.reply = null;
      next.replies = [];
      next.inside = null;
      next.step = null;
      next.steps = {};
      next.resuming = false;
      next.cancelRequested = false;
      next.runAfter = null;
      break;
    case 'SUSPEND': // UWS: the server pauses the job; the next claim resumes the attempt
    case 'RELEASE':
      next.resuming = true;
      break;
    case 'RESUME': // UWS: the suspended attempt goes on now, so no later claim resumes it
      next.resuming = false;
      break;
    case 'ARCHIVE': // UWS: results are deleted, the record is kept
      next.result = null;
      break;
    case 'LEASE_LOST':
      next.errors = [
        ...context.errors,
        { message: 'lease expired: the worker crashed or stopped responding', kind: 'transient', attempt: context.attempt, at: e.at },
      ];
      next.runAfter = retryInstant(context, e);
      break;
    case 'TIMEOUT':
      next.errors = [
        ...context.errors,
        { message: `execution duration of ${context.executionDuration} s exceeded`, kind: 'fatal', attempt: context.attempt, at: e.at },
      ];
      next.runAfter = retryInstant(context, e);
      break;
    case 'SET':
      if (e.priority !== undefined) next.priority = e.priority;
      if (e.runAfter !== undefined) next.runAfter = e.runAfter;
      if (e.executionDuration !== undefined) next.executionDuration = e.executionDuration;
      if (e.destruction !== undefined) next.destruction = e.destruction;
      if (e.quote !== undefined) next.quote = e.quote;
      if (e.params !== undefined) next.params = e.params;
      break;
  }
  return next;
}

/**
 * The shared `apply` action's assignment: every machine's `apply` is `assign(applyJob)`, this one
 * function, so the engine can tell the shared reducer from an action of a lifecycle's own by
 * identity (src/engine/compiled.ts runs such transitions without XState's interpreter).
 */
export function applyJob({ context, event }: { context: JobContext; event: EventObject }): JobContext {
  return reduceJob(context, event);
}

/** Guard: the runner asked for another attempt, and nobody asked to cancel the job. */
export function willRetry({ context, event }: { context: JobContext; event: EventObject }): boolean {
  return retryInstant(context, event as FailEvent) !== null;
}

/** When the next attempt may start, or null when there is none (no retry asked, or a cancellation pending). */
function retryInstant(context: JobContext, event: FailEvent | LeaseLostEvent | TimeoutEvent): number | null {
  return typeof event.retryAt === 'number' && !context.cancelRequested ? event.retryAt : null;
}

/** Guard: a SET that leaves the parameters alone (only UWS PENDING lets a client edit them). */
export function keepsParams({ event }: { event: EventObject }): boolean {
  return (event as SetEvent).params === undefined;
}

/** Guard: someone asked to cancel the running job. */
export function cancelRequested({ context }: { context: JobContext }): boolean {
  return context.cancelRequested;
}

/** A lifecycle the engine can run: a machine that follows the tag contract, with a name and a version. */
export interface Lifecycle<TMachine extends AnyStateMachine = AnyStateMachine> {
  /** Stored on each job; `ecotaxa`, `uws`, `rime`, `synapse`, `qiskit` or a user's own. */
  name: string;
  /**
   * Bump when the machine changes how it answers events. Jobs keep the version they were
   * created with (until `upgrade` moves them to another), and replay folds each event of their
   * history through the version the job was on.
   */
  version: number;
  machine: TMachine;
  /** Events sent right after creation, in the same transaction (UWS `RUN` for PHASE=RUN, RIME `ADMIT`). */
  startEvents?: readonly string[];
  /**
   * The event that archives an ended job once its destruction instant has come (UWS `ARCHIVE`): it
   * must lead to a top-level state tagged `archived`, where destruction leaves the job and its
   * record. Without one (or with the sweep's `destroy: 'delete'`), destruction deletes the job.
   */
  archiveEvent?: string;
  /**
   * Whether finished jobs are deleted the sweep's `retentionMs` after they ended. Default true;
   * UWS sets false: its records stay until their destruction instant.
   */
  retention?: boolean;
  /**
   * The event the runner sends, once the job type's validator has accepted the parameters, to a
   * job that a claim left in a state tagged `validating` (Qiskit `VALIDATED`). A validator that
   * refuses fails the attempt instead, before the handler runs.
   */
  validatedEvent?: string;
  /**
   * Register under a built-in lifecycle's name (`uws`, ...), replacing it; refused otherwise. The
   * replacement brings its own `archiveEvent`, `retention` and `validatedEvent`: copy the built-in's
   * (a UWS replacement without `retention: false` has its finished jobs deleted after retention).
   */
  replaceBuiltIn?: boolean;
}

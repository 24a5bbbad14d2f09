/**
 * IVOA UWS 1.1 execution phases (as served by Rubin's Safir).
 *
 * States and transitions:
 * - `PENDING` (a draft: parameters editable, not claimable) → `QUEUED` on RUN; → `HELD` on HOLD;
 *   → `ABORTED` on ABORT/CANCEL; → `ERROR` on FAIL.
 * - `QUEUED` (queued) → `EXECUTING` on CLAIM; → `HELD` on HOLD; → `ABORTED` on ABORT/CANCEL; → `ERROR` on FAIL.
 * - `EXECUTING` (running) → `COMPLETED` on SUCCEED; → `ERROR` on FAIL or LEASE_LOST (→ `QUEUED` when
 *   retried); → `ABORTED` on ABORT/CANCEL and on TIMEOUT (execution duration exceeded);
 *   → `SUSPENDED` on SUSPEND or RELEASE; → `HELD` on HOLD.
 * - `HELD` (waiting for a client RUN) → `QUEUED` on RUN (a new attempt); → `ABORTED` on ABORT/CANCEL.
 * - `SUSPENDED` (waiting, and claimable: the server resumes it by itself) → `EXECUTING` on CLAIM or
 *   RESUME, continuing the attempt; → `ABORTED` on ABORT/CANCEL.
 * - `COMPLETED`, `ERROR`, `ABORTED` (terminal) → `ARCHIVED` on ARCHIVE, which drops the results.
 * - `ARCHIVED`: final; its child state keeps the outcome the job had.
 *
 * Readings chosen where UWS 1.1 leaves room: HELD is reachable from PENDING and QUEUED (the text) and
 * from EXECUTING (the diagram), and RUN leaves it for QUEUED so that a worker claims it; exceeding the
 * execution duration is an abort, as the standard says (Safir writes ERROR); UNKNOWN is never stored;
 * a completion over ABORTED is refused rather than stored (Wobbly keeps ABORTED and stores the results).
 */
import { assign, setup } from 'xstate';
import {
  initialContext, keepsParams, applyJob, willRetry,
  type CommandEvent, type CommonEvent, type JobContext, type JobInput, type Lifecycle,
} from './common.ts';

export type UwsPhase =
  | 'PENDING' | 'QUEUED' | 'EXECUTING' | 'COMPLETED' | 'ERROR' | 'ABORTED' | 'UNKNOWN' | 'HELD' | 'SUSPENDED' | 'ARCHIVED';
/** Every wire value of `ExecutionPhase`, in the XSD's order. UNKNOWN is an observation, never a stored state. */
export const UWS_PHASES = [
  'PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'ABORTED', 'UNKNOWN', 'HELD', 'SUSPENDED', 'ARCHIVED',
] as const satisfies readonly UwsPhase[];
export type UwsEvent =
  | CommonEvent
  | (CommandEvent & { type: 'RUN' | 'ABORT' | 'HOLD' | 'SUSPEND' | 'RESUME' | 'ARCHIVE' });
export type UwsContext = JobContext;

const abort = { target: '#uws.ABORTED', actions: 'apply' } as const;
const error = { target: '#uws.ERROR', actions: 'apply' } as const;
const hold = { target: '#uws.HELD', actions: 'apply' } as const;
const set = { guard: 'keepsParams', actions: 'apply' } as const;
const retryOrError = [{ guard: 'willRetry', target: '#uws.QUEUED', actions: 'apply' }, error] as const;

export const uwsMachine = setup({
  types: { context: {} as UwsContext, events: {} as UwsEvent, input: {} as JobInput },
  actions: { apply: assign(applyJob) },
  guards: { willRetry, keepsParams },
}).createMachine({
  id: 'uws',
  initial: 'PENDING',
  context: ({ input }) => initialContext(input),
  states: {
    PENDING: {
      on: {
        RUN: { target: 'QUEUED', actions: 'apply' },
        HOLD: hold,
        ABORT: abort,
        CANCEL: abort,
        FAIL: error,
        SET: { actions: 'apply' },
      },
    },
    QUEUED: {
      tags: ['queued'],
      on: { CLAIM: { target: 'EXECUTING', actions: 'apply' }, HOLD: hold, ABORT: abort, CANCEL: abort, FAIL: error, SET: set },
    },
    EXECUTING: {
      tags: ['running'],
      on: {
        PROGRESS: { actions: 'apply' },
        CHECKPOINT: { actions: 'apply' },
        STEP: { actions: 'apply' },
        SUCCEED: { target: 'COMPLETED', actions: 'apply' },
        FAIL: retryOrError,
        LEASE_LOST: retryOrError,
        TIMEOUT: abort,
        ABORT: abort,
        CANCEL: abort,
        SUSPEND: { target: 'SUSPENDED', actions: 'apply' },
        RELEASE: { target: 'SUSPENDED', actions: 'apply' },
        HOLD: hold,
        SET: set,
      },
    },
    HELD: {
      tags: ['waiting'],
      on: { RUN: { target: 'QUEUED', actions: 'apply' }, ABORT: abort, CANCEL: abort, SET: set },
    },
    SUSPENDED: {
      tags: ['waiting', 'queued'],
      on: {
        CLAIM: { target: 'EXECUTING', actions: 'apply' },
        RESUME: { target: 'EXECUTING', actions: 'apply' },
        ABORT: abort,
        CANCEL: abort,
        SET: set,
      },
    },
    COMPLETED: {
      tags: ['terminal', 'succeeded'],
      on: { ARCHIVE: { target: 'ARCHIVED.completed', actions: 'apply' }, SET: set },
    },
    ERROR: {
      tags: ['terminal', 'failed'],
      on: { ARCHIVE: { target: 'ARCHIVED.error', actions: 'apply' }, SET: set },
    },
    ABORTED: {
      tags: ['terminal', 'cancelled'],
      on: { ARCHIVE: { target: 'ARCHIVED.aborted', actions: 'apply' }, SET: set },
    },
    ARCHIVED: {
      tags: ['terminal', 'archived'],
      initial: 'completed',
      states: {
        completed: { tags: ['succeeded'], type: 'final' },
        error: { tags: ['failed'], type: 'final' },
        aborted: { tags: ['cancelled'], type: 'final' },
      },
    },
  },
});

export const uws: Lifecycle<typeof uwsMachine> = {
  name: 'uws',
  version: 1,
  machine: uwsMachine,
  startEvents: ['RUN'],
  // UWS 1.1: destruction archives (results dropped, record kept), and records stay until then.
  archiveEvent: 'ARCHIVE',
  retention: false,
};

/**
 * Robust Intelligence RIME job statuses (`ri.apiclient` `JobStatus`).
 *
 * States and transitions:
 * - `JOB_STATUS_REQUESTED` (accepted, not admitted) → `JOB_STATUS_PENDING` on ADMIT;
 *   → `JOB_STATUS_CANCELLED` on CANCEL; → `JOB_STATUS_FAILED` on FAIL (never got resources).
 * - `JOB_STATUS_PENDING` (queued) → `JOB_STATUS_RUNNING` on CLAIM; → `JOB_STATUS_CANCELLED` on CANCEL;
 *   → `JOB_STATUS_FAILED` on FAIL.
 * - `JOB_STATUS_RUNNING` → `JOB_STATUS_SUCCEEDED` on SUCCEED; → `JOB_STATUS_FAILED` on FAIL, TIMEOUT or
 *   LEASE_LOST (→ `JOB_STATUS_PENDING` when retried); → `JOB_STATUS_PENDING` on RELEASE (→ `JOB_STATUS_CANCELLED`
 *   when a cancellation was requested: nobody runs the job any more). CANCEL only
 *   sets `cancellationRequested`; the job becomes `JOB_STATUS_CANCELLED` on CANCEL_DONE, when its
 *   handler has stopped.
 * - `JOB_STATUS_SUCCEEDED`, `JOB_STATUS_FAILED`, `JOB_STATUS_CANCELLED`: final.
 *
 * Readings chosen where RIME's sources leave room: REQUESTED is "over a capacity limit", left by ADMIT, which
 * the engine sends at enqueue unless the job is held back; PENDING may fail or be cancelled directly;
 * UNSPECIFIED is never stored.
 */
import { assign, setup } from 'xstate';
import {
  cancelRequested, initialContext, keepsParams, applyJob, willRetry,
  type CommandEvent, type CommonEvent, type JobContext, type JobInput, type Lifecycle,
} from './common.ts';

export type RimeStatus =
  | 'JOB_STATUS_PENDING' | 'JOB_STATUS_RUNNING' | 'JOB_STATUS_FAILED' | 'JOB_STATUS_SUCCEEDED'
  | 'JOB_STATUS_REQUESTED' | 'JOB_STATUS_CANCELLED' | 'JOB_STATUS_UNSPECIFIED';
/** Every wire value of `JobStatus`, in source order. UNSPECIFIED is "not set", never a stored state. */
export const RIME_STATUSES = [
  'JOB_STATUS_PENDING', 'JOB_STATUS_RUNNING', 'JOB_STATUS_FAILED', 'JOB_STATUS_SUCCEEDED',
  'JOB_STATUS_REQUESTED', 'JOB_STATUS_CANCELLED', 'JOB_STATUS_UNSPECIFIED',
] as const satisfies readonly RimeStatus[];
export type RimeEvent = CommonEvent | (CommandEvent & { type: 'ADMIT' });
export type RimeContext = JobContext;

const cancelled = { target: '#rime.JOB_STATUS_CANCELLED', actions: 'apply' } as const;
const failed = { target: '#rime.JOB_STATUS_FAILED', actions: 'apply' } as const;
const retryOrFail = [{ guard: 'willRetry', target: '#rime.JOB_STATUS_PENDING', actions: 'apply' }, failed] as const;
const set = { guard: 'keepsParams', actions: 'apply' } as const;

export const rimeMachine = setup({
  types: { context: {} as RimeContext, events: {} as RimeEvent, input: {} as JobInput },
  actions: { apply: assign(applyJob) },
  guards: { willRetry, keepsParams, cancelRequested },
}).createMachine({
  id: 'rime',
  initial: 'JOB_STATUS_REQUESTED',
  context: ({ input }) => initialContext(input),
  states: {
    JOB_STATUS_REQUESTED: {
      on: { ADMIT: { target: 'JOB_STATUS_PENDING', actions: 'apply' }, CANCEL: cancelled, FAIL: failed, SET: set },
    },
    JOB_STATUS_PENDING: {
      tags: ['queued'],
      on: { CLAIM: { target: 'JOB_STATUS_RUNNING', actions: 'apply' }, CANCEL: cancelled, FAIL: failed, SET: set },
    },
    JOB_STATUS_RUNNING: {
      tags: ['running'],
      on: {
        PROGRESS: { actions: 'apply' },
        CHECKPOINT: { actions: 'apply' },
        STEP: { actions: 'apply' },
        SUCCEED: { target: 'JOB_STATUS_SUCCEEDED', actions: 'apply' },
        FAIL: retryOrFail,
        TIMEOUT: retryOrFail,
        LEASE_LOST: retryOrFail,
        // A stopping worker gives a cancel-requested job back: nobody runs it now, so it ends.
        RELEASE: [{ guard: 'cancelRequested', ...cancelled }, { target: 'JOB_STATUS_PENDING', actions: 'apply' }],
        CANCEL: { actions: 'apply' },
        CANCEL_DONE: { guard: 'cancelRequested', ...cancelled },
        SET: set,
      },
    },
    JOB_STATUS_SUCCEEDED: { tags: ['terminal', 'succeeded'], type: 'final' },
    JOB_STATUS_FAILED: { tags: ['terminal', 'failed'], type: 'final' },
    JOB_STATUS_CANCELLED: { tags: ['terminal', 'cancelled'], type: 'final' },
  },
});

export const rime: Lifecycle<typeof rimeMachine> = { name: 'rime', version: 1, machine: rimeMachine, startEvents: ['ADMIT'] };

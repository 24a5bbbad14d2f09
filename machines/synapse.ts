/**
 * Synapse asynchronous job states (`AsynchJobState`: PROCESSING, FAILED, COMPLETE).
 *
 * States and transitions:
 * - `PROCESSING` has two child states the wire does not show: `queued` (claimable) → `running` on
 *   CLAIM. While queued, CANCEL fails the job at once. While running, CANCEL only sets
 *   `jobCanceling`, and CANCEL_DONE ends it when the handler has stopped. FAIL, TIMEOUT and
 *   LEASE_LOST go to `FAILED` (back to `queued` when retried); RELEASE goes back to `queued`, or ends a
 *   cancel-requested job as cancelled.
 * - `COMPLETE` on SUCCEED: final, message "Complete", current = total.
 * - `FAILED`: final; its child state tells a cancellation (`cancelled` tag, error
 *   "JobCanceledException") from a failure.
 *
 * Readings chosen where Synapse's sources leave room: Synapse has no cancelled state, so a cancelled job ends
 * FAILED with an error that says so; terminal states are never overwritten (Synapse's DAO does not
 * check); the etag changes on state changes only, which the view derives from the row.
 */
import { assign, setup } from 'xstate';
import {
  cancelRequested, initialContext, keepsParams, applyJob, willRetry,
  type CommonEvent, type JobContext, type JobInput, type Lifecycle,
} from './common.ts';

export type SynapseJobState = 'PROCESSING' | 'FAILED' | 'COMPLETE';
export const SYNAPSE_STATES = ['PROCESSING', 'FAILED', 'COMPLETE'] as const satisfies readonly SynapseJobState[];
export type SynapseEvent = CommonEvent;
export type SynapseContext = JobContext;

const cancelled = { target: '#synapse.FAILED.cancelled', actions: ['apply', 'recordCancel'] } as const;
const failed = { target: '#synapse.FAILED.error', actions: 'apply' } as const;
const retryOrFail = [{ guard: 'willRetry', target: '#synapse.PROCESSING.queued', actions: 'apply' }, failed] as const;
const set = { guard: 'keepsParams', actions: 'apply' } as const;

export const synapseMachine = setup({
  types: { context: {} as SynapseContext, events: {} as SynapseEvent, input: {} as JobInput },
  actions: {
    apply: assign(applyJob),
    recordCancel: assign(({ context, event }) => ({
      errors: [
        ...context.errors,
        { message: 'The job was cancelled', name: 'JobCanceledException', kind: 'fatal' as const, attempt: context.attempt, at: (event as { at: number }).at },
      ],
    })),
    sayComplete: assign(({ context }) => ({ progress: { ...context.progress, message: 'Complete' } })),
  },
  guards: { willRetry, keepsParams, cancelRequested },
}).createMachine({
  id: 'synapse',
  initial: 'PROCESSING',
  context: ({ input }) => initialContext(input),
  states: {
    PROCESSING: {
      initial: 'queued',
      on: { SET: set },
      states: {
        queued: {
          tags: ['queued'],
          on: { CLAIM: { target: 'running', actions: 'apply' }, CANCEL: cancelled, FAIL: failed },
        },
        running: {
          tags: ['running'],
          on: {
            PROGRESS: { actions: 'apply' },
            CHECKPOINT: { actions: 'apply' },
            STEP: { actions: 'apply' },
            SUCCEED: { target: '#synapse.COMPLETE', actions: ['apply', 'sayComplete'] },
            FAIL: retryOrFail,
            TIMEOUT: retryOrFail,
            LEASE_LOST: retryOrFail,
            // A stopping worker gives a cancel-requested job back: nobody runs it now, so it ends.
            RELEASE: [{ guard: 'cancelRequested', ...cancelled }, { target: 'queued', actions: 'apply' }],
            CANCEL: { actions: 'apply' },
            CANCEL_DONE: { guard: 'cancelRequested', ...cancelled },
          },
        },
      },
    },
    COMPLETE: { tags: ['terminal', 'succeeded'], type: 'final' },
    FAILED: {
      tags: ['terminal'],
      initial: 'error',
      states: { error: { tags: ['failed'], type: 'final' }, cancelled: { tags: ['cancelled'], type: 'final' } },
    },
  },
});

export const synapse: Lifecycle<typeof synapseMachine> = { name: 'synapse', version: 1, machine: synapseMachine };

/**
 * Qiskit `JobStatus` (wire value: the member's name; `status_msg` carries the prose).
 *
 * States and transitions:
 * - `INITIALIZING` → `QUEUED` on QUEUE (sent at enqueue); → `CANCELLED` on CANCEL; → `ERROR` on FAIL.
 * - `QUEUED` (queued) → `VALIDATING` on CLAIM; → `CANCELLED` on CANCEL.
 * - `VALIDATING` (running: the engine checks the parameters against the job type's validator)
 *   → `RUNNING` on VALIDATED; → `ERROR` on FAIL or TIMEOUT; → `QUEUED` on RELEASE or a retry.
 * - `RUNNING` → `DONE` on SUCCEED; → `ERROR` on FAIL, TIMEOUT or LEASE_LOST (→ `QUEUED` when retried);
 *   → `QUEUED` on RELEASE.
 * - `CANCELLED` from any non-final state on CANCEL, at once (the handler's signal fires).
 * - `DONE`, `ERROR`, `CANCELLED`: final (`JOB_FINAL_STATES`).
 *
 * Readings chosen where Qiskit's sources leave room: Qiskit defines no transition table; the enum order is
 * taken as the path, with CANCELLED reachable from every non-final state.
 */
import { assign, setup } from 'xstate';
import {
  initialContext, keepsParams, applyJob, willRetry,
  type CommandEvent, type CommonEvent, type JobContext, type JobInput, type Lifecycle,
} from './common.ts';

export type QiskitStatus = 'INITIALIZING' | 'QUEUED' | 'VALIDATING' | 'RUNNING' | 'CANCELLED' | 'DONE' | 'ERROR';
export const QISKIT_STATUSES = [
  'INITIALIZING', 'QUEUED', 'VALIDATING', 'RUNNING', 'CANCELLED', 'DONE', 'ERROR',
] as const satisfies readonly QiskitStatus[];
/** `JobStatus` member values: prose, not codes. */
export const QISKIT_STATUS_MESSAGES: Record<QiskitStatus, string> = {
  INITIALIZING: 'job is being initialized',
  QUEUED: 'job is queued',
  VALIDATING: 'job is being validated',
  RUNNING: 'job is actively running',
  CANCELLED: 'job has been cancelled',
  DONE: 'job has successfully run',
  ERROR: 'job incurred error',
};
export type QiskitEvent = CommonEvent | (CommandEvent & { type: 'QUEUE' | 'VALIDATED' });
export type QiskitContext = JobContext;

const cancelled = { target: '#qiskit.CANCELLED', actions: 'apply' } as const;
const error = { target: '#qiskit.ERROR', actions: 'apply' } as const;
const retryOrError = [{ guard: 'willRetry', target: '#qiskit.QUEUED', actions: 'apply' }, error] as const;
const set = { guard: 'keepsParams', actions: 'apply' } as const;
const working = {
  FAIL: retryOrError,
  TIMEOUT: retryOrError,
  LEASE_LOST: retryOrError,
  RELEASE: { target: '#qiskit.QUEUED', actions: 'apply' },
  CANCEL: cancelled,
  SET: set,
} as const;

export const qiskitMachine = setup({
  types: { context: {} as QiskitContext, events: {} as QiskitEvent, input: {} as JobInput },
  actions: { apply: assign(applyJob) },
  guards: { willRetry, keepsParams },
}).createMachine({
  id: 'qiskit',
  initial: 'INITIALIZING',
  context: ({ input }) => initialContext(input),
  states: {
    INITIALIZING: { on: { QUEUE: { target: 'QUEUED', actions: 'apply' }, CANCEL: cancelled, FAIL: error, SET: set } },
    QUEUED: { tags: ['queued'], on: { CLAIM: { target: 'VALIDATING', actions: 'apply' }, CANCEL: cancelled, SET: set } },
    VALIDATING: { tags: ['running', 'validating'], on: { VALIDATED: { target: 'RUNNING', actions: 'apply' }, ...working } },
    RUNNING: {
      tags: ['running'],
      on: {
        PROGRESS: { actions: 'apply' },
        CHECKPOINT: { actions: 'apply' },
        STEP: { actions: 'apply' },
        SUCCEED: { target: 'DONE', actions: 'apply' },
        ...working,
      },
    },
    DONE: { tags: ['terminal', 'succeeded'], type: 'final' },
    ERROR: { tags: ['terminal', 'failed'], type: 'final' },
    CANCELLED: { tags: ['terminal', 'cancelled'], type: 'final' },
  },
});

export const qiskit: Lifecycle<typeof qiskitMachine> = {
  name: 'qiskit',
  version: 1,
  machine: qiskitMachine,
  startEvents: ['QUEUE'],
  validatedEvent: 'VALIDATED',
};

/**
 * EcoTaxa job lifecycle (`DBJobStateEnum`: P, R, A, E, F).
 *
 * States and transitions:
 * - `P` Pending (queued) → `R` on CLAIM; → `E.killed` on KILL/CANCEL.
 * - `R` Running → `A` on ASK; → `F` on SUCCEED; → `E.error` on FAIL, TIMEOUT or LEASE_LOST
 *   (back to `P` when the runner retries); → `P` on RELEASE; → `E.killed` on KILL/CANCEL.
 * - `A` Asking (waiting) → `P` on REPLY ("Proceeding"); → `E.killed` on KILL/CANCEL.
 * - `E` Error (terminal, but RESTART → `P` with "Restarting"). Its child state tells a kill
 *   (`cancelled` tag, message "Killed") from an error (`failed` tag); the wire shows `E` for both.
 * - `F` Finished: final, progress 100, message "Done".
 *
 * Readings chosen where EcoTaxa's sources leave room: answer and restart in a wrong state are refused, not
 * silently ignored as EcoTaxa does; a reply resumes through `P`, as in EcoTaxa; archiving
 * (EcoTaxa negates the id) is not a state here.
 */
import { assign, not, setup } from 'xstate';
import {
  initialContext, keepsParams, applyJob, willRetry,
  type CommandEvent, type CommonEvent, type JobContext, type JobInput, type Lifecycle,
} from './common.ts';

export type EcotaxaState = 'P' | 'R' | 'A' | 'E' | 'F';
export const ECOTAXA_STATES = ['P', 'R', 'A', 'E', 'F'] as const satisfies readonly EcotaxaState[];
export type EcotaxaEvent = CommonEvent | (CommandEvent & { type: 'KILL' | 'RESTART' });
export type EcotaxaContext = JobContext;

const kill = { target: '#ecotaxa.E.killed', actions: ['apply', { type: 'say', params: { message: 'Killed' } }] } as const;
const fail = [
  { guard: 'willRetry', target: '#ecotaxa.P', actions: ['apply', 'sayError'] },
  { target: '#ecotaxa.E.error', actions: ['apply', 'sayError'] },
] as const;
const set = { guard: 'keepsParams', actions: 'apply' } as const;

export const ecotaxaMachine = setup({
  types: { context: {} as EcotaxaContext, events: {} as EcotaxaEvent, input: {} as JobInput },
  actions: {
    apply: assign(applyJob),
    say: assign(({ context }, params: { message: string }) => ({ progress: { ...context.progress, message: params.message } })),
    /** EcoTaxa puts the failure's text in progress_msg. */
    sayError: assign(({ context }) => ({
      progress: { ...context.progress, message: context.errors.at(-1)?.message ?? context.progress.message },
    })),
  },
  guards: { willRetry, keepsParams, changesParams: not('keepsParams') },
}).createMachine({
  id: 'ecotaxa',
  initial: 'P',
  context: ({ input }) => initialContext({ message: 'Waiting for a slot', ...input }),
  states: {
    P: {
      tags: ['queued'],
      on: { CLAIM: { target: 'R', actions: 'apply' }, KILL: kill, CANCEL: kill, SET: set },
    },
    R: {
      tags: ['running'],
      on: {
        PROGRESS: { actions: 'apply' },
        CHECKPOINT: { actions: 'apply' },
        STEP: { actions: 'apply' },
        ASK: { target: 'A', actions: 'apply' },
        SUCCEED: { target: 'F', actions: ['apply', { type: 'say', params: { message: 'Done' } }] },
        FAIL: fail,
        TIMEOUT: fail,
        LEASE_LOST: fail,
        RELEASE: { target: 'P', actions: 'apply' },
        KILL: kill,
        CANCEL: kill,
        SET: set,
      },
    },
    A: {
      tags: ['waiting'],
      on: {
        REPLY: { target: 'P', actions: ['apply', { type: 'say', params: { message: 'Proceeding' } }] },
        KILL: kill,
        CANCEL: kill,
        SET: set,
      },
    },
    E: {
      tags: ['terminal'],
      initial: 'error',
      states: { error: { tags: ['failed'] }, killed: { tags: ['cancelled'] } },
      on: { RESTART: { target: 'P', actions: ['apply', { type: 'say', params: { message: 'Restarting' } }] } },
    },
    F: { tags: ['terminal', 'succeeded'], type: 'final' },
  },
});

export const ecotaxa: Lifecycle<typeof ecotaxaMachine> = { name: 'ecotaxa', version: 1, machine: ecotaxaMachine };

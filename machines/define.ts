/**
 * `defineLifecycle`: a lifecycle of your own from its states alone. It supplies what every
 * lifecycle needs and is easy to forget (the job context built from the enqueue input, the shared
 * `apply` reducer, the engine's guards), so a machine made here cannot miss them:
 *
 * ```ts
 * const review = defineLifecycle({
 *   name: 'review', version: 1, initial: 'waiting_for_worker',
 *   states: {
 *     waiting_for_worker: { tags: ['queued'], on: { CLAIM: { target: 'in_review', actions: 'apply' } } },
 *     in_review: {
 *       tags: ['running'],
 *       on: {
 *         PROGRESS: { actions: 'apply' },
 *         SUCCEED: { target: 'approved', actions: 'apply' },
 *         FAIL: [{ guard: 'willRetry', target: 'waiting_for_worker', actions: 'apply' }, { target: 'rejected', actions: 'apply' }],
 *       },
 *     },
 *     approved: { type: 'final', tags: ['terminal', 'succeeded'] },
 *     rejected: { type: 'final', tags: ['terminal', 'failed'] },
 *   },
 * });
 * ```
 *
 * A lifecycle can also archive at destruction (`archiveEvent`, into a state tagged `archived`),
 * keep finished jobs past the sweep's retention (`retention: false`), and have the runner
 * validate the parameters before the handler runs (`validatedEvent`, from a state tagged `validating`).
 *
 * Actions you can name: `apply` (the shared reducer: every accepted event should run it) and your
 * own `actions`. Guards: `willRetry`, `keepsParams`, `cancelRequested` and your own `guards`.
 */
import { assign, setup, type AnyStateMachine, type EventObject } from 'xstate';
import {
  cancelRequested, initialContext, keepsParams, applyJob, willRetry,
  type CommonEvent, type JobContext, type JobInput, type Lifecycle,
} from './common.ts';

/** What an action or guard of your own receives. */
export interface LifecycleArgs {
  context: JobContext;
  event: EventObject & { at: number };
}

export interface LifecycleDefinition {
  /** Stored on each job. A built-in name (`uws`, ...) is refused unless `replaceBuiltIn` is set. */
  name: string;
  /** Bump whenever the states change how they answer events: stored jobs replay through the version they were created with (or moved to by `upgrade`). */
  version: number;
  /** The state a new job starts in. */
  initial: string;
  /**
   * XState state nodes. Tag them with the engine's vocabulary: `queued` (claimable), `running`,
   * `waiting`, and on final states `terminal` plus exactly one of `succeeded`, `failed`, `cancelled`.
   */
  states: Record<string, unknown>;
  /** Events sent right after creation, in the creating transaction (as UWS sends `RUN`). */
  startEvents?: readonly string[];
  /** The event that archives an ended job at its destruction instant, into a top-level state tagged `archived` (as UWS `ARCHIVE`); without it destruction deletes the job. */
  archiveEvent?: string;
  /** False keeps finished jobs until their destruction instant instead of deleting them `retentionMs` after they ended. Default true. */
  retention?: boolean;
  /** The event the runner sends, once the parameters pass the job type's validator, to a job in a state tagged `validating`. */
  validatedEvent?: string;
  /** Your own actions: each returns the context fields it changes. Run them after `apply`. */
  actions?: Record<string, (args: LifecycleArgs) => Partial<JobContext>>;
  /** Your own guards. */
  guards?: Record<string, (args: LifecycleArgs) => boolean>;
  /** Replace the built-in lifecycle of the same name (its stored jobs then replay through yours). */
  replaceBuiltIn?: boolean;
}

/** Build a lifecycle whose machine has the job context, the shared reducer and the engine's guards. */
export function defineLifecycle(definition: LifecycleDefinition): Lifecycle {
  const ownActions = Object.fromEntries(
    Object.entries(definition.actions ?? {}).map(([name, fn]) => [
      name,
      assign(({ context, event }: { context: JobContext; event: EventObject }) => fn({ context, event: event as LifecycleArgs['event'] })),
    ]),
  );
  const ownGuards = Object.fromEntries(
    Object.entries(definition.guards ?? {}).map(([name, fn]) => [name, ({ context, event }: { context: JobContext; event: EventObject }) => fn({ context, event: event as LifecycleArgs['event'] })]),
  );
  const machine = setup({
    types: { context: {} as JobContext, events: {} as CommonEvent, input: {} as JobInput },
    actions: { apply: assign(applyJob), ...ownActions },
    guards: { willRetry, keepsParams, cancelRequested, ...ownGuards },
  }).createMachine({
    id: definition.name,
    initial: definition.initial,
    context: ({ input }) => initialContext(input),
    states: definition.states as never,
  });
  return {
    name: definition.name,
    version: definition.version,
    machine: machine as unknown as AnyStateMachine,
    ...(definition.startEvents ? { startEvents: definition.startEvents } : {}),
    ...(definition.archiveEvent !== undefined ? { archiveEvent: definition.archiveEvent } : {}),
    ...(definition.retention !== undefined ? { retention: definition.retention } : {}),
    ...(definition.validatedEvent !== undefined ? { validatedEvent: definition.validatedEvent } : {}),
    ...(definition.replaceBuiltIn ? { replaceBuiltIn: true } : {}),
  };
}

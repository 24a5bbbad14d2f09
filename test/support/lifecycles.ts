/** A user-defined lifecycle for tests: a machine from a state config, with the built-ins' actions. */
import { assign, setup, type AnyStateMachine } from 'xstate';
import { initialContext, applyJob, type CommonEvent, type JobContext, type JobInput, type Lifecycle } from '../../machines/common.ts';

export function lifecycleOf(name: string, states: Record<string, unknown>, initial: string): Lifecycle {
  const machine = setup({
    types: { context: {} as JobContext, events: {} as CommonEvent, input: {} as JobInput },
    actions: { apply: assign(applyJob) },
  }).createMachine({ id: name, initial, context: ({ input }) => initialContext(input), states: states as never });
  return { name, version: 1, machine: machine as unknown as AnyStateMachine };
}

/**
 * XState's pure `transition()` and `initialTransition()`, with the inert actor scope made once per
 * machine instead of once per call.
 *
 * Why: xstate 5.33's `transition()` builds a throw-away actor for every call (its constructor runs
 * the machine's whole initial transition) and a fresh actor system: about 30 µs of a 31 µs call here.
 * Phaseline's machines are pure (no invoked or spawned actors, no delays, no effectful actions),
 * so nothing is ever registered in that scope and one scope can serve every call. Both functions
 * call the same `machine.transition` / `machine.getInitialSnapshot` that the library's own pure
 * functions call; a test checks that they agree with them on every machine.
 */
import { createActor, type AnyMachineSnapshot, type AnyStateMachine, type EventObject } from 'xstate';

type Scope = Parameters<AnyStateMachine['transition']>[2];
const scopes = new WeakMap<AnyStateMachine, Scope>();

function scopeOf(machine: AnyStateMachine): Scope {
  let scope = scopes.get(machine);
  if (!scope) {
    const self = createActor(machine);
    scope = {
      self,
      defer: () => {},
      id: '',
      logger: () => {},
      sessionId: '',
      stopChild: () => {},
      system: self.system,
      emit: () => {},
      // Actions are not run: the engine's effects happen after the commit, from the stored row.
      actionExecutor: () => {},
    } as unknown as Scope;
    scopes.set(machine, scope);
  }
  return scope;
}

export function nextSnapshot(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: EventObject & { at: number }): AnyMachineSnapshot {
  return machine.transition(snapshot, event, scopeOf(machine)) as AnyMachineSnapshot;
}

/**
 * The event the machine gets for a stored one: its payload with its type and instant. Built by a
 * loop, not a spread literal (V8's slow path here); the engine and replay both build it this way.
 */
export function machineEvent(type: string, at: number, payload: Record<string, unknown> | null): EventObject & { at: number } {
  const event: Record<string, unknown> = {};
  if (payload !== null) for (const key in payload) event[key] = payload[key];
  event.type = type;
  event.at = at;
  return event as EventObject & { at: number };
}

export function firstSnapshot(machine: AnyStateMachine, input: unknown): AnyMachineSnapshot {
  return machine.getInitialSnapshot(scopeOf(machine), input) as AnyMachineSnapshot;
}

/** `E.killed`, `PROCESSING.running`, `QUEUED`: the full state path, for error messages and replay's reports. */
export function describeState(snapshot: Pick<AnyMachineSnapshot, 'value'>): string {
  const walk = (value: unknown): string =>
    typeof value === 'string'
      ? value
      : Object.entries(value as Record<string, unknown>)
          .map(([k, v]) => `${k}.${walk(v)}`)
          .join(',');
  return walk(snapshot.value);
}

/**
 * Changed copies of a lifecycle's machine, for the replay and upgrade tests: the same config and
 * implementations, with some states' transitions or tags changed (a machine changed in place when
 * the name and version stay, a new version when `version` is given).
 */
import { createMachine, type AnyStateMachine } from 'xstate';
import type { Lifecycle } from '../../machines/common.ts';

export interface StateConfig {
  tags?: string[];
  on?: Record<string, unknown>;
  states?: Record<string, StateConfig>;
  [key: string]: unknown;
}

/** Objects and arrays copied all the way down; functions (the context factory) kept as they are. */
function copy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copy) as T;
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)])) as T;
  return value;
}

/** The state config at a dotted path (`PROCESSING.running`) of a config's `states`. */
export function stateAt(states: Record<string, StateConfig>, path: string): StateConfig {
  const [head, ...rest] = path.split('.');
  const state = states[head!];
  if (!state) throw new Error(`no state ${path}`);
  return rest.length === 0 ? state : stateAt(state.states ?? {}, rest.join('.'));
}

/** `lifecycle` with its machine rebuilt from a copy of its config that `change` edits; `fields` override name, version and the rest. */
export function changed(lifecycle: Lifecycle, change: (states: Record<string, StateConfig>) => void, fields: Partial<Omit<Lifecycle, 'machine'>> = {}): Lifecycle {
  const machine = lifecycle.machine as AnyStateMachine;
  const config = copy(machine.config) as { states: Record<string, StateConfig> };
  change(config.states);
  const rebuilt = createMachine(config as never, machine.implementations as never) as unknown as AnyStateMachine;
  return { ...lifecycle, ...fields, machine: rebuilt };
}

/** Every (state path, event) that has transitions of its own in a config, with the state nodes' paths. */
export function cellsOf(lifecycle: Lifecycle): Array<{ state: string; event: string }> {
  const cells: Array<{ state: string; event: string }> = [];
  const visit = (states: Record<string, StateConfig>, prefix: string) => {
    for (const [key, state] of Object.entries(states)) {
      const path = `${prefix}${key}`;
      for (const event of Object.keys(state.on ?? {})) cells.push({ state: path, event });
      visit(state.states ?? {}, `${path}.`);
    }
  };
  visit((lifecycle.machine as AnyStateMachine).config.states as Record<string, StateConfig>, '');
  return cells;
}

/** Every state path of a config (compound ones and their children). */
export function statesOf(lifecycle: Lifecycle): string[] {
  const paths: string[] = [];
  const visit = (states: Record<string, StateConfig>, prefix: string) => {
    for (const [key, state] of Object.entries(states)) {
      paths.push(`${prefix}${key}`);
      visit(state.states ?? {}, `${prefix}${key}.`);
    }
  };
  visit((lifecycle.machine as AnyStateMachine).config.states as Record<string, StateConfig>, '');
  return paths;
}

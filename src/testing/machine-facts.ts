/**
 * What the toolkit reads off a lifecycle's machine: its state paths, the tags each inherits, its
 * top-level states (the wire spellings a row may show) and the event types it knows.
 */
import type { AnyStateMachine } from 'xstate';

interface StateNodeLike {
  key: string;
  tags: readonly string[];
  states: Record<string, StateNodeLike>;
}

/** `E.killed` for `{ E: 'killed' }`: the full path of a state value (parallel regions joined by commas). */
export function statePathOf(value: unknown): string {
  if (typeof value === 'string') return value;
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${k}.${statePathOf(v)}`)
    .join(',');
}

/** Every leaf state path of a machine (`P`, `E.error`, `ARCHIVED.completed`...), in declaration order. */
export function leafPaths(machine: AnyStateMachine): string[] {
  const out: string[] = [];
  const visit = (node: StateNodeLike, prefix: string[]): void => {
    const children = Object.values(node.states);
    if (children.length === 0) out.push(prefix.join('.'));
    for (const child of children) visit(child, [...prefix, child.key]);
  };
  visit(machine.root as unknown as StateNodeLike, []);
  return out;
}

/** The top-level states: what a row's `state` column may hold. */
export function topStates(machine: AnyStateMachine): string[] {
  return Object.keys((machine.root as unknown as StateNodeLike).states);
}

/** The tags of a state value, each node's own and those it inherits from its ancestors (as `snapshot.hasTag` sees them). */
export function tagsOfValue(machine: AnyStateMachine, value: unknown): string[] {
  const tags = new Set<string>();
  const visit = (node: StateNodeLike, v: unknown): void => {
    for (const tag of node.tags) tags.add(tag);
    if (typeof v === 'string') {
      const child = node.states[v];
      if (child) visit(child, undefined);
    } else if (v !== null && typeof v === 'object') {
      for (const [key, inner] of Object.entries(v as Record<string, unknown>)) {
        const child = node.states[key];
        if (child) visit(child, inner);
      }
    }
  };
  visit(machine.root as unknown as StateNodeLike, value);
  return [...tags];
}

/** The event types the machine has transitions for, anywhere (XState's own `xstate.*` events and wildcards left out). */
export function knownEventTypes(machine: AnyStateMachine): string[] {
  return [...new Set<string>(machine.root.events)].filter((type) => !type.startsWith('xstate.') && !type.includes('*'));
}

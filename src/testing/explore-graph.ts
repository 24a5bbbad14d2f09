/**
 * The reachable situations of a lifecycle's machine, by exhaustive breadth-first search over
 * snapshots with XState's pure `initialTransition()` and `transition()`: from the initial snapshot,
 * every event variant the machine knows (vocabulary.ts), from every situation found.
 *
 * A situation is a state path plus what the guards read of the context besides it: by default
 * whether a cancellation is pending (`cancelRequested`, read by the built-in guards), so RIME's
 * running job with and without a pending cancel are two situations. Counters and values (the
 * attempt, progress, errors) are not: two snapshots that differ only there are one situation, and
 * the first found stands for both. A lifecycle whose own guards read more says so with
 * `distinguish`.
 *
 * Each transition is evaluated under the wall clock of its event's instant, then again at later
 * wall-clock instants and once more at the first: a machine that reads the clock or a random
 * number answers differently, and the transition is reported as nondeterministic.
 */
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import type { JobContext, JobInput, Lifecycle } from '../../machines/common.ts';
import { show } from './json.ts';
import { knownEventTypes, statePathOf } from './machine-facts.ts';
import { variantsOf, type EventVariant, type PayloadVariants } from './vocabulary.ts';
import { withWallClock } from './wall-clock.ts';

/** Options of the search (and of `exploreLifecycle`). */
export interface SearchOptions {
  /** The enqueue input of the job the search starts from. Default `{ params: {} }`. */
  input?: JobInput;
  /** Payload variants of the lifecycle's own events, for the guards of yours that read them. */
  payloads?: PayloadVariants;
  /**
   * What besides its state path tells two situations apart, as a name (the situation is labelled
   * `path+name`), or null. Default: `cancel` while a cancellation is pending.
   */
  distinguish?: (context: JobContext) => string | null;
  /** Stop with an error beyond this many situations. Default 1,000. */
  maxStates?: number;
}

export interface GraphNode {
  /** `JOB_STATUS_RUNNING+cancel`: the path, and the distinguishing name when there is one. */
  key: string;
  path: string;
  name: string | null;
  snapshot: AnyMachineSnapshot;
  tags: string[];
  /** The event keys of a shortest way there from the initial snapshot. */
  via: string[];
  /** The instant of the event that led there (the next event comes a minute later). */
  at: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  key: string;
  type: string;
  variant: string | null;
}

export interface Graph {
  lifecycle: Lifecycle;
  /** Situations in the order found (breadth first). */
  nodes: Map<string, GraphNode>;
  edges: GraphEdge[];
  /** The variants sent from every situation. */
  variants: EventVariant[];
  throws: Array<{ state: string; event: string; error: string }>;
  nondeterministic: Array<{ state: string; event: string; outcomes: string[] }>;
  /** The state path an event leads to from a situation, null when it is refused; throws what the machine throws. */
  evaluate(node: GraphNode, event: EventVariant['event']): string | null;
}

/** 2026-01-01T00:00:00Z: the creation instant of the explored job. */
const BASE = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
/** Later wall clocks a transition is evaluated at again: hours, days and weeks later, at odd minutes. */
const LATER = [6 * 3600_000 + 17 * MINUTE + 31_250, 19 * 3600_000 + 43 * MINUTE, 40 * 86_400_000 + 11 * 3600_000 + 7 * MINUTE];

const defaultDistinguish = (context: JobContext): string | null => (context?.cancelRequested ? 'cancel' : null);

export function searchGraph(lifecycle: Lifecycle, options: SearchOptions = {}): Graph {
  const machine = lifecycle.machine as AnyStateMachine;
  const distinguish = options.distinguish ?? defaultDistinguish;
  const maxStates = options.maxStates ?? 1_000;
  const variants = variantsOf(knownEventTypes(machine), options.payloads);
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  const throws: Graph['throws'] = [];
  const nondeterministic: Graph['nondeterministic'] = [];
  const queue: GraphNode[] = [];

  const nodeOf = (snapshot: AnyMachineSnapshot, via: string[], at: number): GraphNode => {
    const path = statePathOf(snapshot.value);
    const name = distinguish(snapshot.context as JobContext);
    const key = name === null ? path : `${path}+${name}`;
    let node = nodes.get(key);
    if (!node) {
      if (nodes.size >= maxStates) throw new Error(`exploreLifecycle(${lifecycle.name}): more than ${maxStates} situations; raise maxStates or distinguish fewer`);
      node = { key, path, name, snapshot, tags: [...snapshot.tags].sort(), via, at };
      nodes.set(key, node);
      queue.push(node);
    }
    return node;
  };

  /** The next snapshot (the same object when refused) under the wall clock `wall`. */
  const step = (node: GraphNode, event: EventVariant['event'], wall: number): AnyMachineSnapshot =>
    withWallClock(wall, () => transition(machine, node.snapshot, { ...event, at: node.at + MINUTE } as never)[0] as AnyMachineSnapshot);
  const outcome = (node: GraphNode, next: AnyMachineSnapshot) =>
    next === node.snapshot ? 'refused' : `${statePathOf(next.value)} ${JSON.stringify(next.context)}`;

  const evaluate = (node: GraphNode, event: EventVariant['event']): string | null => {
    const next = step(node, event, node.at + MINUTE);
    return next === node.snapshot ? null : statePathOf(next.value);
  };

  const [initial] = withWallClock(BASE, () => initialTransition(machine, options.input ?? { params: {} }));
  nodeOf(initial as AnyMachineSnapshot, [], BASE);
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    for (const variant of variants) {
      let next: AnyMachineSnapshot;
      try {
        next = step(node, variant.event, node.at + MINUTE);
      } catch (error) {
        throws.push({ state: node.key, event: variant.key, error: error instanceof Error ? error.message : show(error) });
        continue;
      }
      const seen = new Set([outcome(node, next)]);
      for (const wall of [...LATER.map((later) => node.at + MINUTE + later), node.at + MINUTE]) {
        try {
          seen.add(outcome(node, step(node, variant.event, wall)));
        } catch (error) {
          seen.add(`throws ${error instanceof Error ? error.message : show(error)}`);
        }
      }
      if (seen.size > 1) nondeterministic.push({ state: node.key, event: variant.key, outcomes: [...seen] });
      if (next === node.snapshot) continue;
      const to = nodeOf(next, [...node.via, variant.key], node.at + MINUTE);
      edges.push({ from: node.key, to: to.key, key: variant.key, type: variant.type, variant: variant.variant });
    }
  }
  return { lifecycle, nodes, edges, variants, throws, nondeterministic, evaluate };
}

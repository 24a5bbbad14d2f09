/**
 * `exploreLifecycle`: every reachable situation of a lifecycle by exhaustive search
 * (explore-graph.ts), and what is wrong with its shape: declared states nothing reaches, states a
 * job can never leave or never finish from, terminal states that can be left, events the machine
 * throws on, transitions whose answer depends on the wall clock, and tags that break the engine's
 * contract. With a Mermaid and a DOT rendering.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { Lifecycle } from '../../machines/common.ts';
import { LifecycleTestError } from './errors.ts';
import { toDot, toMermaid, type DiagramInput, type DiagramOptions } from './diagram.ts';
import { searchGraph, type Graph, type GraphNode, type SearchOptions } from './explore-graph.ts';
import { leafPaths } from './machine-facts.ts';
import { HANDLER_EVENTS } from './vocabulary.ts';

export type { DiagramOptions } from './diagram.ts';
export type { SearchOptions } from './explore-graph.ts';

/** Options of `exploreLifecycle`. */
export interface ExploreOptions extends SearchOptions {
  /**
   * Event keys by which each terminal state (a top-level state or a full path) may be left for a
   * state that is not terminal, as EcoTaxa's `E` by `RESTART`: `{ E: ['RESTART'] }`. Any other
   * way out of a terminal state is a problem.
   */
  terminalAccepts?: Readonly<Record<string, readonly string[]>>;
}

/** A reachable situation. */
export interface ExploredState {
  /**
   * The state path (`E.killed`), or, where a state is reached both with and without what
   * `distinguish` names, `path+name` for the latter (`JOB_STATUS_RUNNING+cancel`).
   */
  label: string;
  path: string;
  tags: string[];
  terminal: boolean;
  /** Event keys of a shortest way there from a new job (created without start events). */
  via: string[];
}

/** An accepted event: from a situation, by an event variant, to a situation. */
export interface ExploredEdge {
  from: string;
  to: string;
  /** The event type. */
  event: string;
  /** The event's key: its type, or `type+variant` (`FAIL+retry`). */
  key: string;
  /** The guard variant (`retry`, `params`, a payload of yours), or null for the bare event. */
  variant: string | null;
}

/** What kind of problem. */
export type ExploreProblemKind = 'unreachable' | 'dead-end' | 'cannot-end' | 'terminal-exit' | 'throws' | 'nondeterministic' | 'tags';

/** Something wrong with the lifecycle's shape. */
export interface ExploreProblem {
  kind: ExploreProblemKind;
  /** The state (a situation's label, or a declared path for `unreachable`). */
  state: string;
  /** The event key, where one is involved. */
  event?: string;
  message: string;
}

/** The result of `exploreLifecycle`. */
export interface Exploration {
  lifecycle: { name: string; version: number };
  /** The situation of a new job created without its start events. */
  initial: string;
  /** Every reachable situation, breadth first from `initial`. */
  states: ExploredState[];
  /** Labels of the terminal situations. */
  terminal: string[];
  /** Every accepted (situation, event variant) pair, self-transitions included. */
  edges: ExploredEdge[];
  /** Declared leaf states (full paths) no sequence of events reaches. */
  unreachable: string[];
  /** Non-terminal situations with no event leading to another state: a job there is stuck. */
  deadEnds: string[];
  /** Non-terminal situations from which no terminal state can be reached at all (dead ends included). */
  cannotEnd: string[];
  /** Events that lead from a terminal situation to one that is not (allowed ones included). */
  terminalExits: ExploredEdge[];
  /** Events the machine throws on. */
  throws: Array<{ state: string; event: string; error: string }>;
  /** Transitions that answered differently when evaluated again, at other wall-clock instants or at the same one. */
  nondeterministic: Array<{ state: string; event: string; outcomes: string[] }>;
  /** Everything above that is wrong, each said in a sentence (allowed terminal exits left out). */
  problems: ExploreProblem[];
  /** Throws a {@link LifecycleExploreError} listing the problems, if there are any. */
  assertNoProblems(): void;
  /** A Mermaid stateDiagram-v2. */
  toMermaid(options?: DiagramOptions): string;
  /** A Graphviz DOT digraph. */
  toDot(options?: DiagramOptions): string;
}

/** A lifecycle whose shape has problems (`exploration.assertNoProblems()`). */
export class LifecycleExploreError extends LifecycleTestError {
  override name = 'LifecycleExploreError';
  constructor(lifecycle: string, version: number, readonly problems: readonly ExploreProblem[]) {
    super(lifecycle, version, `${lifecycle}@${version} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p.kind}: ${p.message}`).join('\n')}`);
  }
}

/**
 * Every reachable state of the lifecycle, found by breadth-first search over the machine's
 * snapshots with XState's pure `transition()`, sending every event type the machine knows in every
 * variant its guards read (`FAIL` with and without `retryAt`, `SET` with and without `params`, and
 * the `payloads` you name for your own events). Pure: no database, no clock of the process.
 */
export function exploreLifecycle(lifecycle: Lifecycle, options: ExploreOptions = {}): Exploration {
  const graph = searchGraph(lifecycle, options);
  return explorationOf(graph, options);
}

/**
 * The display label of each situation: its path alone where every situation of that path answers
 * every event alike (leads to the same states), else `path+name` for those `distinguish` names.
 */
export function labelsOf(graph: Graph): Map<string, string> {
  const rows = new Map<string, string>();
  for (const edge of graph.edges) rows.set(edge.from, `${rows.get(edge.from) ?? ''}|${edge.key}>${graph.nodes.get(edge.to)!.path}`);
  const rowsOfPath = new Map<string, Set<string>>();
  for (const node of graph.nodes.values()) {
    let set = rowsOfPath.get(node.path);
    if (!set) rowsOfPath.set(node.path, (set = new Set()));
    set.add(rows.get(node.key) ?? '');
  }
  return new Map([...graph.nodes.values()].map((node) => [node.key, rowsOfPath.get(node.path)!.size === 1 ? node.path : node.key]));
}

/** Items once each, by a key, in the order first seen. */
function unique<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(key(item)) && Boolean(seen.add(key(item))));
}

function explorationOf(graph: Graph, options: ExploreOptions): Exploration {
  const { lifecycle } = graph;
  const labels = labelsOf(graph);
  const label = (key: string) => labels.get(key)!;
  const nodes = [...graph.nodes.values()];
  const isTerminal = (node: GraphNode) => node.tags.includes('terminal');
  const terminalKeys = new Set(nodes.filter(isTerminal).map((n) => n.key));
  const states: ExploredState[] = unique(
    nodes.map((n) => ({ label: label(n.key), path: n.path, tags: n.tags, terminal: isTerminal(n), via: n.via })),
    (s) => s.label,
  );
  const edges: ExploredEdge[] = unique(
    graph.edges.map((e) => ({ from: label(e.from), to: label(e.to), event: e.type, key: e.key, variant: e.variant })),
    (e) => `${e.from}|${e.key}`,
  );
  const reached = new Set(nodes.map((n) => n.path));
  const unreachable = leafPaths(lifecycle.machine).filter((path) => !reached.has(path));
  const pathOfLabel = new Map(nodes.map((n) => [label(n.key), n.path]));
  const deadEnds = states.filter((s) => !s.terminal && !edges.some((e) => e.from === s.label && pathOfLabel.get(e.to) !== s.path)).map((s) => s.label);
  // Backwards from the terminal situations: whatever they cannot be reached from can never end.
  const canEnd = new Set([...terminalKeys].map(label));
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of edges) {
      if (canEnd.has(e.to) && !canEnd.has(e.from)) {
        canEnd.add(e.from);
        grew = true;
      }
    }
  }
  const cannotEnd = states.filter((s) => !s.terminal && !canEnd.has(s.label)).map((s) => s.label);
  const terminalLabels = new Set([...terminalKeys].map(label));
  const terminalExits = edges.filter((e) => terminalLabels.has(e.from) && !terminalLabels.has(e.to));
  const throws = unique(graph.throws.map((t) => ({ ...t, state: label(t.state) })), (t) => `${t.state}|${t.event}`);
  const nondeterministic = unique(graph.nondeterministic.map((n) => ({ ...n, state: label(n.state) })), (n) => `${n.state}|${n.event}`);

  const problems: ExploreProblem[] = [];
  const allowedExit = (e: ExploredEdge) => {
    const path = pathOfLabel.get(e.from)!;
    const allowed = options.terminalAccepts?.[path] ?? options.terminalAccepts?.[path.split('.')[0]!] ?? [];
    return allowed.includes(e.key);
  };
  for (const path of unreachable) problems.push({ kind: 'unreachable', state: path, message: `state ${path} is declared but no sequence of events reaches it` });
  for (const state of deadEnds) problems.push({ kind: 'dead-end', state, message: `a job in ${state} (not terminal) can never leave it: no event leads anywhere else` });
  for (const state of cannotEnd.filter((s) => !deadEnds.includes(s))) {
    problems.push({ kind: 'cannot-end', state, message: `a job in ${state} can never reach a terminal state` });
  }
  for (const e of terminalExits.filter((x) => !allowedExit(x))) {
    problems.push({ kind: 'terminal-exit', state: e.from, event: e.key, message: `terminal ${e.from} is left for ${e.to} on ${e.key} (list it in terminalAccepts if that is meant)` });
  }
  for (const t of throws) problems.push({ kind: 'throws', state: t.state, event: t.event, message: `${t.event} in ${t.state} throws: ${t.error}` });
  for (const n of nondeterministic) {
    problems.push({
      kind: 'nondeterministic', state: n.state, event: n.event,
      message: `${n.event} in ${n.state} answers differently at other wall-clock instants or when asked again (a guard or action reads the clock or a random number?): ${n.outcomes.map((o) => o.split(' ')[0]).join(' / ')}`,
    });
  }
  problems.push(...tagProblems(graph, label));

  const diagram: DiagramInput = { name: `${lifecycle.name}@${lifecycle.version}`, initial: states[0]!.label, states, edges, unreachable };
  const exploration: Exploration = {
    lifecycle: { name: lifecycle.name, version: lifecycle.version },
    initial: states[0]!.label,
    states,
    terminal: states.filter((s) => s.terminal).map((s) => s.label),
    edges,
    unreachable,
    deadEnds,
    cannotEnd,
    terminalExits,
    throws,
    nondeterministic,
    problems,
    assertNoProblems() {
      if (problems.length > 0) throw new LifecycleExploreError(lifecycle.name, lifecycle.version, problems);
    },
    toMermaid: (diagramOptions) => toMermaid(diagram, diagramOptions),
    toDot: (diagramOptions) => toDot(diagram, diagramOptions),
  };
  return exploration;
}

/**
 * The tag contract as the engine and the runner rely on it: a claim leads to a running state (the
 * runner runs a handler only there), only a running state takes a handler's events, and a final
 * state of the machine is tagged terminal (else the job never ends).
 */
function tagProblems(graph: Graph, label: (key: string) => string): ExploreProblem[] {
  const problems: ExploreProblem[] = [];
  for (const edge of graph.edges) {
    const from = graph.nodes.get(edge.from)!;
    const to = graph.nodes.get(edge.to)!;
    if (edge.type === 'CLAIM' && !to.tags.includes('running')) {
      problems.push({ kind: 'tags', state: label(to.key), event: edge.key, message: `CLAIM leads from ${label(from.key)} to ${label(to.key)}, which is not tagged running: a worker would claim the job and never run its handler` });
    }
  }
  const handlerEvents = new Map<string, Set<string>>();
  for (const edge of graph.edges) {
    if (!HANDLER_EVENTS.includes(edge.type) || graph.nodes.get(edge.from)!.tags.includes('running')) continue;
    let types = handlerEvents.get(edge.from);
    if (!types) handlerEvents.set(edge.from, (types = new Set()));
    types.add(edge.type);
  }
  for (const [key, types] of handlerEvents) {
    problems.push({ kind: 'tags', state: label(key), message: `${label(key)} accepts ${[...types].join(', ')}, which only a running job's handler sends, but is not tagged running` });
  }
  for (const node of graph.nodes.values()) {
    if ((node.snapshot as AnyMachineSnapshot).status === 'done' && !node.tags.includes('terminal')) {
      problems.push({ kind: 'tags', state: label(node.key), message: `${label(node.key)} is a final state of the machine but is not tagged terminal: a job there never ends` });
    }
  }
  return problems;
}

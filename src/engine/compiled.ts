/**
 * Compiled lifecycles: a machine's transitions as a table, so the engine's hot path steps a job
 * without XState's interpreter (8-20 µs a transition) while the machine stays the one definition.
 *
 * Built once per lifecycle, when it is registered: for each state the machine can reach and each
 * event type it knows, the candidate transitions in XState's order (the leaf's, then each
 * ancestor's), each with its guard, its target state and its context updates. Only what can be
 * proven to mean the same is compiled:
 * - guards: none, or one of the shared guards of machines/common.ts (`willRetry`, `keepsParams`,
 *   `cancelRequested`), found by function identity in the machine's implementations. A guard of the
 *   lifecycle's own may read anything (the parameters), so it is never compiled;
 * - actions: none, or XState `assign` actions only (the shared `apply`, `assign(applyJob)`, or the
 *   lifecycle's own, such as EcoTaxa's wording), by name or inline, with static or computed params.
 *   An assignment is pure by XState's contract (the next context from the context and the event),
 *   so the step runs it itself, in XState's order, merged as XState merges it. An assignment that
 *   touches `spawn`, `self` or `system` (an actor, not a context) is left to XState: found on the
 *   samples at registration, and at any step (the step then asks XState, from the same snapshot;
 *   so does a step whose assignment throws, so the error is XState's).
 *   Any other action (raise, sendTo, enqueueActions, spawnChild, log, a function) leaves that
 *   transition to XState;
 * - a single target, not a history state, not the source itself, with no entry or exit action and
 *   no eventless transition on the way or where it ends.
 * A (state, event) with any other candidate runs on XState; so does every transition of a machine
 * with parallel or history states, invoked actors, delayed, wildcard or done-event transitions, or
 * an output: the registry keeps a one-line note saying why (`LifecycleRegistry.notes()`).
 *
 * Each compiled entry is then checked against XState on sample contexts and events (retry asked
 * or not, a cancellation pending or not, parameters or none): one that differs falls back too.
 * An entry with a guard or an assignment of the lifecycle's own is checked on every sample.
 *
 * A compiled step copies the target state's prototype snapshot (XState's own `resolveState`, made
 * once) with the new context: the same shape as any XState snapshot, so the snapshot cache,
 * deriveRow, persistence and a later XState transition take it as they take XState's. Refusal is
 * XState's: the same snapshot back (the engine refuses when nothing changed). A stored job is taken
 * up the same way (`resolve`): its state's prototype with the restored context, as `resolveState`
 * would make it.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import {
  applyJob, cancelRequested, initialContext, keepsParams, reduceJob, willRetry,
  type JobContext, type Lifecycle,
} from '../../machines/common.ts';
import { describeState, nextSnapshot } from './transition.ts';

type TimedEvent = EventObject & { at: number };
type SampleEvent = TimedEvent & Record<string, unknown>;
type Guard = (args: { context: JobContext; event: EventObject }) => boolean;
/** A pure step: XState's `transition()` or the compiled one. */
export type Step = (snapshot: AnyMachineSnapshot, event: TimedEvent) => AnyMachineSnapshot;

const SHARED_GUARDS = new Map<unknown, Guard>([
  [willRetry, willRetry as Guard],
  [keepsParams, keepsParams as Guard],
  [cancelRequested, cancelRequested as Guard],
]);

/** What the table reads of an XState state node. */
interface Node {
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  parent?: Node;
  states: Record<string, Node>;
  transitions: Map<string, Transition[]>;
  always?: unknown[];
  entry: unknown[];
  exit: unknown[];
  invoke: unknown[];
  after: unknown[];
  initial: { target: Node[]; actions: unknown[] };
  output?: unknown;
}

interface Transition {
  guard?: unknown;
  actions: unknown[];
  target?: Node[];
  reenter?: boolean;
}

/** One context update of a transition: the shared reducer, or an XState assignment run as XState runs it. */
type Update = (context: JobContext, event: TimedEvent) => JobContext;

/** One candidate transition, proven to mean what the step does. */
interface Candidate {
  guard: Guard | null;
  /** The transition's assign actions, in order; empty: the context stays. */
  updates: readonly Update[];
  /** Some update is an assignment of the lifecycle's own (checked on every sample, not one). */
  own: boolean;
  /** The state it leads to; null: it stays (a transition without target). */
  to: StateEntry | null;
}

const FALLBACK = 'xstate' as const;
type Plan = readonly Candidate[] | typeof FALLBACK;

interface StateEntry {
  /** The leaf state node (its id: `ecotaxa.E.killed`). */
  leaf: Node;
  /** XState's snapshot of this state (`resolveState`), with an empty context: copied by each step. */
  proto: AnyMachineSnapshot;
  /** The state value is an object (a nested state): each snapshot gets its own copy. */
  nested: boolean;
  /** By event type; an event type missing here has no candidate at all (refused). */
  on: Map<string, Plan>;
}

export interface CompiledLifecycle {
  readonly machine: AnyStateMachine;
  /** Whether any (state, event) runs without XState. */
  readonly compiled: boolean;
  /** (state, event) pairs with at least one candidate transition, and how many of them are compiled. */
  readonly pairs: { total: number; compiled: number };
  /** Why some or all of the lifecycle runs on XState, in one line; null when nothing does. */
  readonly note: string | null;
  /** Whether this state and event type are compiled (for tests and tools); false for an unknown state. */
  isCompiled(value: AnyMachineSnapshot['value'], type: string): boolean;
  /** The next snapshot: compiled where the table says so, else XState's `transition()`. */
  readonly step: Step;
  /** A stored state value and context as a snapshot: the state's prototype when the table has it, else XState's `resolveState`. */
  readonly resolve: Resolve;
}

/** `machine.resolveState({ value, context })`, as restoring a stored job asks it. */
export type Resolve = (value: AnyMachineSnapshot['value'], context: unknown) => AnyMachineSnapshot;

const cache = new WeakMap<Lifecycle, CompiledLifecycle>();

/** The lifecycle's compiled form, built on first use (the registry builds it at registration). */
export function compiledOf(lifecycle: Lifecycle): CompiledLifecycle {
  let compiled = cache.get(lifecycle);
  if (!compiled) {
    try {
      compiled = compileLifecycle(lifecycle);
    } catch (error) {
      // A machine the table cannot be built from still runs, on XState.
      const { machine } = lifecycle;
      const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
      compiled = onXState(machine, (snapshot, event) => nextSnapshot(machine, snapshot, event), `${lifecycle.name}@${lifecycle.version}: every transition runs on XState (its table could not be built: ${why})`);
    }
    cache.set(lifecycle, compiled);
  }
  return compiled;
}

/** The step the engine and replay use: compiled, or XState's alone when `compiled` is false. */
export function stepOf(lifecycle: Lifecycle, compiled: boolean): Step {
  if (compiled) return compiledOf(lifecycle).step;
  const { machine } = lifecycle;
  return (snapshot, event) => nextSnapshot(machine, snapshot, event);
}

function compileLifecycle(lifecycle: Lifecycle): CompiledLifecycle {
  const machine = lifecycle.machine as AnyStateMachine;
  const xstate: Step = (snapshot, event) => nextSnapshot(machine, snapshot, event);
  const label = `${lifecycle.name}@${lifecycle.version}`;
  const whole = wholeMachineReason(machine);
  if (whole !== null) return onXState(machine, xstate, `${label}: every transition runs on XState (${whole})`);

  const root = machine.root as unknown as Node;
  const { actions = {}, guards = {} } = (machine as unknown as { implementations?: { actions?: Record<string, unknown>; guards?: Record<string, unknown> } }).implementations ?? {};
  const events = [...(machine.root.events as string[])];
  const states = new Map<string, StateEntry>();
  const reasons = new Map<string, number>();
  const fallBack = (reason: string): typeof FALLBACK => {
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    return FALLBACK;
  };

  const entryOfLeaf = (leaf: Node): StateEntry => {
    let entry = states.get(leaf.id);
    if (!entry) {
      const proto = machine.resolveState({ value: valueOf(leaf) as never, context: {} as never }) as AnyMachineSnapshot;
      entry = { leaf, proto, nested: typeof proto.value !== 'string', on: new Map() };
      states.set(leaf.id, entry);
      pending.push(leaf);
    }
    return entry;
  };

  const candidateOf = (leaf: Node, transition: Transition): Candidate | string => {
    let guard: Guard | null = null;
    if (transition.guard !== undefined) {
      const reference = transition.guard as string | { type?: unknown; params?: unknown } | ((...args: unknown[]) => unknown);
      if (typeof reference === 'function') return 'an inline guard';
      const name = typeof reference === 'string' ? reference : reference.type;
      if (typeof name !== 'string' || (typeof reference === 'object' && reference.params !== undefined)) return 'a guard with parameters';
      const shared = SHARED_GUARDS.get(guards[name]);
      if (!shared) return `the guard "${name}" of its own`;
      guard = shared;
    }
    const updates: Update[] = [];
    let own = false;
    for (const action of transition.actions) {
      const update = updateOf(action, actions);
      if (typeof update === 'string') return update;
      if (update !== reduceJob) own = true;
      updates.push(update);
    }
    if (transition.target === undefined || transition.target.length === 0) {
      if (chain(leaf).some(hasAlways)) return 'an eventless transition';
      return { guard, updates, own, to: null };
    }
    if (transition.target.length !== 1) return 'several targets';
    const target = leafOf(transition.target[0]!);
    if (target === null) return 'a history target';
    if (target === leaf || transition.reenter) return 'a re-entry';
    const path = [...chain(leaf), ...chain(target)];
    if (path.some((node) => node.entry.length > 0 || node.exit.length > 0 || node.initial.actions.length > 0)) return 'entry or exit actions';
    if (chain(target).some(hasAlways)) return 'an eventless transition';
    return { guard, updates, own, to: entryOfLeaf(target) };
  };

  const initial = leafOf(root);
  if (initial === null) return onXState(machine, xstate, `${label}: every transition runs on XState (its initial state is a history state)`);
  const pending: Node[] = [];
  entryOfLeaf(initial);
  for (let leaf = pending.shift(); leaf !== undefined; leaf = pending.shift()) {
    const entry = states.get(leaf.id)!;
    for (const type of events) {
      const transitions = chain(leaf).flatMap((node) => node.transitions.get(type) ?? []);
      if (transitions.length === 0) continue;
      const candidates: Candidate[] = [];
      let plan: Plan = candidates;
      // Every state a transition can lead to is reachable, whether or not the transition is compiled.
      for (const transition of transitions) {
        const target = transition.target?.length === 1 ? leafOf(transition.target[0]!) : null;
        if (target !== null) entryOfLeaf(target);
      }
      for (const transition of transitions) {
        const candidate = candidateOf(leaf, transition);
        if (typeof candidate === 'string') {
          plan = fallBack(candidate);
          break;
        }
        candidates.push(candidate);
      }
      entry.on.set(type, plan);
    }
  }

  // Each compiled entry must give what XState gives, on every sample: else it falls back.
  for (const entry of states.values()) {
    for (const [type, plan] of entry.on) {
      if (plan === FALLBACK) continue;
      const verdict = agreesWithXState(entry, type, plan, xstate);
      if (verdict !== true) entry.on.set(type, fallBack(verdict));
    }
  }

  let total = 0;
  let compiledPairs = 0;
  for (const entry of states.values()) {
    for (const plan of entry.on.values()) {
      total++;
      if (plan !== FALLBACK) compiledPairs++;
    }
  }
  const note = reasons.size === 0
    ? null
    : `${label}: ${compiledPairs} of ${total} (state, event) pairs compiled; on XState: ${[...reasons].map(([reason, n]) => `${n} for ${reason}`).join(', ')}`;

  const byNodes = new WeakMap<object, StateEntry | null>();
  const entryOf = (snapshot: AnyMachineSnapshot): StateEntry | null => {
    const nodes = (snapshot as unknown as { _nodes: Node[] })._nodes;
    let entry = byNodes.get(nodes);
    if (entry === undefined) {
      const leaves = nodes.filter((node) => node.type === 'atomic' || node.type === 'final');
      entry = (leaves.length === 1 ? states.get(leaves[0]!.id) : undefined) ?? null;
      // A snapshot of another machine (another version with the same state ids) is XState's to judge.
      if (entry !== null && entry.leaf !== leaves[0]) entry = null;
      byNodes.set(nodes, entry);
    }
    return entry;
  };

  const step: Step = (snapshot, event) => {
    const entry = entryOf(snapshot);
    if (entry === null) return xstate(snapshot, event);
    const plan = entry.on.get(event.type);
    if (plan === undefined) return snapshot;
    if (plan === FALLBACK) return xstate(snapshot, event);
    try {
      return take(entry, plan, snapshot, event);
    } catch {
      // An assignment that wanted its actor (or threw): XState's answer, from the same snapshot (the assignment is pure).
      return xstate(snapshot, event);
    }
  };

  // Stored values are full paths (persistSnapshot writes the snapshot's own): `E.killed` finds its state.
  const byValue = new Map<string, StateEntry>();
  for (const entry of states.values()) byValue.set(describeState(entry.proto), entry);
  const resolve: Resolve = (value, context) => {
    const entry = byValue.get(typeof value === 'string' ? value : describeState({ value }));
    return entry ? snapshotOf(entry, context) : resolveWith(machine)(value, context);
  };

  return {
    machine,
    resolve,
    compiled: compiledPairs > 0,
    pairs: { total, compiled: compiledPairs },
    note,
    isCompiled(value, type) {
      const entry = entryOf(machine.resolveState({ value: value as never, context: {} as never }) as AnyMachineSnapshot);
      const plan = entry?.on.get(type);
      return entry !== null && plan !== FALLBACK;
    },
    step,
  };
}

/** The first candidate whose guard passes, applied; the same snapshot when none does or it changes nothing. */
function take(entry: StateEntry, plan: readonly Candidate[], snapshot: AnyMachineSnapshot, event: TimedEvent): AnyMachineSnapshot {
  const context = snapshot.context as JobContext;
  for (const candidate of plan) {
    if (candidate.guard !== null && !candidate.guard({ context, event })) continue;
    const { updates } = candidate;
    // XState returns the snapshot itself when a transition runs no action and stays.
    if (updates.length === 0 && candidate.to === null) return snapshot;
    let next = context;
    for (let i = 0; i < updates.length; i++) next = updates[i]!(next, event);
    return snapshotOf(candidate.to ?? entry, next);
  }
  return snapshot;
}

/** Thrown when an assignment reaches for its actor (`spawn`, `self`, `system`): the step is XState's. */
class NeedsActor extends Error {}
const needsActor = (): never => {
  throw new NeedsActor('an assignment that touches spawn, self or system');
};

/**
 * A transition's action as a context update, or why it stays on XState. XState 5 represents an
 * `assign(...)` as a function with `type: 'xstate.assign'` and its `assignment` (a function or a
 * map of property assigners); it resolves a named action in the machine's implementations and its
 * params as given or computed from `{ context, event }`, then merges the partial update into a copy
 * of the context (`Object.assign({}, context, partial)`). The update below does exactly that; the
 * shared `apply` is the reducer itself (it returns a whole context, the merge would copy it again).
 */
function updateOf(action: unknown, implementations: Record<string, unknown>): Update | string {
  const reference = action as string | { type?: unknown; params?: unknown } | ((...args: unknown[]) => unknown);
  const inline = typeof reference === 'function';
  const name = typeof reference === 'string' ? reference : !inline && typeof reference === 'object' && reference !== null ? reference.type : null;
  const what = typeof name === 'string' ? `the action "${name}"` : 'an inline action';
  const found: unknown = inline ? reference : typeof name === 'string' ? implementations[name] : undefined;
  if (typeof found !== 'function') return what;
  const impl = found as unknown as { type?: unknown; assignment?: unknown };
  if (impl.type !== 'xstate.assign') return what;
  const hasParams = !inline && typeof reference === 'object' && reference !== null && 'params' in reference;
  const params = hasParams ? (reference as { params?: unknown }).params : undefined;
  const { assignment } = impl;
  if (assignment === applyJob && params === undefined) return reduceJob as Update;
  if (typeof assignment !== 'function' && (typeof assignment !== 'object' || assignment === null)) return what;
  const paramsOf = typeof params === 'function'
    ? (context: JobContext, event: TimedEvent) => (params as (args: { context: JobContext; event: TimedEvent }) => unknown)({ context, event })
    : () => params;
  const keys = typeof assignment === 'function' ? null : Object.keys(assignment);
  return (context, event) => {
    const args = { context, event, get spawn() { return needsActor(); }, get self() { return needsActor(); }, get system() { return needsActor(); } };
    const p = paramsOf(context, event);
    let partial: Record<string, unknown>;
    if (keys === null) {
      partial = (assignment as (a: unknown, p: unknown) => Record<string, unknown>)(args, p);
    } else {
      partial = {};
      for (const key of keys) {
        const value = (assignment as Record<string, unknown>)[key];
        partial[key] = typeof value === 'function' ? value(args, p) : value;
      }
    }
    return Object.assign({}, context, partial);
  };
}

/**
 * The state's prototype with this context, field by field as XState's createMachineSnapshot
 * writes them (a spread literal takes V8's slow path). The nodes, tags and methods are shared
 * with the prototype; nobody changes them.
 */
function snapshotOf(entry: StateEntry, context: unknown): AnyMachineSnapshot {
  const p = entry.proto as unknown as Record<string, unknown>;
  return {
    status: p.status,
    output: p.output,
    error: p.error,
    machine: p.machine,
    context,
    _nodes: p._nodes,
    value: entry.nested ? copyValue(p.value) : p.value,
    tags: p.tags,
    children: p.children,
    historyValue: p.historyValue,
    matches: p.matches,
    hasTag: p.hasTag,
    can: p.can,
    getMeta: p.getMeta,
    toJSON: p.toJSON,
  } as unknown as AnyMachineSnapshot;
}

function copyValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const key in value) copy[key] = copyValue((value as Record<string, unknown>)[key]);
  return copy;
}

/** A lifecycle none of whose transitions is compiled. */
function onXState(machine: AnyStateMachine, step: Step, note: string): CompiledLifecycle {
  return { machine, compiled: false, pairs: { total: 0, compiled: 0 }, note, isCompiled: () => false, step, resolve: resolveWith(machine) };
}

function resolveWith(machine: AnyStateMachine): Resolve {
  return (value, context) => machine.resolveState({ value: value as never, context: context as never }) as AnyMachineSnapshot;
}

/** How a stored job is taken up: {@link CompiledLifecycle.resolve}, or XState's `resolveState` alone. */
export function resolverFor(lifecycle: Lifecycle, compiled: boolean): Resolve {
  return compiled ? compiledOf(lifecycle).resolve : resolveWith(lifecycle.machine);
}

/** Why no transition of the machine can be compiled, or null. */
function wholeMachineReason(machine: AnyStateMachine): string | null {
  const root = machine.root as unknown as Node;
  if (root.output !== undefined) return 'it has an output';
  const found: string[] = [];
  const visit = (node: Node): void => {
    const where = node.parent ? node.id : '(root)';
    if (node.type === 'parallel') found.push(`parallel state ${where}`);
    if (node.type === 'history') found.push(`history state ${where}`);
    if (node.invoke.length > 0) found.push(`invoked actors in ${where}`);
    if (node.after.length > 0) found.push(`delayed transitions in ${where}`);
    for (const key of node.transitions.keys()) {
      if (key.includes('*')) found.push(`the wildcard event ${key} in ${where}`);
      else if (key.startsWith('xstate.')) found.push(`the event ${key} in ${where}`);
    }
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(root);
  return found.length > 0 ? found.slice(0, 3).join(', ') : null;
}

/** The node and its ancestors, leaf first (the order XState looks for transitions in). */
function chain(node: Node): Node[] {
  const nodes: Node[] = [];
  for (let n: Node | undefined = node; n; n = n.parent) nodes.push(n);
  return nodes;
}

function hasAlways(node: Node): boolean {
  return (node.always?.length ?? 0) > 0;
}

/** The leaf a target enters (through initial states), or null for a history state. */
function leafOf(target: Node): Node | null {
  let node = target;
  while (node.type === 'compound') {
    const next = node.initial.target[0];
    if (!next || node.initial.target.length !== 1) return null;
    node = next;
  }
  return node.type === 'history' || node.type === 'parallel' ? null : node;
}

/** The state value of a leaf (`'P'`, `{ E: 'killed' }`). */
function valueOf(leaf: Node): unknown {
  const keys: string[] = [];
  for (let n: Node | undefined = leaf; n?.parent; n = n.parent) keys.unshift(n.key);
  let value: unknown = keys.pop()!;
  while (keys.length > 0) value = { [keys.pop()!]: value };
  return value;
}

/**
 * The samples a compiled entry is checked on. Without a guard the entry's answer does not depend on
 * the context or payload (the reducer is the same function on both paths): one sample. With one,
 * the shared guards read exactly a pending cancellation, a retry instant and new parameters: each
 * of those, with a cancellation pending and not. An assignment of the lifecycle's own may read
 * anything: it gets every sample too.
 */
function samplesOf(type: string, guarded: boolean): Array<{ context: JobContext; event: SampleEvent }> {
  const base = initialContext({ params: { sample: 1 }, priority: 1, runAfter: 5, executionDuration: 30, destruction: null, quote: null });
  const context = (cancelRequested: boolean): JobContext => ({ ...base, cancelRequested, attempt: 1, progress: { percent: 10, message: 'm', current: 1, total: 10 } });
  const error = { message: 'probe', name: 'Error' };
  const events: SampleEvent[] = [
    { type, at: 1_000, error },
    { type, at: 1_001, retryAt: 2_000, error },
    { type, at: 1_002, params: { edited: true }, priority: 3 },
  ];
  if (!guarded) return [{ context: context(false), event: events[0]! }];
  return [false, true].flatMap((cancel) => events.map((event) => ({ context: context(cancel), event })));
}

/** True, or why the entry stays on XState. */
function agreesWithXState(entry: StateEntry, type: string, plan: readonly Candidate[], xstate: Step): true | string {
  const differs = 'a difference from XState on a sample';
  for (const { context, event } of samplesOf(type, plan.some((candidate) => candidate.guard !== null || candidate.own))) {
    const before = snapshotOf(entry, context);
    let expected: AnyMachineSnapshot;
    try {
      expected = xstate(before, event);
    } catch {
      return differs;
    }
    let actual: AnyMachineSnapshot;
    try {
      actual = take(entry, plan, before, event);
    } catch (error) {
      return error instanceof NeedsActor ? error.message : differs;
    }
    if ((expected === before) !== (actual === before)) return differs;
    if (actual !== before && !sameSnapshot(actual, expected)) return differs;
  }
  return true;
}

/** Equal in everything the engine reads or stores of a snapshot. */
export function sameSnapshot(a: AnyMachineSnapshot, b: AnyMachineSnapshot): boolean {
  return (
    a.status === b.status &&
    isDeepStrictEqual(a.value, b.value) &&
    isDeepStrictEqual(a.context, b.context) &&
    JSON.stringify(a.context) === JSON.stringify(b.context) &&
    isDeepStrictEqual([...a.tags].sort(), [...b.tags].sort()) &&
    isDeepStrictEqual(a.historyValue, b.historyValue) &&
    a.output === b.output
  );
}

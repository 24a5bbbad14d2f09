/**
 * The lifecycles an engine knows, by name and version, each checked when it is registered (the tag
 * contract, a job context built from the input, start events it accepts), so a user's machine that
 * is wrong fails at start-up with what is missing, not at the first enqueue or mid-job.
 */
import type { AnyStateMachine } from 'xstate';
import { OUTCOME_TAGS, type JobInput, type Lifecycle } from '../../machines/common.ts';
import { builtInLifecycles } from '../../machines/index.ts';
import { InvalidInputError, UnknownLifecycleError } from '../errors.ts';
import { compiledOf } from './compiled.ts';
import { PARKING_EVENTS } from './parking.ts';
import { firstSnapshot, nextSnapshot } from './transition.ts';

/** Fields every job context has: the engine derives the row from them. */
const CONTEXT_FIELDS = [
  'params', 'result', 'errors', 'progress', 'question', 'reply', 'replies', 'inside', 'step', 'steps',
  'attempt', 'resuming', 'cancelRequested', 'priority', 'runAfter', 'executionDuration', 'destruction', 'quote',
] as const;

const SAMPLE_INPUT: JobInput = { params: {}, priority: 0, runAfter: null, executionDuration: 0, destruction: null, quote: null };

/**
 * The check registration runs: throws with every problem found (a malformed definition, a broken
 * tag contract, a machine that cannot make a job). What a lifecycle then does with events is
 * checked in tests by phaseline/testing's `checkLifecycle`.
 */
export function validateLifecycle(lifecycle: Lifecycle): void {
  const name = typeof lifecycle?.name === 'string' && lifecycle.name.length > 0 ? lifecycle.name : '(unnamed)';
  const where = `lifecycle ${name}`;
  if (name === '(unnamed)') throw new InvalidInputError(where, 'needs a name (a non-empty string)');
  if (!Number.isSafeInteger(lifecycle.version) || lifecycle.version < 1) throw new InvalidInputError(where, 'needs a version (an integer of at least 1)');
  const machine = lifecycle.machine as AnyStateMachine | undefined;
  if (!machine || typeof machine.transition !== 'function' || !machine.root) {
    throw new InvalidInputError(where, 'needs an XState v5 machine (createMachine or setup().createMachine), or use defineLifecycle');
  }
  const reserved = PARKING_EVENTS.filter((type) => (machine.root.events as string[]).includes(type));
  if (reserved.length > 0) {
    throw new InvalidInputError(where, `its machine names ${reserved.join(', ')}, which are the engine's own events (sleeps, signal waits, their wake-ups and dependencies); rename them`);
  }
  checkTagContract(lifecycle);
  checkNamedImplementations(lifecycle);
  checkOwnBehaviour(lifecycle, machine);
  let snapshot;
  try {
    snapshot = firstSnapshot(machine, SAMPLE_INPUT);
  } catch {
    // A context that reads fields of the parameters cannot be built from empty ones: nothing can
    // be said here, and such a machine is not refused for it.
    return;
  }
  const context = (snapshot.context ?? {}) as Record<string, unknown>;
  const missing = CONTEXT_FIELDS.filter((field) => !(field in context));
  if (missing.length > 0) {
    throw new InvalidInputError(
      where,
      `its machine's context lacks ${missing.join(', ')}: build it from the input with \`context: ({ input }) => initialContext(input)\`, or use defineLifecycle`,
    );
  }
  for (const type of lifecycle.startEvents ?? []) {
    if (typeof type !== 'string' || !snapshot.can({ type, at: 0 })) {
      throw new InvalidInputError(where, `start event ${JSON.stringify(type)} is not accepted by a new job (state ${JSON.stringify(snapshot.value)})`);
    }
    snapshot = nextSnapshot(machine, snapshot, { type, at: 0 });
  }
}

interface NodeWithTransitions {
  key: string;
  parent?: NodeWithTransitions;
  states: Record<string, NodeWithTransitions>;
  transitions: Map<string, Array<{ actions: unknown[]; guard?: unknown }>>;
  entry: unknown[];
  exit: unknown[];
}

/** The name an action or guard is referred to by, when it is one (not an inline function or XState's own). */
function nameOf(reference: unknown): string | null {
  const name = typeof reference === 'string' ? reference : (reference as { type?: unknown } | null)?.type;
  return typeof name === 'string' && !name.startsWith('xstate.') ? name : null;
}

/**
 * Every action and guard a state names must be implemented: XState skips a misspelled action
 * (`'aply'`) without a word and throws at the first event that meets a misspelled guard, which
 * would strand a job mid-run. Refused at registration instead, with the names and where they are.
 */
function checkNamedImplementations(lifecycle: Lifecycle): void {
  const machine = lifecycle.machine as AnyStateMachine;
  const { actions = {}, guards = {} } = (machine as unknown as { implementations?: { actions?: object; guards?: object } }).implementations ?? {};
  const problems: string[] = [];
  const visit = (node: NodeWithTransitions): void => {
    const where = statePath(node as unknown as StateNodeLike) || '(root)';
    for (const action of [...node.entry, ...node.exit]) {
      const name = nameOf(action);
      if (name !== null && !(name in actions)) problems.push(`state ${where} names the action ${JSON.stringify(name)}, which is not implemented`);
    }
    for (const [event, transitions] of node.transitions) {
      for (const transition of transitions) {
        for (const action of transition.actions) {
          const name = nameOf(action);
          if (name !== null && !(name in actions)) problems.push(`${event} in ${where} names the action ${JSON.stringify(name)}, which is not implemented`);
        }
        const guard = nameOf(transition.guard);
        if (guard !== null && !(guard in guards)) problems.push(`${event} in ${where} names the guard ${JSON.stringify(guard)}, which is not implemented`);
      }
    }
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root as unknown as NodeWithTransitions);
  if (problems.length > 0) {
    const known = `known actions: ${Object.keys(actions).join(', ') || 'none'}; guards: ${Object.keys(guards).join(', ') || 'none'}`;
    throw new InvalidInputError(`lifecycle ${lifecycle.name}`, `${problems.join('; ')} (${known})`);
  }
}

/** The optional fields that give a lifecycle destruction, retention or validation behaviour of its own. */
function checkOwnBehaviour(lifecycle: Lifecycle, machine: AnyStateMachine): void {
  const where = `lifecycle ${lifecycle.name}`;
  const events = new Set<string>(machine.root.events);
  const tagged = (tag: string) => leaves(machine.root as unknown as StateNodeLike).some(({ tags }) => tags.includes(tag));
  const { archiveEvent, retention, validatedEvent } = lifecycle;
  if (retention !== undefined && typeof retention !== 'boolean') throw new InvalidInputError(where, 'retention must be true or false');
  if (archiveEvent !== undefined) {
    if (typeof archiveEvent !== 'string' || !events.has(archiveEvent)) {
      throw new InvalidInputError(where, `archiveEvent ${JSON.stringify(archiveEvent)} is not an event its machine accepts`);
    }
    // Destruction leaves alone the top-level states all of whose leaves are archived; any other
    // ended job is sent the event, every sweep, until it is accepted.
    const settled = new Set(archivedStates(machine));
    if (settled.size === 0) throw new InvalidInputError(where, 'has an archiveEvent but no top-level state tagged archived (on it or on all its children) for it to lead to');
    const stuck = leaves(machine.root as unknown as StateNodeLike)
      .filter(({ node, tags }) => tags.includes('terminal') && !settled.has(topLevelKey(node)))
      .filter(({ node }) => !acceptsUpward(node, archiveEvent))
      .map(({ node }) => statePath(node));
    if (stuck.length > 0) throw new InvalidInputError(where, `terminal state ${stuck.join(', ')} does not accept the archiveEvent ${archiveEvent}, so destruction could never settle it`);
  }
  if (validatedEvent !== undefined) {
    if (typeof validatedEvent !== 'string' || !events.has(validatedEvent)) {
      throw new InvalidInputError(where, `validatedEvent ${JSON.stringify(validatedEvent)} is not an event its machine accepts`);
    }
    if (!tagged('validating')) throw new InvalidInputError(where, 'has a validatedEvent but no state tagged validating');
  } else if (tagged('validating')) {
    // The runner would run the handler in that state, which the machine does not let finish.
    throw new InvalidInputError(where, 'has a state tagged validating but no validatedEvent to leave it');
  }
}

/** Top-level states every leaf of which is tagged `archived` (on itself or an ancestor): what destruction has settled. */
export function archivedStates(machine: AnyStateMachine): string[] {
  const archived = (node: StateNodeLike, inherited: boolean): boolean => {
    const here = inherited || node.tags.includes('archived');
    const children = Object.values(node.states);
    return children.length === 0 ? here : children.every((child) => archived(child, here));
  };
  const root = machine.root as unknown as StateNodeLike;
  return Object.values(root.states).filter((node) => archived(node, false)).map((node) => node.key);
}

function topLevelKey(node: StateNodeLike): string {
  let n = node;
  while (n.parent?.parent) n = n.parent;
  return n.key;
}

/** Whether the state or one of its ancestors has a transition for the event. */
function acceptsUpward(node: StateNodeLike, event: string): boolean {
  for (let n: StateNodeLike | undefined = node; n; n = n.parent) {
    if ((n as unknown as { transitions?: Map<string, unknown> }).transitions?.has(event)) return true;
  }
  return false;
}

/** Every leaf state, with the tags it inherits. */
function leaves(root: StateNodeLike): Array<{ node: StateNodeLike; tags: string[] }> {
  const found: Array<{ node: StateNodeLike; tags: string[] }> = [];
  const visit = (node: StateNodeLike, inherited: string[]): void => {
    const tags = [...inherited, ...node.tags];
    const children = Object.values(node.states);
    if (children.length === 0) found.push({ node, tags });
    for (const child of children) visit(child, tags);
  };
  visit(root, []);
  return found;
}

/**
 * Whether a failed attempt of a running job can go back to the queue: a claim from the new job's
 * state, then a FAIL that asks for a retry, ends in a `queued` state. A lifecycle with no such path
 * (no `willRetry` guard) would silently ignore a job type's `attempts`.
 * @returns null when no running state is reached by one claim (nothing can be said), else the answer.
 */
export function canRetry(lifecycle: Lifecycle): boolean | null {
  const machine = lifecycle.machine as AnyStateMachine;
  let snapshot = firstSnapshot(machine, SAMPLE_INPUT);
  for (const type of lifecycle.startEvents ?? []) snapshot = nextSnapshot(machine, snapshot, { type, at: 0 });
  if (!snapshot.hasTag('queued') || !snapshot.can({ type: 'CLAIM', at: 1 })) return null;
  snapshot = nextSnapshot(machine, snapshot, { type: 'CLAIM', at: 1 });
  if (!snapshot.hasTag('running')) return null;
  const failed = { type: 'FAIL', at: 2, retryAt: 3, error: { message: 'probe', name: 'Error', kind: 'error', attempt: 1, at: 2 } };
  if (!snapshot.can(failed)) return false;
  return nextSnapshot(machine, snapshot, failed).hasTag('queued');
}

interface StateNodeLike {
  key: string;
  tags: string[];
  type: string;
  states: Record<string, StateNodeLike>;
  parent?: StateNodeLike;
}

/** Throws when a machine's states break the tag contract of machines/common.ts. */
export function checkTagContract(lifecycle: Lifecycle): void {
  const problems: string[] = [];
  let queued = 0;
  let terminal = 0;
  const visit = (node: StateNodeLike, inherited: string[]): void => {
    const tags = [...inherited, ...node.tags];
    const children = Object.values(node.states);
    if (children.length > 0) {
      for (const child of children) visit(child, tags);
      return;
    }
    const path = statePath(node);
    const outcomes = tags.filter((t) => (OUTCOME_TAGS as readonly string[]).includes(t));
    if (tags.includes('queued')) queued++;
    if (tags.includes('terminal')) {
      terminal++;
      if (outcomes.length !== 1) problems.push(`terminal state ${path} needs exactly one of ${OUTCOME_TAGS.join(', ')}`);
      if (tags.includes('running') || tags.includes('queued')) problems.push(`terminal state ${path} cannot be running or queued`);
    } else if (outcomes.length > 0) {
      problems.push(`state ${path} has an outcome tag but is not terminal`);
    }
    if (tags.includes('running') && tags.includes('queued')) problems.push(`state ${path} cannot be both running and queued`);
    if (tags.includes('archived') && !tags.includes('terminal')) problems.push(`archived state ${path} must be terminal`);
    if (tags.includes('validating') && !tags.includes('running')) problems.push(`validating state ${path} must be running`);
  };
  const root = (lifecycle.machine as AnyStateMachine).root as unknown as StateNodeLike;
  visit(root, []);
  if (queued === 0) problems.push('no state is tagged queued, so no worker could ever claim a job');
  if (terminal === 0) problems.push('no state is tagged terminal');
  if (problems.length > 0) throw new InvalidInputError(`lifecycle ${lifecycle.name}`, problems.join('; '));
}

function statePath(node: StateNodeLike): string {
  const parts: string[] = [];
  for (let n: StateNodeLike | undefined = node; n?.parent; n = n.parent) parts.unshift(n.key);
  return parts.join('.');
}

const BUILT_IN = new Set<Lifecycle>(Object.values(builtInLifecycles));

export class LifecycleRegistry {
  readonly #byName = new Map<string, Map<number, Lifecycle>>();

  constructor(lifecycles: Iterable<Lifecycle> = Object.values(builtInLifecycles)) {
    for (const lifecycle of lifecycles) this.register(lifecycle);
  }

  /**
   * Add a lifecycle. A name and version already taken is refused (two machines under one version
   * would make stored histories ambiguous), and so is a built-in's name, unless the lifecycle sets
   * `replaceBuiltIn`: then the same version replaces the built-in's machine and a higher one
   * becomes the version new jobs get.
   */
  register(lifecycle: Lifecycle): void {
    validateLifecycle(lifecycle);
    let versions = this.#byName.get(lifecycle.name);
    if (!versions) this.#byName.set(lifecycle.name, (versions = new Map()));
    const builtIn = [...versions.values()].some((l) => BUILT_IN.has(l));
    const taken = versions.get(lifecycle.version);
    if (taken === lifecycle) return;
    if (builtIn && !lifecycle.replaceBuiltIn) {
      throw new InvalidInputError(`lifecycle ${lifecycle.name}`, `${lifecycle.name} is a built-in lifecycle; pick another name, or set replaceBuiltIn: true to replace it`);
    }
    if (taken && !(BUILT_IN.has(taken) && lifecycle.replaceBuiltIn)) {
      throw new InvalidInputError(`lifecycle ${lifecycle.name}`, `version ${lifecycle.version} is registered already; give a changed machine a new version`);
    }
    versions.set(lifecycle.version, lifecycle);
    // Its transitions as a table (src/engine/compiled.ts), built now so that the first job does not pay for it.
    compiledOf(lifecycle);
  }

  /**
   * One line for each registered lifecycle version some of whose transitions run on XState's
   * interpreter rather than compiled (an action or a guard of its own, a parallel state...), saying
   * how many and why. Both run the same machine; the compiled ones only run faster.
   */
  notes(): Array<{ lifecycle: string; version: number; note: string }> {
    return this.all().flatMap((lifecycle) => {
      const { note } = compiledOf(lifecycle);
      return note === null ? [] : [{ lifecycle: lifecycle.name, version: lifecycle.version, note }];
    });
  }

  /** The newest version, used for new jobs. */
  latest(name: string): Lifecycle {
    const versions = this.#byName.get(name);
    if (!versions) throw new UnknownLifecycleError(name);
    return [...versions.values()].reduce((a, b) => (b.version > a.version ? b : a));
  }

  /** The version a job was created with. */
  get(name: string, version: number): Lifecycle {
    const lifecycle = this.#byName.get(name)?.get(version);
    if (!lifecycle) throw new UnknownLifecycleError(name, version);
    return lifecycle;
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }

  /** Every registered lifecycle, all versions. */
  all(): Lifecycle[] {
    return [...this.#byName.values()].flatMap((versions) => [...versions.values()]);
  }
}

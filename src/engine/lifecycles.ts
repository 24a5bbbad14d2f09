/**
 * The lifecycles an engine knows, by name and version, each checked against the tag contract
 * when it is registered, so a user's machine that breaks it fails at start-up, not mid-job.
 */
import type { AnyStateMachine } from 'xstate';
import { OUTCOME_TAGS, type Lifecycle } from '../../machines/common.ts';
import { builtInLifecycles } from '../../machines/index.ts';
import { InvalidInputError, UnknownLifecycleError } from '../errors.ts';

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

export class LifecycleRegistry {
  readonly #byName = new Map<string, Map<number, Lifecycle>>();

  constructor(lifecycles: Iterable<Lifecycle> = Object.values(builtInLifecycles)) {
    for (const lifecycle of lifecycles) this.register(lifecycle);
  }

  register(lifecycle: Lifecycle): void {
    checkTagContract(lifecycle);
    let versions = this.#byName.get(lifecycle.name);
    if (!versions) this.#byName.set(lifecycle.name, (versions = new Map()));
    versions.set(lifecycle.version, lifecycle);
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

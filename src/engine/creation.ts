/**
 * A new job's snapshots without running XState: a per-lifecycle creation template.
 *
 * A job's creation folds CREATE (the machine's initial snapshot) and the lifecycle's start events.
 * For the built-in lifecycles and those of defineLifecycle, that fold depends on the input only
 * through the values the context copies from it ({@link FILLED}); the states, tags and every other
 * context field are the same for every job. So the fold is run once per lifecycle and start flag on
 * a sample input, and each creation copies its snapshots with the job's values put in. The row and
 * the events are then derived from those snapshots exactly as from the fold's (deriveRow, eventOf).
 *
 * A template is kept only when it reproduces the fold: it is filled with other sample inputs (every
 * field given, and again with other values) and compared with their folds. A machine whose context
 * computes anything from the input (or records an event's instant) fails that check and keeps the
 * fold. Nothing of the template is shared with the jobs made from it but its XState internals
 * (state nodes, tags), which no one changes.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AnyMachineSnapshot } from 'xstate';
import type { JobContext, JobInput, Lifecycle } from '../../machines/common.ts';
import { IllegalTransitionError } from '../errors.ts';
import type { Step } from './compiled.ts';
import { describeState, firstSnapshot, nextSnapshot } from './transition.ts';

/** Input fields the context copies (message into `progress.message`). */
const FILLED = ['params', 'priority', 'runAfter', 'executionDuration', 'destruction', 'quote', 'message'] as const;
type Filled = (typeof FILLED)[number];

/** The fold from the sample input with every optional field absent: each step's snapshot. */
export type CreationTemplate = readonly AnyMachineSnapshot[];

/** Each creation step's snapshot by XState: the initial snapshot, then one per start event. */
export function foldCreation(
  lifecycle: Lifecycle,
  input: JobInput,
  start: boolean,
  at: number,
  /** How each start event steps: XState's `transition()` unless the engine gives its compiled step. */
  step: Step = (snapshot, event) => nextSnapshot(lifecycle.machine, snapshot, event),
): AnyMachineSnapshot[] {
  let snapshot = firstSnapshot(lifecycle.machine, input);
  const snapshots = [snapshot];
  for (const type of start ? (lifecycle.startEvents ?? []) : []) {
    const after = step(snapshot, { type, at });
    if (after === snapshot) throw new IllegalTransitionError(0, lifecycle.name, describeState(snapshot), type, 'a start event');
    snapshots.push((snapshot = after));
  }
  return snapshots;
}

const SAMPLES: readonly JobInput[] = [
  { params: { sample: [1, 'a'] }, priority: 7, runAfter: 123_456, executionDuration: 60, destruction: 9_000_000, quote: 8_000_000, message: 'sampled' },
  { params: 'other', priority: -3, runAfter: null, executionDuration: 0, destruction: null, quote: null, message: null },
  { params: [true], priority: 2 },
];

/** The lifecycle's template, or null when filling one would not give what the fold gives. */
export function buildTemplate(lifecycle: Lifecycle, start: boolean): CreationTemplate | null {
  try {
    const template = foldCreation(lifecycle, { params: null }, start, 1_000);
    if (!unconditional(lifecycle, template, start)) return null;
    for (const sample of SAMPLES) {
      const filled = fillTemplate(template, sample)!;
      const folded = foldCreation(lifecycle, sample, start, 2_000);
      if (filled.length !== folded.length || filled.some((snapshot, i) => !sameSnapshot(snapshot, folded[i]!))) return null;
    }
    return template;
  } catch {
    return null; // a start event refused, or a machine that throws: the fold says so for each job
  }
}

/**
 * Whether the fold takes the same path for every input: no eventless transition on it, and each
 * start event's transitions from the states it leaves unguarded, with no action but the shared
 * `apply` reducer (which copies the filled fields). A guard or an action of the lifecycle's own
 * may read the parameters, which no set of samples can rule out: such a lifecycle keeps the fold.
 */
function unconditional(lifecycle: Lifecycle, snapshots: readonly AnyMachineSnapshot[], start: boolean): boolean {
  const events = start ? (lifecycle.startEvents ?? []) : [];
  return snapshots.every((snapshot, i) =>
    (snapshot as unknown as { _nodes: StateNodeView[] })._nodes.every((node) => {
      if ((node.always?.length ?? 0) > 0) return false;
      const event = events[i];
      if (event === undefined) return true;
      return (node.transitions.get(event) ?? []).every((t) => !t.guard && t.actions.every((a) => (typeof a === 'string' ? a : a?.type) === 'apply'));
    }),
  );
}

/** What {@link unconditional} reads of an XState state node. */
interface StateNodeView {
  always?: unknown[];
  transitions: Map<string, Array<{ guard?: unknown; actions: Array<string | { type?: unknown } | null> }>>;
}

/** Everything of a snapshot that the engine reads or stores. */
function sameSnapshot(a: AnyMachineSnapshot, b: AnyMachineSnapshot): boolean {
  const view = (s: AnyMachineSnapshot) => [s.status, s.value, s.context, [...s.tags].sort(), s.historyValue, s.output, s.error, s.children];
  return isDeepStrictEqual(view(a), view(b)) && JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The template's snapshots with this input's values, or null when the input names a field with the
 * value undefined (a machine may tell it from an absent one: EcoTaxa's default message): fold those.
 */
export function fillTemplate(template: CreationTemplate, input: JobInput): AnyMachineSnapshot[] | null {
  for (const key of FILLED) if (key in input && input[key] === undefined) return null;
  return template.map((snapshot) => {
    const base = snapshot.context as JobContext & Record<string, unknown>;
    const context: Record<string, unknown> = {};
    // The template's own lists and records are copied: a caller may change a job it was given.
    for (const key in base) context[key] = copyJson(base[key]);
    context.params = input.params;
    if (has(input, 'priority')) context.priority = input.priority;
    if (has(input, 'runAfter')) context.runAfter = input.runAfter;
    if (has(input, 'executionDuration')) context.executionDuration = input.executionDuration;
    if (has(input, 'destruction')) context.destruction = input.destruction;
    if (has(input, 'quote')) context.quote = input.quote;
    if (has(input, 'message')) (context.progress as JobContext['progress']).message = input.message;
    // A machine snapshot is a plain object (xstate's createMachineSnapshot): the same states, tags
    // and methods, another context and state value.
    return { ...snapshot, value: copyJson(snapshot.value), context } as AnyMachineSnapshot;
  });
}

const initialTemplates = new WeakMap<Lifecycle, CreationTemplate | null>();

/**
 * A new job's initial snapshot (before any start event), from the lifecycle's template when it has
 * one, else by XState: what replay's fold starts each job from.
 */
export function initialSnapshot(lifecycle: Lifecycle, input: JobInput): AnyMachineSnapshot {
  let template = initialTemplates.get(lifecycle);
  if (template === undefined) initialTemplates.set(lifecycle, (template = buildTemplate(lifecycle, false)));
  return (template && fillTemplate(template, input)?.[0]) ?? firstSnapshot(lifecycle.machine, input);
}

/** A copy of a JSON value (the same value when it is a primitive). */
function copyJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson) as T;
  const copy: Record<string, unknown> = {};
  for (const key in value) copy[key] = copyJson((value as Record<string, unknown>)[key]);
  return copy as T;
}

function has<K extends Filled>(input: JobInput, key: K): input is JobInput & Required<Pick<JobInput, K>> {
  return input[key] !== undefined;
}

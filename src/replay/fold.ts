/**
 * The fold under every replay: a job's stored events, from its machine's initial snapshot, through
 * the lifecycle version it was on at each event, with the row derived after each one as the engine
 * derives it; compared with what the history says at each step and with the stored row at the end.
 *
 * An `UPGRADE` event (payload `{ from, to }`, written by the engine's `upgrade`) moves the job to
 * another version of its lifecycle: the events before it were folded by the old version's machine,
 * those after it by the new one's. At the UPGRADE the fold restores the new machine's snapshot from
 * the row it has derived, with `restoreSnapshot`, exactly as the engine did when it wrote the
 * UPGRADE (and as it does whenever it takes a job up from its stored row): the job's state from then
 * on is its persisted snapshot, so that is what replay continues from. Re-folding the earlier events
 * through the new machine instead would ask it to re-live events it never handled (a change to a
 * state the job had left would be reported against a job it cannot affect), and could keep what the
 * persisted snapshot does not hold, which the engine did not keep. Whether the new version agreed
 * with the old one on the job's history is checked once, by `upgrade`, before it writes.
 *
 * Given the steps of another fold of the same history (`expected`), each step is also compared
 * with it: the full state, the engine's tags and every derived column. That is how a candidate
 * machine is compared with the one a history was written with (replayHistories), and a target
 * version with a job's own (upgrade): the stored history says only the top-level state after each
 * event, and the row after the last.
 */
import type { AnyMachineSnapshot } from 'xstate';
import { ENGINE_TAGS, type JobInput, type Lifecycle } from '../../machines/common.ts';
import type { JobEventRow, JobRow } from '../db/schema.ts';
import { deriveHead, deriveRow, normalizeStored, NO_LEASE, restoreSnapshot, type JobIdentity } from '../engine/derive.ts';
import type { JobHead } from '../db/store.ts';
import type { CreatePayload } from '../engine/engine.ts';
import type { LifecycleRegistry } from '../engine/lifecycles.ts';
import { resolverFor, stepOf } from '../engine/compiled.ts';
import { initialSnapshot } from '../engine/creation.ts';
import { describeState, firstSnapshot, machineEvent } from '../engine/transition.ts';
import { applyEvent } from '../engine/parking.ts';
import { isPhaselineError } from '../errors.ts';
import type { Divergence, DivergenceCause } from './types.ts';

/** The history event that moves a job to another version of its lifecycle. */
export const UPGRADE = 'UPGRADE';

export interface UpgradePayload {
  from: number;
  to: number;
}

/** The lifecycle that folds a job's events at one version, or null when none is known. */
export type Resolve = (name: string, version: number) => Lifecycle | null;

const resolvers = new WeakMap<LifecycleRegistry, Resolve>();

/** A registry as replay asks it: the lifecycle of a name and version, or null. */
export function resolverOf(registry: LifecycleRegistry): Resolve {
  let resolve = resolvers.get(registry);
  if (!resolve) {
    resolve = (name, version) => {
      try {
        return registry.get(name, version);
      } catch (error) {
        if (isPhaselineError(error, 'UNKNOWN_LIFECYCLE')) return null;
        throw error;
      }
    };
    resolvers.set(registry, resolve);
  }
  return resolve;
}

/** One step of a fold, for comparing it with another fold of the same history. */
export interface FoldStep {
  /** The full state (`E.killed`). */
  state: string;
  /** The engine's tags of that state, in ENGINE_TAGS order. */
  tags: string[];
  row: JobRow;
}

export interface FoldOptions {
  /** The steps of another fold of the same history: each step is compared with its own. */
  expected?: readonly FoldStep[] | null;
  /** Keep each step (see {@link FoldResult.steps}). */
  record?: boolean;
  /** Step through the compiled lifecycles where they have compiled transitions (src/engine/compiled.ts); default true, false: XState alone. */
  compiled?: boolean;
}

export interface FoldResult {
  /** Empty when the history replays exactly; else the differences at the first event where any shows. */
  divergences: Divergence[];
  /** With `record`: one step per event folded without a difference. */
  steps: FoldStep[];
}

/** Columns that only claims and heartbeats write: not part of what the history determines. */
const LEASE_FIELDS = new Set<string>(['leaseId', 'leaseExpiresAt', 'workerId']);
/** Columns that follow from the state and its tags: compared as those, step by step. */
const FROM_TAGS = new Set<string>(['claimable', 'running', 'waiting', 'outcome']);
const CAUSE_ORDER: Record<DivergenceCause, number> = { job: 0, history: 1, lifecycle: 2, threw: 3, refused: 4, state: 5, tags: 6, column: 7 };

/** A column's difference, by the cause it shows. */
function causeOfColumn(key: string): DivergenceCause {
  return key === 'state' ? 'state' : FROM_TAGS.has(key) ? 'tags' : 'column';
}

function engineTags(snapshot: AnyMachineSnapshot): string[] {
  return ENGINE_TAGS.filter((tag) => snapshot.hasTag(tag));
}

export function fold(stored: JobRow, events: readonly JobEventRow[], resolve: Resolve, options: FoldOptions = {}): FoldResult {
  const steps: FoldStep[] = [];
  const expected = options.expected ?? null;
  const record = options.record === true;
  const compiled = options.compiled !== false;
  const done = (divergences: Divergence[]): FoldResult => ({ divergences, steps });
  let label: string | null = null;
  let before: AnyMachineSnapshot | null = null;
  const differs = (cause: DivergenceCause, field: string, event: JobEventRow | undefined, expectedValue: unknown, replayed: unknown): Divergence => ({
    seq: event?.seq ?? null,
    event: event?.type ?? null,
    field,
    cause,
    lifecycle: label,
    state: before === null ? null : describeState(before),
    stored: expectedValue,
    replayed,
  });

  const first = events[0];
  if (!first || first.type !== 'CREATE' || first.seq !== 1) {
    return done([differs('history', 'history', first, first?.type ?? 'no events', 'CREATE at seq 1')]);
  }
  const creation = first.payload as Partial<CreatePayload> | null;
  if (typeof creation?.lifecycle !== 'string' || !Number.isSafeInteger(creation.lifecycleVersion)) {
    return done([differs('history', 'history', first, 'a CREATE without its lifecycle and version', 'CREATE { lifecycle, lifecycleVersion, ... }')]);
  }
  const name = creation.lifecycle;
  let version = creation.lifecycleVersion!;
  let lifecycle = resolve(name, version);
  if (!lifecycle) return done([differs('lifecycle', 'lifecycle', first, `${name}@${version}`, 'not registered')]);
  label = `${lifecycle.name}@${lifecycle.version}`;
  const identity: JobIdentity = {
    id: stored.id,
    lifecycle: name,
    lifecycleVersion: version,
    type: creation.type ?? stored.type,
    owner: creation.owner ?? null,
    runId: creation.runId ?? null,
    idempotencyKey: creation.idempotencyKey ?? null,
    concurrencyKey: creation.concurrencyKey ?? null,
    traceparent: creation.traceparent ?? null,
  };

  let step = stepOf(lifecycle, compiled);
  let snapshot: AnyMachineSnapshot;
  /** The row after the last event folded: in full where it is compared or restored from, else its head (all the next one depends on). */
  let row: JobHead;
  const last = events.length - 1;
  // Full rows at every step when steps are compared or kept; else at the last and before each UPGRADE (restored from).
  const everyRow = expected !== null || record;
  /** The differences at step `i`, or null; records the step when asked to. */
  const check = (i: number, event: JobEventRow): Divergence[] | null => {
    if (event.seq !== row.version) return [differs('history', 'history', event, `seq ${event.seq}`, `seq ${row.version}`)];
    if (event.stateAfter !== row.state) return [differs('state', 'state', event, event.stateAfter, row.state)];
    const other = expected?.[i];
    if (other || record) {
      const state = describeState(snapshot);
      const tags = engineTags(snapshot);
      if (other) {
        const found: Divergence[] = [];
        if (state !== other.state) found.push(differs('state', 'state', event, other.state, state));
        if (tags.join() !== other.tags.join()) found.push(differs('tags', 'tags', event, other.tags, tags));
        const full = row as JobRow;
        for (const key of Object.keys(full) as (keyof JobRow)[]) {
          if (key === 'state' || LEASE_FIELDS.has(key) || FROM_TAGS.has(key)) continue;
          if (!sameValue(other.row[key], full[key])) found.push(differs('column', key, event, other.row[key], full[key]));
        }
        if (found.length > 0) return found;
      }
      if (record) steps.push({ state, tags, row: row as JobRow });
    }
    return null;
  };

  let i = 0;
  try {
    // The compiled path starts from the lifecycle's creation template (checked against XState when built).
    snapshot = compiled ? initialSnapshot(lifecycle, creation.input as JobInput) : firstSnapshot(lifecycle.machine, creation.input);
    row = everyRow || last === 0 || events[1]!.type === UPGRADE
      ? deriveRow(null, identity, snapshot, first.at, NO_LEASE)
      : deriveHead(null, identity, snapshot, first.at, NO_LEASE);
    const problem = check(0, first);
    if (problem) return done(problem);
    for (i = 1; i < events.length; i++) {
      const event = events[i]!;
      before = snapshot;
      if (event.type === UPGRADE) {
        const move = event.payload as Partial<UpgradePayload> | null;
        const to = move?.to;
        if (move?.from !== version || typeof to !== 'number' || !Number.isSafeInteger(to)) {
          return done([differs('history', 'history', event, `UPGRADE ${JSON.stringify(move)}`, `an UPGRADE { from: ${version}, to }`)]);
        }
        const next = resolve(name, to);
        if (!next) return done([differs('lifecycle', 'lifecycle', event, `${name}@${to}`, 'not registered')]);
        // Where the engine took the job up: its persisted snapshot, in the new version's machine.
        snapshot = restoreSnapshot(next.machine, (row as JobRow).snapshot, row as JobRow, resolverFor(next, compiled));
        lifecycle = next;
        step = stepOf(next, compiled);
        version = to;
        identity.lifecycleVersion = to;
        label = `${next.name}@${next.version}`;
      } else {
        const next = applyEvent(lifecycle.machine, snapshot, machineEvent(event.type, event.at, event.payload), (_machine, from, sent) => step(from, sent));
        if (next === null) {
          return done([differs('refused', 'transition', event, `${event.stateBefore} → ${event.stateAfter} on ${event.type}`, `${describeState(snapshot)} refuses ${event.type}`)]);
        }
        snapshot = next;
      }
      row = everyRow || i === last || events[i + 1]!.type === UPGRADE
        ? deriveRow(row, identity, snapshot, event.at, NO_LEASE)
        : deriveHead(row, identity, snapshot, event.at, NO_LEASE);
      const problem = check(i, event);
      if (problem) return done(problem);
    }
  } catch (error) {
    const event = events[i];
    return done([differs('threw', 'transition', event, `${event?.stateBefore ?? '-'} → ${event?.stateAfter} on ${event?.type}`, `threw: ${error instanceof Error ? error.message : String(error)}`)]);
  }

  const lastEvent = events[last]!;
  // The last event's row is derived in full.
  const final = row as JobRow;
  const divergences: Divergence[] = [];
  for (const key of Object.keys(final) as (keyof JobRow)[]) {
    if (LEASE_FIELDS.has(key)) continue;
    const value = key === 'snapshot' ? normalizeStored(stored.snapshot) : stored[key];
    if (!sameValue(value, final[key])) divergences.push(differs(causeOfColumn(key), key, lastEvent, stored[key], final[key]));
  }
  divergences.sort((a, b) => CAUSE_ORDER[a.cause] - CAUSE_ORDER[b.cause]);
  return done(divergences);
}

/** The lifecycle versions a history passes through: its creation's, then each UPGRADE's. */
function versionsOf(events: readonly JobEventRow[]): Array<{ name: string; version: number }> {
  const creation = events[0]?.type === 'CREATE' ? (events[0].payload as Partial<CreatePayload> | null) : null;
  if (typeof creation?.lifecycle !== 'string' || typeof creation.lifecycleVersion !== 'number') return [];
  const name = creation.lifecycle;
  const versions = [{ name, version: creation.lifecycleVersion }];
  for (const event of events) {
    const to = event.type === UPGRADE ? (event.payload as Partial<UpgradePayload> | null)?.to : undefined;
    if (typeof to === 'number') versions.push({ name, version: to });
  }
  return versions;
}

/**
 * Replay a history through `candidate`. Where a candidate replaces, for a version the history
 * passes through, the lifecycle it was written with (`written`), and that one replays it exactly,
 * each step is compared with that one's too: a candidate that changes tags or a derived column at
 * a state the job has left shows there, though the stored history could not tell.
 */
export function compareWith(stored: JobRow, events: readonly JobEventRow[], candidate: Resolve, written?: Resolve): Divergence[] {
  let expected: FoldStep[] | null = null;
  if (written && versionsOf(events).some(({ name, version }) => {
    const original = written(name, version);
    return original !== null && candidate(name, version) !== original;
  })) {
    // A version only the candidates have (a new one the job was upgraded to) is its own reference.
    const own = fold(stored, events, (name, version) => written(name, version) ?? candidate(name, version), { record: true });
    if (own.divergences.length === 0) expected = own.steps;
  }
  return fold(stored, events, candidate, { expected }).divergences;
}

/**
 * Whether a job's history folds under `target` (a version of its lifecycle) exactly as under the
 * versions it went through: the same states, engine tags and derived row after every event. Null
 * when it does; else the first difference, `own` when the history does not even replay under the
 * job's own versions.
 */
export function upgradeDifference(stored: JobRow, events: readonly JobEventRow[], resolve: Resolve, target: Lifecycle, compiled = true): { divergence: Divergence; own: boolean } | null {
  const own = fold(stored, events, resolve, { record: true, compiled });
  if (own.divergences.length > 0) return { divergence: own.divergences[0]!, own: true };
  const moved = fold(stored, events, (name, version) => (name === target.name ? target : resolve(name, version)), { expected: own.steps, compiled });
  return moved.divergences.length > 0 ? { divergence: moved.divergences[0]!, own: false } : null;
}

/** Equal as stored: primitives by value, JSON values by their serialization. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const verdict = sameJson(a, b);
  return verdict === UNSURE ? JSON.stringify(a) === JSON.stringify(b) : verdict === SAME;
}

const DIFFERENT = 0;
const SAME = 1;
const UNSURE = 2;
type Verdict = typeof DIFFERENT | typeof SAME | typeof UNSURE;

const PRIMITIVE = 1;
const ARRAY = 2;
const OBJECT = 3;
/**
 * How stringify writes a value, when it is plain: a string, finite number, boolean or null; an
 * array; an object of Object's (or no) prototype. 0 for anything it treats specially: undefined,
 * functions, symbols, bigints, non-finite numbers, a callable `toJSON`, other prototypes.
 */
function kindOf(v: unknown): number {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return PRIMITIVE;
  if (typeof v === 'number') return Number.isFinite(v) ? PRIMITIVE : 0;
  if (typeof v !== 'object') return 0;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return 0;
  const proto = Object.getPrototypeOf(v);
  if (Array.isArray(v)) return proto === Array.prototype ? ARRAY : 0;
  return proto === Object.prototype || proto === null ? OBJECT : 0;
}

/**
 * Whether `JSON.stringify(a) === JSON.stringify(b)`, decided without building the strings where
 * both are plain JSON (what the stores decode and the reducer builds): primitives by value
 * (distinct ones serialize differently), arrays element by element, objects key by key in their
 * order; plain values of different kinds never serialize alike. Anything stringify treats
 * specially ({@link kindOf} 0) anywhere in either value is UNSURE: the caller serializes, so the
 * answer is stringify's in every case.
 */
function sameJson(a: unknown, b: unknown): Verdict {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka === 0 || kb === 0) return UNSURE;
  if (ka === PRIMITIVE && kb === PRIMITIVE) return a === b ? SAME : DIFFERENT;
  let verdict: Verdict = ka === kb ? SAME : DIFFERENT;
  // Each side is walked in full, so that something only stringify can write is found wherever it is.
  if (verdict === DIFFERENT) return onlyPlain(a) && onlyPlain(b) ? DIFFERENT : UNSURE;
  if (ka === ARRAY) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) verdict = DIFFERENT;
    const n = Math.max(x.length, y.length);
    for (let i = 0; i < n; i++) {
      const v = i < x.length && i < y.length ? sameJson(x[i], y[i]) : onlyPlain(i < x.length ? x[i] : y[i]) ? DIFFERENT : UNSURE;
      if (v === UNSURE) return UNSURE;
      if (v === DIFFERENT) verdict = DIFFERENT;
    }
    return verdict;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keysA = Object.keys(x);
  const keysB = Object.keys(y);
  if (keysA.length !== keysB.length) verdict = DIFFERENT;
  const n = Math.max(keysA.length, keysB.length);
  for (let i = 0; i < n; i++) {
    let v: Verdict;
    if (i < keysA.length && i < keysB.length) {
      v = sameJson(x[keysA[i]!], y[keysB[i]!]);
      if (v !== UNSURE && keysA[i] !== keysB[i]) v = DIFFERENT;
    } else {
      v = onlyPlain(i < keysA.length ? x[keysA[i]!] : y[keysB[i]!]) ? DIFFERENT : UNSURE;
    }
    if (v === UNSURE) return UNSURE;
    if (v === DIFFERENT) verdict = DIFFERENT;
  }
  return verdict;
}

/** Whether a value is plain JSON all the way down. */
function onlyPlain(v: unknown): boolean {
  const kind = kindOf(v);
  if (kind === PRIMITIVE) return true;
  if (kind === ARRAY) {
    // A hole reads as undefined here (stringify writes null for it): not plain, so only stringify decides.
    for (let i = 0; i < (v as unknown[]).length; i++) if (!onlyPlain((v as unknown[])[i])) return false;
    return true;
  }
  if (kind === OBJECT) {
    for (const key of Object.keys(v as object)) if (!onlyPlain((v as Record<string, unknown>)[key])) return false;
    return true;
  }
  return false;
}

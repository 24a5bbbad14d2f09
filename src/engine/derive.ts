/**
 * From a machine snapshot to the stored row: a pure function, used by the engine when it writes
 * and by replay when it checks, so both derive the row the same way.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import type { JobContext, Outcome } from '../../machines/common.ts';
import type { JobRow, StoredSnapshot } from '../db/schema.ts';
import type { JobHead } from '../db/store.ts';
import type { JobFields } from './job-types.ts';
import { isBlocked, parkingOf } from './parking.ts';

/** Columns fixed at creation, taken from the CREATE event (the lifecycle version also changed by an UPGRADE). */
export type JobIdentity = Pick<JobFields, 'id' | 'lifecycle' | 'lifecycleVersion' | 'type' | 'owner' | 'runId' | 'idempotencyKey' | 'concurrencyKey' | 'traceparent'>;

/** The row columns that only claims and heartbeats write; replay does not rebuild them. */
export type LeaseColumns = Pick<JobRow, 'leaseId' | 'leaseExpiresAt' | 'workerId'>;
export const NO_LEASE: LeaseColumns = { leaseId: null, leaseExpiresAt: null, workerId: null };

/** The wire spelling of a snapshot's top-level state (`E` for `{ E: 'killed' }`). */
export function topState(value: AnyMachineSnapshot['value']): string {
  return typeof value === 'string' ? value : Object.keys(value)[0]!;
}

/**
 * Context fields the row already holds, each in a column equal to it (see {@link deriveRow}): the
 * stored snapshot leaves them out and restoring takes them from the row. A snapshot stored whole
 * (by an earlier version of Phaseline) restores the same way.
 */
type MirroredColumns = Pick<
  JobRow,
  'params' | 'result' | 'errors' | 'question' | 'reply' | 'inside' | 'step' | 'attempt' | 'cancelRequested' | 'priority'
  | 'executionDuration' | 'destructionAt' | 'quoteAt' | 'progressPercent' | 'progressMessage' | 'progressCurrent' | 'progressTotal'
>;
const MIRRORED = new Set<string>([
  'params', 'result', 'errors', 'question', 'reply', 'inside', 'step', 'attempt', 'cancelRequested', 'priority',
  'executionDuration', 'destruction', 'quote', 'progress',
]);

/** What the snapshot column holds: the state value and the context the columns do not. */
export function persistSnapshot(snapshot: AnyMachineSnapshot): StoredSnapshot {
  return { value: snapshot.value as StoredSnapshot['value'], context: unmirrored(snapshot.context as Record<string, unknown>) };
}

/** A stored snapshot as {@link persistSnapshot} would write it (the same object when it is already). */
export function normalizeStored(stored: StoredSnapshot): StoredSnapshot {
  for (const key in stored.context) if (MIRRORED.has(key)) return { value: stored.value, context: unmirrored(stored.context) };
  return stored;
}

function unmirrored(context: Record<string, unknown>): Record<string, unknown> {
  const rest: Record<string, unknown> = {};
  for (const key in context) if (!MIRRORED.has(key)) rest[key] = context[key];
  return rest;
}

/**
 * A stored job's snapshot in `machine`, its context rebuilt from the row and the stored rest.
 * `resolve` makes the snapshot of a state value and context: XState's `resolveState` unless the
 * engine gives its compiled lifecycle's (src/engine/compiled.ts), which makes the same one.
 */
export function restoreSnapshot(
  machine: AnyStateMachine,
  stored: StoredSnapshot,
  row: MirroredColumns,
  resolve?: (value: AnyMachineSnapshot['value'], context: unknown) => AnyMachineSnapshot,
): AnyMachineSnapshot {
  const context: Record<string, unknown> = {
    params: row.params,
    result: row.result,
    errors: row.errors,
    progress: { percent: row.progressPercent, message: row.progressMessage, current: row.progressCurrent, total: row.progressTotal },
    question: row.question,
    reply: row.reply,
    inside: row.inside,
    step: row.step,
    attempt: row.attempt,
    cancelRequested: row.cancelRequested,
    priority: row.priority,
    executionDuration: row.executionDuration,
    destruction: row.destructionAt,
    quote: row.quoteAt,
  };
  for (const key in stored.context) if (!MIRRORED.has(key)) context[key] = stored.context[key];
  if (resolve) return resolve(stored.value as AnyMachineSnapshot['value'], context);
  return machine.resolveState({ value: stored.value as never, context: context as never });
}

function outcomeOf(snapshot: AnyMachineSnapshot): Outcome | null {
  if (!snapshot.hasTag('terminal')) return null;
  if (snapshot.hasTag('succeeded')) return 'succeeded';
  if (snapshot.hasTag('cancelled')) return 'cancelled';
  return 'failed';
}

/**
 * The row after an accepted event at instant `at` (already made monotone by the engine).
 * Timestamp rules: `created` is the first event's instant; `started` is set on the first entry
 * into a running state and cleared when a terminal job is restarted; `ended` is set exactly
 * while the job is terminal (kept from its first terminal state, e.g. through UWS ARCHIVE).
 */
export function deriveRow(
  prev: JobHead | null,
  identity: JobIdentity,
  snapshot: AnyMachineSnapshot,
  at: number,
  lease: LeaseColumns,
): JobRow {
  const context = snapshot.context as JobContext;
  const head = deriveHead(prev, identity, snapshot, at, lease);
  const { state, version, startedAt } = head;
  const terminal = snapshot.hasTag('terminal');
  // A parked job (src/engine/parking.ts) keeps its running state but no handler holds it: not
  // running (no lease, no slot), and claimable from its wake instant on.
  const parked = parkingOf(snapshot);
  const running = parked === null && snapshot.hasTag('running');
  const wakeable = parked !== null && (parked.wakeAt !== null || context.cancelRequested);
  // Every field written out: an object literal with spreads takes V8's slow path (~200 µs here).
  return {
    id: identity.id,
    lifecycle: identity.lifecycle,
    lifecycleVersion: identity.lifecycleVersion,
    type: identity.type,
    owner: identity.owner,
    runId: identity.runId,
    idempotencyKey: identity.idempotencyKey,
    concurrencyKey: identity.concurrencyKey,
    traceparent: identity.traceparent,
    state,
    snapshot: persistSnapshot(snapshot),
    version,
    stateVersion: head.stateVersion,
    // A job waiting for dependencies (src/engine/parking.ts) is claimable once the last has ended.
    claimable: wakeable || (snapshot.hasTag('queued') && !isBlocked(context)),
    running,
    waiting: snapshot.hasTag('waiting'),
    outcome: outcomeOf(snapshot),
    params: context.params,
    result: context.result,
    errors: context.errors,
    question: context.question,
    reply: context.reply,
    inside: context.inside,
    step: context.step,
    progressPercent: context.progress.percent,
    progressMessage: context.progress.message,
    progressCurrent: context.progress.current,
    progressTotal: context.progress.total,
    cancelRequested: context.cancelRequested,
    createdAt: head.createdAt,
    updatedAt: at,
    startedAt,
    endedAt: head.endedAt,
    destructionAt: context.destruction,
    executionDuration: context.executionDuration,
    quoteAt: context.quote,
    priority: context.priority,
    // A finished job waits for nothing (UWS ABORTED on TIMEOUT keeps no retry instant).
    runAfter: terminal ? 0 : parked !== null ? (context.cancelRequested ? 0 : (parked.wakeAt ?? 0)) : (context.runAfter ?? 0),
    attempt: context.attempt,
    leaseId: head.leaseId,
    leaseExpiresAt: head.leaseExpiresAt,
    workerId: head.workerId,
  };
}

/**
 * The head of the row {@link deriveRow} derives (the identity, state, counters, timestamps and
 * lease), without the rest: what the next event's row depends on. Replay folds the events in
 * between by their heads and derives the full row only where it compares or restores one.
 */
export function deriveHead(
  prev: JobHead | null,
  identity: JobIdentity,
  snapshot: AnyMachineSnapshot,
  at: number,
  lease: LeaseColumns,
): JobHead {
  const state = topState(snapshot.value);
  const terminal = snapshot.hasTag('terminal');
  // A parked job is not running: no lease, and its start is not its wake-up (see deriveRow).
  const running = parkingOf(snapshot) === null && snapshot.hasTag('running');
  const version = (prev?.version ?? 0) + 1;
  let startedAt = prev?.startedAt ?? null;
  if (prev?.endedAt != null && !terminal) startedAt = null;
  if (running && startedAt === null) startedAt = at;
  const lease_ = running ? lease : NO_LEASE;
  return {
    id: identity.id,
    lifecycle: identity.lifecycle,
    lifecycleVersion: identity.lifecycleVersion,
    type: identity.type,
    owner: identity.owner,
    runId: identity.runId,
    idempotencyKey: identity.idempotencyKey,
    concurrencyKey: identity.concurrencyKey,
    traceparent: identity.traceparent,
    state,
    version,
    stateVersion: prev && prev.state === state ? prev.stateVersion : version,
    createdAt: prev?.createdAt ?? at,
    updatedAt: at,
    startedAt,
    endedAt: terminal ? (prev?.endedAt ?? at) : null,
    leaseId: lease_.leaseId,
    leaseExpiresAt: lease_.leaseExpiresAt,
    workerId: lease_.workerId,
  };
}

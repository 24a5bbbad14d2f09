/**
 * The public shape of a stored job and of its history. Rows stay inside `src/db` and `src/engine`;
 * the facade, the views, HTTP and the CLI see these.
 */
import type { Json } from '../../machines/common.ts';
import type { Job, JobEvent } from './job-types.ts';
import type { JobEventRow, JobRow } from '../db/schema.ts';
import { childrenOf, parentOf, signalsOf, waitsOf, type Parked, type ParkingContext } from './parking.ts';

export type { Job, JobEvent } from './job-types.ts';

export function toJob<P = Json, R = Json>(row: JobRow): Job<P, R> {
  return {
    id: row.id,
    lifecycle: row.lifecycle,
    lifecycleVersion: row.lifecycleVersion,
    type: row.type,
    state: row.state,
    stateValue: row.snapshot.value,
    version: row.version,
    stateVersion: row.stateVersion,
    queued: row.claimable,
    running: row.running,
    waiting: row.waiting,
    terminal: row.endedAt !== null,
    outcome: row.outcome,
    owner: row.owner,
    runId: row.runId,
    idempotencyKey: row.idempotencyKey,
    concurrencyKey: row.concurrencyKey,
    traceparent: row.traceparent,
    params: row.params as P,
    result: row.result as R | null,
    errors: row.errors,
    question: row.question,
    reply: row.reply,
    inside: row.inside,
    step: row.step,
    progress: {
      percent: row.progressPercent,
      message: row.progressMessage,
      current: row.progressCurrent,
      total: row.progressTotal,
    },
    cancelRequested: row.cancelRequested,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    destructionAt: row.destructionAt,
    executionDuration: row.executionDuration,
    quoteAt: row.quoteAt,
    priority: row.priority,
    runAfter: row.runAfter,
    attempt: row.attempt,
    steps: (row.snapshot.context as { steps?: Record<string, Json> }).steps ?? {},
    replies: (row.snapshot.context as { replies?: Json[] }).replies ?? [],
    // Parked only while the state is running: the row says so (a parked job is not running, but its state is).
    parked: parkedOfRow(row),
    waits: waitsOf(row.snapshot.context),
    signals: signalsOf(row.snapshot.context),
    parentId: parentOf(row.idempotencyKey),
    children: childrenOf(row.snapshot.context),
    blockedBy: (row.snapshot.context as ParkingContext).blockedBy ?? [],
    dependencies: (row.snapshot.context as ParkingContext).dependencies ?? [],
    lease: row.leaseId !== null ? { id: row.leaseId, expiresAt: row.leaseExpiresAt ?? 0, workerId: row.workerId } : null,
  };
}

function parkedOfRow(row: JobRow): Parked | null {
  const parked = (row.snapshot.context as ParkingContext).parked;
  return parked && !row.running && row.endedAt === null ? parked : null;
}

export function toJobEvent(row: JobEventRow): JobEvent {
  return { ...row };
}

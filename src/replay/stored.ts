/**
 * The exported history format and the rows replay folds: a job's row without its lease columns and
 * its events without the job's id, and back; and the check that a value (a line of a file) is such
 * a history. Apart from histories.ts, whose declarations the package publishes: these name the
 * store's row types.
 */
import type { JobEventRow, JobRow } from '../db/schema.ts';
import { InvalidInputError } from '../errors.ts';
import { HISTORY_FORMAT, type StoredEvent, type StoredHistory, type StoredJob } from './types.ts';

type LeaseKey = 'leaseId' | 'leaseExpiresAt' | 'workerId';

/** Every column of a stored job, in the row's order: what an exported job must have. */
const JOB_KEYS = [
  'id', 'lifecycle', 'lifecycleVersion', 'type', 'state', 'snapshot', 'version', 'stateVersion', 'claimable', 'running',
  'waiting', 'outcome', 'owner', 'runId', 'idempotencyKey', 'concurrencyKey', 'traceparent', 'params', 'result', 'errors', 'question', 'reply', 'inside',
  'step', 'progressPercent', 'progressMessage', 'progressCurrent', 'progressTotal', 'cancelRequested', 'createdAt',
  'updatedAt', 'startedAt', 'endedAt', 'destructionAt', 'executionDuration', 'quoteAt', 'priority', 'runAfter', 'attempt',
] as const satisfies ReadonlyArray<keyof StoredJob>;

// Compile-time: StoredJob is the row without its lease columns, and JOB_KEYS names every column.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const exact: [Same<StoredJob, Omit<JobRow, LeaseKey>>, Same<keyof StoredJob, (typeof JOB_KEYS)[number]>, Same<StoredEvent, Omit<JobEventRow, 'jobId'>>] = [true, true, true];
void exact;

/** A job and its events as exported: no lease columns, no job id on each event. */
export function toStoredHistory(row: JobRow, events: readonly JobEventRow[]): StoredHistory {
  const job = {} as Record<string, unknown>;
  for (const key of JOB_KEYS) job[key] = row[key];
  return {
    format: HISTORY_FORMAT,
    job: job as unknown as StoredJob,
    events: events.map(({ seq, at, type, payload, stateBefore, stateAfter, actor }) => ({ seq, at, type, payload, stateBefore, stateAfter, actor })),
  };
}

/** The row and events replay folds, from an exported history. */
export function fromStoredHistory(history: StoredHistory): { row: JobRow; events: JobEventRow[] } {
  const row: JobRow = { ...history.job, leaseId: null, leaseExpiresAt: null, workerId: null };
  return { row, events: history.events.map((event) => ({ jobId: row.id, ...event })) };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isTextOrNull = (value: unknown) => value === null || typeof value === 'string';

/**
 * Check that a value is a history in the exported format, as far as replay relies on it; throws
 * {@link InvalidInputError} naming `where` (`line 3`) and what is wrong.
 */
export function parseHistory(value: unknown, where: string): StoredHistory {
  const refuse = (problem: string): never => {
    throw new InvalidInputError(where, problem);
  };
  if (!isObject(value) || !isObject(value.job) || !Array.isArray(value.events)) return refuse('not a job history: expected { "job": {...}, "events": [...] }');
  if (value.format !== undefined && value.format !== HISTORY_FORMAT) {
    return refuse(`history format ${JSON.stringify(value.format)} is not one this version reads (${HISTORY_FORMAT})`);
  }
  const job = value.job;
  // Exports written before concurrency keys and traces existed have neither: null.
  if (!('concurrencyKey' in job)) job.concurrencyKey = null;
  if (!('traceparent' in job)) job.traceparent = null;
  const missing = JOB_KEYS.filter((key) => !(key in job));
  if (missing.length > 0) return refuse(`the job lacks ${missing.join(', ')}`);
  if (!isCount(job.id) || job.id === 0) return refuse('job.id must be a positive integer');
  if (typeof job.lifecycle !== 'string' || !isCount(job.lifecycleVersion)) return refuse('job.lifecycle must be a string and job.lifecycleVersion an integer');
  const snapshot = job.snapshot;
  if (!isObject(snapshot) || !isObject(snapshot.context) || !(typeof snapshot.value === 'string' || isObject(snapshot.value))) {
    return refuse('job.snapshot must be { value, context }');
  }
  value.events.forEach((event: unknown, i) => {
    const at = `events[${i}]`;
    if (!isObject(event)) return refuse(`${at} is not an object`);
    if (!isCount(event.seq) || typeof event.at !== 'number' || !Number.isFinite(event.at)) return refuse(`${at} needs an integer seq and a numeric at`);
    if (typeof event.type !== 'string' || typeof event.stateAfter !== 'string') return refuse(`${at} needs a string type and stateAfter`);
    if (!(event.payload === null || isObject(event.payload))) return refuse(`${at}.payload must be an object or null`);
    if (!isTextOrNull(event.stateBefore) || !isTextOrNull(event.actor)) return refuse(`${at}: stateBefore and actor must be strings or null`);
  });
  return value as unknown as StoredHistory;
}

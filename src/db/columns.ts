/**
 * What both stores select and write, by column name, and the listing's filter and order: the two
 * dialects' tables spell the same columns (pg-schema.ts mirrors schema.ts), so each store picks its
 * own table's columns by these names instead of repeating them.
 */
import { and, asc, desc, eq, gt, inArray, isNull, type Column, type SQL } from 'drizzle-orm';
import type { JobRow } from './schema.ts';
import type { DestructionRow, JobHead, JobQuery, LeaseRow } from './store.ts';

/** Every key of `T`, once: a list the compiler checks for completeness. */
type AllKeys<T> = readonly (keyof T)[] & { length: number };

const HEAD_KEYS = [
  'id', 'lifecycle', 'lifecycleVersion', 'type', 'owner', 'runId', 'idempotencyKey', 'concurrencyKey', 'traceparent', 'state', 'version', 'stateVersion',
  'createdAt', 'updatedAt', 'startedAt', 'endedAt', 'leaseId', 'leaseExpiresAt', 'workerId',
] as const satisfies AllKeys<JobHead>;
const LEASE_KEYS = ['id', 'type', 'attempt', 'leaseId', 'leaseExpiresAt', 'cancelRequested'] as const satisfies AllKeys<LeaseRow>;
const DESTRUCTION_KEYS = ['id', 'lifecycle', 'lifecycleVersion', 'state', 'endedAt', 'cancelRequested'] as const satisfies AllKeys<DestructionRow>;

// Compile-time: each list names every field of its row type.
type Exhaustive<T, K> = Exclude<keyof T, K> extends never ? true : never;
const complete: [Exhaustive<JobHead, (typeof HEAD_KEYS)[number]>, Exhaustive<LeaseRow, (typeof LEASE_KEYS)[number]>, Exhaustive<DestructionRow, (typeof DESTRUCTION_KEYS)[number]>] = [true, true, true];
void complete;

/** The columns a transition writes: all but the id and the identity fixed at creation. */
export const DERIVED = [
  'state', 'snapshot', 'version', 'stateVersion', 'claimable', 'running', 'waiting', 'outcome',
  'params', 'result', 'errors', 'question', 'reply', 'inside', 'step',
  'progressPercent', 'progressMessage', 'progressCurrent', 'progressTotal', 'cancelRequested',
  'updatedAt', 'startedAt', 'endedAt', 'destructionAt', 'executionDuration', 'quoteAt',
  'priority', 'runAfter', 'attempt', 'leaseId', 'leaseExpiresAt', 'workerId',
] as const satisfies ReadonlyArray<keyof JobRow>;

/** What an upgrade writes: the derived columns and the lifecycle version. */
export function upgradeColumns(row: JobRow): Partial<JobRow> {
  const set: Partial<Record<keyof JobRow, unknown>> = { lifecycleVersion: row.lifecycleVersion };
  for (const key of DERIVED) set[key] = row[key];
  return set as Partial<JobRow>;
}

function pick<T, K extends keyof T>(columns: T, keys: readonly K[]): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const key of keys) picked[key] = columns[key];
  return picked;
}

/** A table's columns for a job's head, a lease record and a destruction candidate. */
export function selections<T extends Record<(typeof HEAD_KEYS | typeof LEASE_KEYS | typeof DESTRUCTION_KEYS)[number], Column>>(columns: T) {
  return {
    head: pick(columns, HEAD_KEYS),
    lease: pick(columns, LEASE_KEYS),
    destruction: pick(columns, DESTRUCTION_KEYS),
  };
}

/** The columns a listing filters and orders by. */
type ListColumns = Record<'id' | 'state' | 'createdAt' | 'owner' | 'type' | 'lifecycle', Column>;

/** A listing's WHERE clause (undefined: every job). */
export function listWhere(t: ListColumns, query: JobQuery): SQL | undefined {
  const where: SQL[] = [];
  if (query.states?.length) where.push(inArray(t.state, [...query.states]));
  if (query.after !== undefined) where.push(gt(t.createdAt, query.after));
  if (query.owner !== undefined) where.push(query.owner === null ? isNull(t.owner) : eq(t.owner, query.owner));
  if (query.type !== undefined) where.push(eq(t.type, query.type));
  if (query.lifecycle !== undefined) where.push(eq(t.lifecycle, query.lifecycle));
  return and(...where);
}

/** A listing's order: by creation, newest first for `last`. */
export function listOrder(t: ListColumns, query: JobQuery): SQL[] {
  return query.last !== undefined ? [desc(t.createdAt), desc(t.id)] : [asc(t.createdAt), asc(t.id)];
}

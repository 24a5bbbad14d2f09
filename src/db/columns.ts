/**
 * What both stores select and write, by column name, and the listing's filter and order: the two
 * dialects' tables spell the same columns (pg-schema.ts mirrors schema.ts), so each store picks its
 * own table's columns by these names instead of repeating them.
 */
import { and, asc, desc, eq, gt, gte, inArray, isNull, lt, lte, sql, type Column, type SQL } from 'drizzle-orm';
import { newestFirst, splitsByState } from '../engine/listing.ts';
import type { CountFilter } from '../engine/types.ts';
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

/**
 * A listing's WHERE clause (undefined: every job). `leadAsRange` (PostgreSQL): a leading column's
 * value as a closed range, not an equality, because PostgreSQL drops a column held equal to a
 * constant from the order (it is constant), and the order by id alone lets it walk the primary key
 * instead of the column's (x, id) index (see leadingKeys). SQLite keeps the equality, which it
 * prefers to a range when it picks an index (given a range on one column and an equality on
 * another, it would walk the equality's index and sort).
 */
export function listWhere(t: ListColumns, query: JobQuery, { leadAsRange = false } = {}): SQL | undefined {
  const where: SQL[] = [];
  const lead = byIdDescending(query) && leadAsRange ? leadingKeys(query) : [];
  const is = (key: LeadKey, value: string) => (lead.includes(key) ? and(gte(t[key], value), lte(t[key], value))! : eq(t[key], value));
  if (query.states?.length) where.push(lead.includes('state') ? is('state', query.states[0]!) : inArray(t.state, [...query.states]));
  if (query.after !== undefined) {
    // Newest first, the instant is a filter on the walk down an (x, id) index, not a range to sort:
    // the unary plus keeps the planner off jobs_created, whose rows would all have to be sorted.
    where.push(byIdDescending(query) ? sql`+${t.createdAt} > ${query.after}` : gt(t.createdAt, query.after));
  }
  if (query.owner !== undefined) where.push(query.owner === null ? isNull(t.owner) : is('owner', query.owner));
  if (query.type !== undefined) where.push(is('type', query.type));
  if (query.lifecycle !== undefined) where.push(is('lifecycle', query.lifecycle));
  if (query.beforeId !== undefined) where.push(lt(t.id, query.beforeId));
  if (query.id !== undefined) where.push(eq(t.id, query.id));
  return and(...where);
}

/** A listing's order: oldest first by creation, or newest first by id (keyset pages and `last`). */
export function listOrder(t: ListColumns, query: JobQuery): SQL[] {
  if (byIdDescending(query)) return [...leadingKeys(query).map((key) => desc(t[key])), desc(t.id)];
  return [asc(t.createdAt), asc(t.id)];
}

/**
 * Newest first by id: keyset pages, and `last` (the n most recent: ids follow creation order), so
 * each walks an (x, id) index and stops at its limit. Only an oldest-first listing walks
 * `jobs_created`; no (owner, created) or (type, created) index is kept for `last` to sort by.
 */
function byIdDescending(query: JobQuery): boolean {
  return newestFirst(query) || query.last !== undefined;
}

type LeadKey = 'owner' | 'lifecycle' | 'state' | 'type';

/**
 * Newest first, the filter's columns held to one value go before the id in the order: the same
 * order (they are constant), but one only an (x, id) index gives, so the query walks that index
 * from `beforeId` down. Ordered by id alone, PostgreSQL may walk the primary key instead and
 * filter, expecting matches to be spread evenly: UWS drafts made long ago, under newer jobs of
 * other kinds, cost it 270-400 ms at 1,000,000 jobs (bench/RESULTS.md). One index leads, chosen in
 * this order: an owner's (bounded by that owner's jobs), a lifecycle's state, a state, a type, a
 * lifecycle.
 */
function leadingKeys(query: JobQuery): LeadKey[] {
  if (query.id !== undefined) return [];
  const oneState = query.states !== undefined && new Set(query.states).size === 1;
  if (query.owner !== undefined) return ['owner'];
  if (oneState && query.lifecycle !== undefined) return ['lifecycle', 'state'];
  if (oneState) return ['state'];
  if (query.type !== undefined) return ['type'];
  if (query.lifecycle !== undefined) return ['lifecycle'];
  return [];
}

/**
 * How a listing is asked of the database: a page newest first over several states is one query
 * per state, each walking the (state, id) index from `beforeId` down and stopping at the limit,
 * merged by id (one query with `state IN (...)` would collect every job in those states to sort
 * them). Any other listing is one query.
 */
export function listQueries(query: JobQuery): JobQuery[] {
  if (!splitsByState(query)) return [query];
  return [...new Set(query.states)].map((state) => ({ ...query, states: [state] }));
}

/** The pages of {@link listQueries}, merged: newest first by id, up to the limit. */
export function mergeNewest<R extends { id: number }>(pages: R[][], limit: number | undefined): R[] {
  if (pages.length === 1) return pages[0]!;
  const all = pages.flat().sort((a, b) => b.id - a.id);
  return limit === undefined ? all : all.slice(0, limit);
}

/** The columns a count groups and filters by. */
type CountColumns = Record<'lifecycle' | 'state' | 'owner' | 'type', Column>;

/** A count's WHERE clause (each store groups by its own table's lifecycle and state). */
export function countWhere(t: CountColumns, filter: CountFilter): SQL | undefined {
  const where: SQL[] = [];
  if (filter.owner !== undefined) where.push(filter.owner === null ? isNull(t.owner) : eq(t.owner, filter.owner));
  if (filter.type !== undefined) where.push(eq(t.type, filter.type));
  if (filter.lifecycle !== undefined) where.push(eq(t.lifecycle, filter.lifecycle));
  return and(...where);
}

/** Counts in one order on every store: by lifecycle, then state, in code-point order (a server's collation may differ). */
export function sortCounts<C extends { lifecycle: string; state: string; count: number }>(counts: C[]): Array<{ lifecycle: string; state: string; count: number }> {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return counts
    .map(({ lifecycle, state, count }) => ({ lifecycle, state, count: Number(count) }))
    .sort((a, b) => cmp(a.lifecycle, b.lifecycle) || cmp(a.state, b.state));
}

/** Whether a filter holds a string PostgreSQL text cannot hold (U+0000): no stored job matches it. */
export function matchesNothingOnPostgres(filter: { states?: readonly string[]; owner?: string | null; type?: string; lifecycle?: string }): boolean {
  const has = (s: string | null | undefined) => typeof s === 'string' && s.includes('\u0000');
  return has(filter.owner) || has(filter.type) || has(filter.lifecycle) || (filter.states ?? []).some(has);
}

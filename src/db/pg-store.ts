/**
 * The PostgreSQL store: the {@link Store} boundary on a `pg.Pool`, with Drizzle's node-postgres
 * driver for the statements.
 *
 * Asynchronous: each operation yields the promise of its query and {@link PgStore.run} awaits it,
 * passing the value back in, inside one transaction on one client of the pool. Writers run at READ
 * COMMITTED: a send reads the job's head FOR UPDATE, so writers to one job take turns as on SQLite,
 * and every UPDATE is still guarded by the version (a stale write changes nothing). Claims lock the
 * rows they pick and skip those locked by others. Reads that must agree (a page and its events) run
 * at REPEATABLE READ READ ONLY.
 */
import { and, asc, count, desc, DrizzleQueryError, eq, getTableColumns, gt, gte, inArray, isNull, lt, lte, max, min, ne, not, notInArray, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { InvalidInputError, NotAPhaselineDatabaseError, StoreUnavailableError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import { countWhere, sortCounts, DERIVED, listOrder, listQueries, listWhere, matchesNothingOnPostgres, mergeNewest, selections, upgradeColumns } from './columns.ts';
import type { CountFilter, StateCount } from '../engine/types.ts';
import { redactUrl } from './url.ts';
import { WAKE_CHANNEL, WakeListener } from './pg-wake.ts';
import { jobEvents, jobs, schedules } from './pg-schema.ts';
import { createTypeSlots, LOCK_JOBS, prepareLimitQueries, upsertKeySlot } from './pg-limits.ts';
import type { JobEventRow, JobRow, ScheduleRow } from './schema.ts';
import { errorField, safeLog, silentLogger, type Logger } from '../logger.ts';
import type {
  SlotChange, SlotFields, TypeSlot,
  DestructionRow, JobHead, JobQuery, LeaseRow, Op, ScheduleChange, Script, SettledStates, Store, StoreTx, TxMode,
} from './store.ts';

export type PgDb = NodePgDatabase<Record<string, never>>;

export interface PgStoreOptions {
  /** Clients in the pool (pg's default: 10). */
  max?: number;
  /** Passed to `pg.Pool` as is, for what the options above do not cover. */
  pool?: pg.PoolConfig;
  /** Where a failed idle connection or a throwing wake-up listener is reported. Default: nowhere. */
  logger?: Logger;
}

const c = getTableColumns(jobs);
const { head: headColumns, lease: leaseColumns, destruction: destructionColumns } = selections(c);
/** Heartbeats change these without a new version, so the row in memory may be behind: always written. */
const ALWAYS = new Set<string>(['version', 'leaseId', 'leaseExpiresAt', 'workerId']);

const p = sql.placeholder;


/** Plain text columns a job or event may carry a caller's string in (JSON columns escape U+0000). */
const JOB_TEXT = ['lifecycle', 'type', 'state', 'owner', 'runId', 'idempotencyKey', 'concurrencyKey', 'traceparent', 'progressMessage', 'leaseId', 'workerId'] as const;
const EVENT_TEXT = ['type', 'stateBefore', 'stateAfter', 'actor'] as const;

/**
 * PostgreSQL text cannot hold U+0000 (SQLite's can): refuse it as invalid input, before anything is
 * sent, rather than fail with the server's encoding error.
 */
function assertNoNul<T extends object>(row: T, fields: readonly (keyof T)[], prefix: string): void {
  for (const field of fields) {
    const value = row[field];
    if (typeof value === 'string' && value.includes('\u0000')) {
      throw new InvalidInputError(`${prefix}${String(field)}`, 'contains U+0000 (NUL), which PostgreSQL text cannot store');
    }
  }
}

/**
 * `{ col: sql.placeholder('col') }` for each key. Drizzle binds each placeholder to its column, so
 * JSON columns are encoded on execution; its `values()` types do not admit placeholders, hence the cast.
 */
const placeholders = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((k) => [k, p(k)])) as unknown as Record<K, never>;

const INSERTED = (Object.keys(c) as Array<keyof JobRow>).filter((k): k is Exclude<keyof JobRow, 'id'> => k !== 'id');
const EVENT_COLUMNS = Object.keys(getTableColumns(jobEvents)) as Array<keyof JobEventRow>;

/** The hot-path statements, prepared by name: PostgreSQL parses and plans each once per connection. */
function prepare(db: PgDb) {
  return {
    insertJob: db.insert(jobs).values(placeholders(INSERTED)).returning({ id: jobs.id }).prepare('phaseline_insert_job'),
    insertEvent: db.insert(jobEvents).values(placeholders(EVENT_COLUMNS)).prepare('phaseline_insert_event'),
    head: db.select(headColumns).from(jobs).where(eq(jobs.id, p('id'))).prepare('phaseline_head'),
    headForUpdate: db.select(headColumns).from(jobs).where(eq(jobs.id, p('id'))).for('update').prepare('phaseline_head_for_update'),
    // Locked in id order, as every batch locks them: two batches wait for each other, never deadlock.
    headsForUpdate: db
      .select(headColumns)
      .from(jobs)
      .where(sql`${jobs.id} = any(${p('ids')})`)
      .orderBy(asc(jobs.id))
      .for('update')
      .prepare('phaseline_heads_for_update'),
    row: db.select().from(jobs).where(eq(jobs.id, p('id'))).prepare('phaseline_row'),
    byKey: db.select().from(jobs).where(and(eq(jobs.type, p('type')), eq(jobs.idempotencyKey, p('key')))).prepare('phaseline_by_key'),
    claimable: claimableQuery(db, false).prepare('phaseline_claimable'),
    claimableOfTypes: claimableQuery(db, true).prepare('phaseline_claimable_of_types'),
    history: db.select().from(jobEvents).where(eq(jobEvents.jobId, p('id'))).orderBy(asc(jobEvents.seq)).prepare('phaseline_history'),
    jobsAfter: db.select().from(jobs).where(gt(jobs.id, p('after'))).orderBy(asc(jobs.id)).limit(p('limit')).prepare('phaseline_jobs_after'),
    historyBetween: db
      .select()
      .from(jobEvents)
      .where(and(gte(jobEvents.jobId, p('from')), lte(jobEvents.jobId, p('to'))))
      .orderBy(asc(jobEvents.jobId), asc(jobEvents.seq))
      .prepare('phaseline_history_between'),
    leases: db.select(leaseColumns).from(jobs).where(eq(jobs.running, true)).prepare('phaseline_leases'),
    renew: db
      .update(jobs)
      // The expiry always moves on, even when the holder's clock stood still or stepped back.
      .set({ leaseExpiresAt: sql`greatest(${p('expiresAt')}::bigint, coalesce(${jobs.leaseExpiresAt} + 1, ${p('expiresAt')}::bigint))` })
      .where(and(eq(jobs.id, p('id')), eq(jobs.leaseId, p('leaseId')), eq(jobs.running, true)))
      .prepare('phaseline_renew'),
  };
}

/** A column's values for many rows, as one array parameter of its type (`unnest` makes rows of them). */
interface ArrayColumn<R> {
  key: keyof R & string;
  column: PgColumn;
  type: string;
}

const arrayColumns = <R>(table: Record<string, PgColumn>, keys: ReadonlyArray<keyof R & string>): ArrayColumn<R>[] =>
  keys.map((key) => ({ key, column: table[key]!, type: table[key]!.getSQLType() }));

/** `$n::type[]` of each column's values, encoded as the column encodes one value. */
function arraysOf<R>(columns: ReadonlyArray<ArrayColumn<R>>, rows: readonly R[]) {
  return columns.map(({ key, column, type }) =>
    sql`${sql.param(rows.map((row) => (row[key] === null || row[key] === undefined ? null : column.mapToDriverValue(row[key]))))}::${sql.raw(type)}[]`,
  );
}

const JOB_INSERT_COLUMNS = arrayColumns<JobRow>(c, INSERTED);
const EVENT_INSERT_COLUMNS = arrayColumns<JobEventRow>(getTableColumns(jobEvents), EVENT_COLUMNS);

/**
 * One INSERT of many rows with one array parameter per column: a statement the size of one row,
 * whatever the rows' number (VALUES lists would make a parameter of every cell, up to the limit
 * of 65,535, and a long statement for Drizzle to build and the server to parse).
 */
function insertMany<R>(table: typeof jobs | typeof jobEvents, columns: ReadonlyArray<ArrayColumn<R>>, rows: readonly R[], returning = sql``) {
  const names = columns.map(({ column }) => sql.identifier(column.name));
  return sql`INSERT INTO ${table} (${sql.join(names, sql`, `)}) SELECT * FROM unnest(${sql.join(arraysOf(columns, rows), sql`, `)}) ${returning}`;
}

/** Each column a transition writes, with its PostgreSQL type (for the arrays of a batch UPDATE). */
const BATCH_COLUMNS = arrayColumns<JobRow>(c, DERIVED);

/**
 * One UPDATE of many rows, each guarded by its stored version: every column a transition writes,
 * one array per column (`unnest`), so the statement's size does not grow with its parameters' count.
 */
function batchUpdate(pending: ReadonlyArray<{ row: JobRow; storedVersion: number }>) {
  const arrays = arraysOf(BATCH_COLUMNS, pending.map(({ row }) => row));
  const names = BATCH_COLUMNS.map(({ column }) => sql.identifier(column.name));
  return sql`UPDATE ${jobs} SET ${sql.join(names.map((name) => sql`${name} = v.${name}`), sql`, `)}
    FROM unnest(${sql.param(pending.map((p) => p.row.id))}::bigint[], ${sql.param(pending.map((p) => p.storedVersion))}::integer[], ${sql.join(arrays, sql`, `)})
      AS v(phaseline_id, phaseline_stored_version, ${sql.join(names, sql`, `)})
    WHERE ${jobs.id} = v.phaseline_id AND ${jobs.version} = v.phaseline_stored_version`;
}

/** Names of the prepared UPDATEs, one per set of columns, the same on every connection. */
const updateNames = new Map<string, string>();

/** A transition's UPDATE of these columns, guarded by the version, prepared by name. */
function updateStatement(db: PgDb, columns: readonly (typeof DERIVED)[number][]) {
  const key = columns.join(',');
  let name = updateNames.get(key);
  if (!name) updateNames.set(key, (name = `phaseline_update_${updateNames.size + 1}`));
  return db
    .update(jobs)
    .set(placeholders(columns) as Partial<JobRow>)
    // The version guard: the row must still be at the version this transition started from.
    .where(and(eq(jobs.id, p('id')), eq(jobs.version, p('prevVersion'))))
    .prepare(name);
}

/**
 * Due claimable jobs in claim order, locking each row it returns and skipping those another
 * transaction holds, so that concurrent claimers take different jobs without waiting. One statement
 * for every set of types (an array parameter). With statistics the planner walks the claim index in
 * order and stops at the first due rows; on a table that grew before autovacuum analyzed it, it may
 * sort the type's queued jobs instead (13 ms at 10,000).
 */
export function claimableQuery(db: PgDb, typed: boolean) {
  const due = and(eq(jobs.claimable, true), lte(jobs.runAfter, p('now')));
  return db
    .select()
    .from(jobs)
    .where(typed ? and(due, sql`${jobs.type} = any(${p('types')})`) : due)
    .orderBy(desc(jobs.priority), asc(jobs.id))
    .limit(p('limit'))
    .for('update', { skipLocked: true });
}

/** Jobs per lifecycle and state, of those the filter takes. */
function countQuery(db: PgDb, filter: Readonly<CountFilter>) {
  return db
    .select({ lifecycle: jobs.lifecycle, state: jobs.state, count: count() })
    .from(jobs)
    .where(countWhere(jobs, filter))
    .groupBy(jobs.lifecycle, jobs.state)
    .orderBy(jobs.lifecycle, jobs.state);
}

/**
 * The store's operations on one Drizzle database: a client inside a transaction, or the pool
 * (each statement by itself). Each operation yields its queries' promises one at a time.
 */
class PgOps implements StoreTx {
  readonly #db: PgDb;
  readonly #stmts: ReturnType<typeof prepare>;
  readonly #limits: ReturnType<typeof prepareLimitQueries>;
  /** Inside a write transaction: heads are read FOR UPDATE, so writers to one job take turns. */
  #writing = false;
  #savepoints = 0;
  /** A row written in this transaction is claimable: its COMMIT carries a NOTIFY. */
  #wakes = false;
  /**
   * Savepoints for real (SAVEPOINT, ROLLBACK TO), and events written as they come. Otherwise a
   * savepoint costs no round trip: the engine refuses an event before it writes anything, so a
   * refusal needs no rollback; and the transaction's events wait to go in together, with one
   * INSERT before its COMMIT. A statement that fails in such a transaction aborts it on the server:
   * the store then runs the script again, strict (see PgStore).
   */
  #strict = false;
  #pendingEvents: JobEventRow[] = [];
  /**
   * Rows this light transaction holds locked (read FOR UPDATE, or claimed): no other writer can
   * move them, so their version guard cannot fail, and their UPDATEs wait to go in together, as
   * one statement, before anything reads them back.
   */
  #locked = new Set<number>();
  /** Each locked row's latest version in this transaction, and the version stored before it. */
  #pendingRows = new Map<number, { row: JobRow; storedVersion: number }>();
  /** Heads read and locked together ({@link lockHeads}), for the readHead calls that follow. */
  #heads = new Map<number, JobHead>();
  /** How many times the pending rows went to the server (a savepoint must not queue them again). */
  #flushes = 0;
  #updates = new Map<string, ReturnType<typeof updateStatement>>();

  constructor(db: PgDb) {
    this.#db = db;
    this.#stmts = prepare(db);
    this.#limits = prepareLimitQueries(db);
  }

  /** Called by the store when a transaction of this client begins. */
  begin(mode: TxMode, strict: boolean): void {
    this.#writing = mode === 'write';
    this.#savepoints = 0;
    this.#wakes = false;
    this.#strict = strict;
    this.#pendingEvents = [];
    this.#locked.clear();
    this.#pendingRows.clear();
    this.#heads.clear();
  }

  /** A light transaction (not strict) whose statement failed stops at once: it is run again, strict. */
  get retriesStrict(): boolean {
    return !this.#strict;
  }

  /** Write what waits for the end of the transaction: the rows' UPDATE, then the events. */
  *flush(): Op<void> {
    yield* this.#flushRows();
    yield* this.#flushEvents();
  }

  /** The locked rows' UPDATEs, as one statement (before a statement that reads jobs). */
  *#flushRows(): Op<void> {
    if (this.#pendingRows.size === 0) return;
    const pending = [...this.#pendingRows.values()];
    this.#pendingRows.clear();
    this.#flushes++;
    const result = (yield this.#db.execute(batchUpdate(pending))) as pg.QueryResult;
    if (result.rowCount !== pending.length) {
      throw new Error(`phaseline: ${pending.length - (result.rowCount ?? 0)} of ${pending.length} locked rows had moved on`);
    }
  }

  *#flushEvents(): Op<void> {
    const events = this.#pendingEvents;
    if (events.length === 0) return;
    this.#pendingEvents = [];
    yield* this.#insertEvents(events);
  }

  /** Whether the transaction's COMMIT must wake listeners (and forget it for the next one). */
  takeWake(): boolean {
    const wakes = this.#wakes;
    this.#wakes = false;
    return wakes;
  }

  *readHead(id: number): Op<JobHead | undefined> {
    // A row written earlier in this transaction: what it holds now is in memory.
    const pending = this.#pendingRows.get(id);
    if (pending) return pending.row;
    // A head read with the batch's others answers the first read only: what is written after it
    // (waiting in #pendingRows, or flushed) is newer than the head.
    const locked = this.#heads.get(id);
    if (locked) {
      this.#heads.delete(id);
      return locked;
    }
    const stmt = this.#writing ? this.#stmts.headForUpdate : this.#stmts.head;
    const head = ((yield stmt.execute({ id })) as JobHead[])[0];
    if (head && this.#writing && !this.#strict) this.#locked.add(id);
    return head;
  }

  *lockHeads(ids: readonly number[]): Op<void> {
    if (!this.#writing || this.#strict) return;
    const heads = (yield this.#stmts.headsForUpdate.execute({ ids: [...ids] })) as JobHead[];
    for (const head of heads) {
      this.#heads.set(head.id, head);
      this.#locked.add(head.id);
    }
  }

  *readRow(id: number): Op<JobRow | undefined> {
    if (this.#pendingRows.has(id)) yield* this.#flushRows();
    return ((yield this.#stmts.row.execute({ id })) as JobRow[])[0];
  }

  *findByIdempotencyKey(type: string, key: string): Op<JobRow | undefined> {
    // No stored job can have it; the insert that follows refuses it.
    if (type.includes('\u0000') || key.includes('\u0000')) return undefined;
    if (this.#writing) {
      // Creators with one key take turns until the first commits, then the others find its job:
      // at READ COMMITTED each statement sees what committed before it. (A hash collision only
      // makes two unrelated creations wait for each other.)
      yield this.#db.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${type}), hashtext(${key}))`);
    }
    return ((yield this.#stmts.byKey.execute({ type, key })) as JobRow[])[0];
  }

  *lockIdempotencyKeys(keys: ReadonlyArray<{ type: string; key: string }>): Op<void> {
    // The same advisory locks findByIdempotencyKey takes (each is taken again there at no cost),
    // all at once, in the order of their hashes.
    const usable = keys.filter(({ type, key }) => !type.includes('\u0000') && !key.includes('\u0000'));
    if (usable.length < 2) return;
    yield this.#db.execute(sql`
      SELECT pg_advisory_xact_lock(t, k) FROM (
        SELECT DISTINCT hashtext(u.type) AS t, hashtext(u.key) AS k
        FROM unnest(${sql.param(usable.map((u) => u.type))}::text[], ${sql.param(usable.map((u) => u.key))}::text[]) AS u(type, key)
        ORDER BY 1, 2
      ) AS ordered`);
  }

  *insertJobs(rows: readonly JobRow[]): Op<number[]> {
    for (const row of rows) {
      assertNoNul(row, JOB_TEXT, '');
      if (row.claimable) this.#wakes = true;
    }
    if (rows.length === 1) return [((yield this.#stmts.insertJob.execute(rows[0]!)) as Array<{ id: number }>)[0]!.id];
    const inserted = (yield this.#db.execute(insertMany(jobs, JOB_INSERT_COLUMNS, rows, sql`RETURNING ${jobs.id}`))) as pg.QueryResult<{ id: string | number }>;
    // The identity is drawn row by row in the order unnest yields them, so ascending ids follow the rows given.
    return inserted.rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  }

  *appendEvents(events: readonly JobEventRow[]): Op<void> {
    for (const event of events) assertNoNul(event, EVENT_TEXT, 'event.');
    if (this.#writing && !this.#strict) {
      this.#pendingEvents.push(...events);
      return;
    }
    yield* this.#insertEvents(events);
  }

  *#insertEvents(events: readonly JobEventRow[]): Op<void> {
    if (events.length === 1) {
      yield this.#stmts.insertEvent.execute(events[0]!);
      return;
    }
    yield this.#db.execute(insertMany(jobEvents, EVENT_INSERT_COLUMNS, events));
  }

  *writeTransition(row: JobRow, before: JobRow, event: JobEventRow): Op<boolean> {
    assertNoNul(row, JOB_TEXT, '');
    assertNoNul(event, EVENT_TEXT, 'event.');
    // Only the columns that changed against the row as last written (JSON ones compare by reference),
    // by a statement prepared once per set of columns.
    if (this.#locked.has(row.id)) {
      // Locked by this transaction: the guard holds; the UPDATE goes with the others (#flushRows).
      const stored = this.#pendingRows.get(row.id)?.storedVersion ?? row.version - 1;
      this.#pendingRows.set(row.id, { row, storedVersion: stored });
      if (row.claimable) this.#wakes = true;
      yield* this.appendEvents([event]);
      return true;
    }
    const columns = DERIVED.filter((key) => ALWAYS.has(key) || row[key] !== before[key]);
    const key = columns.join(',');
    let update = this.#updates.get(key);
    if (!update) this.#updates.set(key, (update = updateStatement(this.#db, columns)));
    const values: Record<string, unknown> = { id: row.id, prevVersion: row.version - 1 };
    for (const column of columns) values[column] = row[column];
    const result = (yield update.execute(values)) as pg.QueryResult;
    if (result.rowCount !== 1) return false;
    if (row.claimable) this.#wakes = true;
    yield* this.appendEvents([event]);
    return true;
  }

  *writeUpgrade(row: JobRow, before: JobRow, event: JobEventRow): Op<boolean> {
    assertNoNul(row, JOB_TEXT, '');
    assertNoNul(event, EVENT_TEXT, 'event.');
    if (this.#pendingRows.has(row.id)) yield* this.#flushRows();
    const result = (yield this.#db
      .update(jobs)
      .set(upgradeColumns(row))
      .where(and(eq(jobs.id, row.id), eq(jobs.version, before.version), eq(jobs.lifecycleVersion, before.lifecycleVersion)))) as pg.QueryResult;
    if (result.rowCount !== 1) return false;
    if (row.claimable) this.#wakes = true;
    yield* this.appendEvents([event]);
    return true;
  }

  *unfinishedOf(lifecycle: string, version: number): Op<number[]> {
    yield* this.#flushRows();
    const rows = (yield this.#db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.lifecycle, lifecycle), ne(jobs.lifecycleVersion, version), isNull(jobs.endedAt)))
      .orderBy(asc(jobs.id))) as Array<{ id: number }>;
    return rows.map((r) => r.id);
  }

  *claimable(now: number, limit: number, types?: readonly string[]): Op<JobRow[]> {
    yield* this.#flushRows();
    const rows = (yield types
      ? this.#stmts.claimableOfTypes.execute({ now, limit, types: [...types] })
      : this.#stmts.claimable.execute({ now, limit })) as JobRow[];
    // Locked FOR UPDATE by the claim.
    if (this.#writing && !this.#strict) for (const row of rows) this.#locked.add(row.id);
    return rows;
  }

  *renewLease(id: number, leaseId: string, expiresAt: number): Op<boolean> {
    yield* this.#flushRows();
    return ((yield this.#stmts.renew.execute({ id, leaseId, expiresAt })) as pg.QueryResult).rowCount === 1;
  }

  *runningLeases(): Op<LeaseRow[]> {
    yield* this.#flushRows();
    return (yield this.#stmts.leases.execute()) as LeaseRow[];
  }

  *dueForDestruction(now: number, limit: number, settled: readonly SettledStates[]): Op<DestructionRow[]> {
    yield* this.#flushRows();
    const unsettled = settled
      .filter((s) => s.states.length > 0)
      .map((s) => not(and(eq(jobs.lifecycle, s.lifecycle), inArray(jobs.state, [...s.states]))!));
    return (yield this.#db
      .select(destructionColumns)
      .from(jobs)
      .where(and(lte(jobs.destructionAt, now), ...unsettled))
      .limit(limit)) as DestructionRow[];
  }

  *endedBefore(before: number, exceptLifecycles: readonly string[], limit: number): Op<number[]> {
    yield* this.#flushRows();
    const rows = (yield this.#db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(lt(jobs.endedAt, before), notInArray(jobs.lifecycle, [...exceptLifecycles])))
      .limit(limit)) as Array<{ id: number }>;
    return rows.map((r) => r.id);
  }

  *list(query: JobQuery): Op<JobRow[]> {
    yield* this.#flushRows();
    // A state with U+0000 cannot be bound, and no stored job is in it.
    const states = query.states?.filter((state) => !state.includes('\u0000'));
    if (matchesNothingOnPostgres({ ...query, states: [] }) || (query.states?.length && !states!.length)) return [];
    const pages: JobRow[][] = [];
    for (const q of listQueries(states ? { ...query, states } : query)) {
      const select = this.#db.select().from(jobs).where(listWhere(jobs, q, { leadAsRange: true })).orderBy(...listOrder(jobs, q));
      const limit = q.last ?? q.limit;
      pages.push((yield limit !== undefined ? select.limit(limit) : select) as JobRow[]);
    }
    return mergeNewest(pages, query.limit);
  }

  *countByState(filter: Readonly<CountFilter>): Op<StateCount[]> {
    yield* this.#flushRows();
    if (matchesNothingOnPostgres(filter)) return [];
        return (yield this.#db.select({ lifecycle: jobs.lifecycle, state: jobs.state, count: count() })
      .from(jobs)
      .where(countWhere(jobs, filter))
      .groupBy(jobs.lifecycle, jobs.state)
      .orderBy(jobs.lifecycle, jobs.state)) as StateCount[];
  }

  *jobsAfter(afterId: number, limit: number): Op<JobRow[]> {
    yield* this.#flushRows();
    return (yield this.#stmts.jobsAfter.execute({ after: afterId, limit })) as JobRow[];
  }

  *insertSchedule(row: ScheduleRow): Op<boolean> {
    const result = (yield this.#db.insert(schedules).values(row).onConflictDoNothing()) as pg.QueryResult;
    return result.rowCount === 1;
  }

  *readSchedule(name: string): Op<ScheduleRow | undefined> {
    return ((yield this.#db.select().from(schedules).where(eq(schedules.name, name))) as ScheduleRow[])[0];
  }

  *listSchedules(): Op<ScheduleRow[]> {
    return (yield this.#db.select().from(schedules).orderBy(asc(schedules.name))) as ScheduleRow[];
  }

  *dueSchedules(now: number, limit: number): Op<ScheduleRow[]> {
    return (yield this.#db
      .select()
      .from(schedules)
      .where(and(eq(schedules.paused, false), lte(schedules.nextAt, now)))
      .orderBy(asc(schedules.nextAt))
      .limit(limit)) as ScheduleRow[];
  }

  *updateSchedule(name: string, change: ScheduleChange, expectNextAt?: number): Op<boolean> {
    const where = expectNextAt === undefined ? eq(schedules.name, name) : and(eq(schedules.name, name), eq(schedules.nextAt, expectNextAt));
    const result = (yield this.#db.update(schedules).set(change).where(where)) as pg.QueryResult;
    return result.rowCount === 1;
  }

  *deleteSchedule(name: string): Op<boolean> {
    const result = (yield this.#db.delete(schedules).where(eq(schedules.name, name))) as pg.QueryResult;
    return result.rowCount === 1;
  }

  *idRange(): Op<{ min: number; max: number } | null> {
    yield* this.#flushRows();
    const [range] = (yield this.#db.select({ min: min(jobs.id), max: max(jobs.id) }).from(jobs)) as Array<{ min: number | null; max: number | null }>;
    return range?.min == null || range.max == null ? null : { min: range.min, max: range.max };
  }

  *history(id: number): Op<JobEventRow[]> {
    yield* this.#flushEvents();
    return (yield this.#stmts.history.execute({ id })) as JobEventRow[];
  }

  *historyBetween(fromId: number, toId: number): Op<JobEventRow[]> {
    yield* this.#flushEvents();
    return (yield this.#stmts.historyBetween.execute({ from: fromId, to: toId })) as JobEventRow[];
  }

  // Limits (src/engine/limits.ts; the queries in pg-limits.ts).

  *claimableOfType(type: string, now: number, limit: number): Op<JobRow[]> {
    yield* this.#flushRows();
    return this.#lockedRows((yield this.#limits.ofType.execute({ type, now, limit })) as JobRow[]);
  }

  *claimableHeads(type: string, now: number, keyLimit: number, limit: number): Op<JobRow[]> {
    yield* this.#flushRows();
    return this.#lockedRows((yield this.#limits.heads.execute({ type, now, keyLimit, limit })) as JobRow[]);
  }

  /** Rows a claim read FOR UPDATE: held by this transaction until its commit. */
  #lockedRows(rows: JobRow[]): JobRow[] {
    if (this.#writing && !this.#strict) for (const row of rows) this.#locked.add(row.id);
    return rows;
  }

  *hasKeyHeads(types: readonly string[]): Op<boolean> {
    return ((yield this.#limits.anyHead.execute({ types: [...types] })) as unknown[]).length > 0;
  }

  *lockTypeSlots(types: readonly string[]): Op<TypeSlot[]> {
    if (types.length === 0) return [];
    let slots = (yield this.#limits.typeSlots.execute({ types: [...types] })) as TypeSlot[];
    if (slots.length < types.length) {
      yield* this.#flushRows();
      yield this.#db.execute(LOCK_JOBS);
      yield this.#db.execute(createTypeSlots(types));
      slots = (yield this.#limits.typeSlots.execute({ types: [...types] })) as TypeSlot[];
    }
    return slots.map((slot) => ({ ...slot, running: Number(slot.running), windowStart: Number(slot.windowStart), windowCount: Number(slot.windowCount) }));
  }

  *writeWindow(type: string, windowStart: number, windowCount: number): Op<void> {
    yield this.#limits.window.execute({ type, windowStart, windowCount });
  }

  *applySlotChanges(changes: readonly SlotChange[]): Op<void> {
    if (changes.some((change) => change.key !== '')) yield* this.#flushRows();
    for (const { type, key, delta } of changes) {
      if (key === '') {
        if (delta !== 0) yield this.#limits.typeRunning.execute({ type, delta });
        continue;
      }
      assertNoNul({ key }, ['key'], 'concurrency');
      const result = (yield this.#db.execute(upsertKeySlot(type, key, delta))) as pg.QueryResult<{ empty: boolean }>;
      if (result.rows[0]?.empty) yield this.#limits.dropKey.execute({ type, key });
    }
  }

  *slotFieldsOf(ids: readonly number[]): Op<SlotFields[]> {
    if (ids.length === 0) return [];
    yield* this.#flushRows();
    return (yield this.#db
      .select({ type: jobs.type, concurrencyKey: jobs.concurrencyKey, running: jobs.running, claimable: jobs.claimable })
      .from(jobs)
      .where(inArray(jobs.id, [...ids]))) as SlotFields[];
  }

  *deleteJobs(ids: readonly number[]): Op<number> {
    if (ids.length === 0) return 0;
    yield* this.flush();
    // The foreign key's ON DELETE CASCADE takes the history with each job.
    return ((yield this.#db.delete(jobs).where(inArray(jobs.id, [...ids]))) as pg.QueryResult).rowCount ?? 0;
  }

  *savepoint<T>(script: Script<T>): Op<T> {
    if (!this.#strict) {
      // A refusal comes before any write (see #strict): only what it queued is dropped.
      const mark = this.#pendingEvents.length;
      const rows = new Map(this.#pendingRows);
      const flushes = this.#flushes;
      try {
        return yield* script;
      } catch (error) {
        this.#pendingEvents.length = mark;
        // Rows a read flushed inside the savepoint are on the server already: queued again, their
        // version guard would fail at the next flush. The refused script queued nothing after them.
        if (this.#flushes === flushes) this.#pendingRows = rows;
        throw error;
      }
    }
    // After a failed statement PostgreSQL refuses everything until the savepoint is rolled back.
    const name = sql.raw(`phaseline_${++this.#savepoints}`);
    yield this.#db.execute(sql`SAVEPOINT ${name}`);
    let value: T;
    try {
      value = yield* script;
    } catch (error) {
      yield this.#db.execute(sql`ROLLBACK TO SAVEPOINT ${name}`);
      yield this.#db.execute(sql`RELEASE SAVEPOINT ${name}`);
      throw error;
    }
    yield this.#db.execute(sql`RELEASE SAVEPOINT ${name}`);
    return value;
  }
}

const BEGIN: Record<Exclude<TxMode, 'autocommit'>, string> = {
  write: 'BEGIN ISOLATION LEVEL READ COMMITTED',
  // A page and its events from one moment.
  read: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
};

/**
 * Phaseline's own record of applied migrations, not Drizzle's default `drizzle.__drizzle_migrations`:
 * in a database shared with a host app that also migrates with Drizzle, the migrator would take the
 * app's latest migration for ours and skip every Phaseline migration older than it.
 */
const MIGRATIONS = { migrationsSchema: 'drizzle', migrationsTable: '__phaseline_migrations' } as const;

/** Key of the advisory lock that migrations run under ("phaselin" in ASCII, one bigint). */
const MIGRATION_LOCK = 0x7068_6173_656c_696en;

export class PgStore extends PgOps implements Store {
  readonly synchronous = false;
  readonly file = null;
  readonly pool: pg.Pool;
  /** Each pooled client's operations, its prepared statements with them. */
  readonly #ops = new WeakMap<pg.PoolClient, PgOps>();
  readonly #wake: WakeListener;

  /** A store on a pool whose database is migrated already ({@link PgStore.open} does both). */
  constructor(pool: pg.Pool, logger: Logger = silentLogger) {
    super(drizzle(pool));
    this.pool = pool;
    this.#wake = new WakeListener(pool.options, logger);
    // An idle client whose connection dies (a server restart) is dropped by the pool, which emits
    // 'error': unheard, that would end the process. The next query takes a new connection.
    pool.on('error', (error) => safeLog(logger, 'warn', { err: errorField(error) }, 'phaseline: an idle PostgreSQL connection failed'));
  }

  /** Connect, apply migrations/postgres (once, whoever else opens at the same moment), return the store. */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
    const folder = findMigrations(url);
    const pool = new pg.Pool({ ...options.pool, connectionString: url, ...(options.max !== undefined ? { max: options.max } : {}) });
    try {
      const { client, release } = await checkout(pool).catch((error: unknown) => {
        throw new StoreUnavailableError(redactUrl(url), 'cannot-open', error instanceof Error ? error.message : String(error));
      });
      try {
        // Drizzle's migrator reads what is applied, then applies the rest: two processes could both
        // read "nothing" and race to CREATE. Under one lock the second finds the first's work done.
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
        try {
          await refuseForeignTables(client, url);
          await migrate(drizzle(client), { migrationsFolder: folder, ...MIGRATIONS });
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]);
        }
      } finally {
        release();
      }
      return new PgStore(pool, options.logger);
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  /**
   * The planner's plan of a listing (EXPLAIN, one group per query it takes), for the bench and the
   * tests that show each filter can walk an index. `indexOnly`: with sequential scans and sorts
   * priced out, so that a small test table shows the index a large one would use, or a Seq Scan
   * and a Sort where there is none.
   */
  async explainList(query: JobQuery, options: { indexOnly?: boolean } = {}): Promise<string[][]> {
    const plans: string[][] = [];
    for (const q of listQueries(query)) {
      const select = this.#selectList(q);
      plans.push(await this.#explain(select.toSQL(), options.indexOnly === true));
    }
    return plans;
  }

  /** The plan of a count (see {@link explainList}). */
  async explainCount(filter: Readonly<CountFilter>, options: { indexOnly?: boolean } = {}): Promise<string[]> {
    return this.#explain(countQuery(drizzle(this.pool), filter).toSQL(), options.indexOnly === true);
  }

  #selectList(q: JobQuery) {
    const select = drizzle(this.pool).select().from(jobs).where(listWhere(jobs, q, { leadAsRange: true })).orderBy(...listOrder(jobs, q));
    const limit = q.last ?? q.limit;
    return limit !== undefined ? select.limit(limit) : select;
  }

  async #explain({ sql: text, params }: { sql: string; params: unknown[] }, indexOnly: boolean): Promise<string[]> {
    const { client, release } = await checkout(this.pool);
    try {
      await client.query('BEGIN READ ONLY');
      if (indexOnly) await client.query('SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, params);
      return rows.map((row) => row['QUERY PLAN'].trim());
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      release();
    }
  }

  run<T>(mode: TxMode, script: (tx: StoreTx) => Script<T>): Promise<T> {
    // No transaction: each statement on whichever pooled client is free.
    if (mode === 'autocommit') return drive(script(this), null);
    return this.#transaction(mode, script);
  }

  async #transaction<T>(mode: Exclude<TxMode, 'autocommit'>, script: (tx: StoreTx) => Script<T>): Promise<T> {
    let strict = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transactionOnce(mode, script, strict);
      } catch (error) {
        if (error instanceof RunStrict) {
          // A statement failed in a light transaction (nothing committed): again, with savepoints.
          strict = true;
          attempt--;
          continue;
        }
        // The server aborted this transaction to let another go on (creators of jobs with the
        // same idempotency keys in different orders): nothing was written, so run it again.
        if (attempt >= MAX_TRANSACTION_ATTEMPTS || !isRetryable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      }
    }
  }

  async #transactionOnce<T>(mode: Exclude<TxMode, 'autocommit'>, script: (tx: StoreTx) => Script<T>, strict: boolean): Promise<T> {
    const { client, release } = await checkout(this.pool);
    let ops = this.#ops.get(client);
    if (!ops) this.#ops.set(client, (ops = new PgOps(drizzle(client))));
    ops.begin(mode, strict);
    let broken: Error | undefined;
    try {
      await client.query(BEGIN[mode]);
      try {
        const value = await drive(script(ops), ops);
        await drive(ops.flush(), ops);
        // NOTIFY is delivered at the COMMIT, and only if it commits; one round trip for both.
        await client.query(ops.takeWake() ? `NOTIFY ${WAKE_CHANNEL}; COMMIT` : 'COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollback: Error) => {
          broken = rollback; // the connection is gone: the pool must not hand it out again
        });
        throw error;
      }
    } finally {
      release(broken);
    }
  }

  listen(listener: () => void): () => void {
    return this.#wake.add(listener);
  }

  async close(): Promise<void> {
    await this.#wake.close();
    await this.pool.end();
  }
}

/**
 * A client of the pool, heard from the moment it is handed out until it is released. A connection
 * can fail while none of its queries is in flight (a server restart, or an administrator's
 * pg_terminate_backend landing in the same packet as the reply to the last query, or to the
 * connection's start-up): pg then emits 'error' on the client, and the pool listens only to its
 * idle clients, so unheard that would end the process. So the listener is attached in the pool's
 * callback (`await pool.connect()` would leave a turn without one), and the failure is kept: the
 * client's next query fails (not queryable), and `release` hands the client back broken, so the
 * pool discards it.
 */
function checkout(pool: pg.Pool): Promise<{ client: pg.PoolClient; release(error?: Error): void }> {
  return new Promise((resolve, reject) => {
    pool.connect((error, client) => {
      if (error || !client) return reject(error ?? new Error('the pool handed out no client'));
      let failed: Error | undefined;
      const onError = (failure: Error) => {
        failed ??= failure;
      };
      client.on('error', onError);
      resolve({
        client,
        release: (broken) => {
          // The pool attaches its own listener as the client is released: none is missed.
          client.off('error', onError);
          client.release(broken ?? failed);
        },
      });
    });
  });
}

/**
 * Tables named like ours and no record of our migrations: another application's. Refused before
 * anything is written, as the SQLite store refuses a file that is not a Phaseline database.
 */
async function refuseForeignTables(client: pg.PoolClient, url: string): Promise<void> {
  const { rows } = await client.query<{ migrated: boolean; taken: string[] }>(
    `SELECT to_regclass($1) IS NOT NULL AS migrated,
            array_remove(ARRAY[CASE WHEN to_regclass('jobs') IS NOT NULL THEN 'jobs' END,
                               CASE WHEN to_regclass('job_events') IS NOT NULL THEN 'job_events' END,
                               CASE WHEN to_regclass('schedules') IS NOT NULL THEN 'schedules' END], NULL) AS taken`,
    [`"${MIGRATIONS.migrationsSchema}"."${MIGRATIONS.migrationsTable}"`],
  );
  const { migrated, taken } = rows[0]!;
  if (!migrated && taken.length > 0) {
    throw new NotAPhaselineDatabaseError(redactUrl(url), `it has tables ${taken.join(', ')} and no Phaseline migrations`);
  }
}

const MAX_TRANSACTION_ATTEMPTS = 5;

/** deadlock_detected and serialization_failure: the server rolled the transaction back, and it may run again. */
function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** A light transaction's statement failed: the store runs the script again, strict. */
class RunStrict extends Error {}

/**
 * Drive a script: await each promise it yields and pass the value (or the rejection) back in. In
 * a light transaction a failed statement ends the script at once, its `catch` blocks skipped (the
 * transaction is aborted, and a script that went on would report refusals that never were).
 */
async function drive<T>(script: Script<T>, ops: PgOps | null): Promise<T> {
  let step = script.next();
  while (!step.done) {
    let value: unknown;
    try {
      value = await step.value;
    } catch (error) {
      if (ops?.retriesStrict) {
        script.return(undefined as T);
        throw new RunStrict();
      }
      step = script.throw(driverError(error));
      continue;
    }
    step = script.next(value);
  }
  return step.value;
}

/**
 * The server's own error (its SQLSTATE in `code`, as SQLite's errors carry theirs) rather than
 * Drizzle's wrapper, whose message holds the statement's parameters: a job's data in every log line.
 */
function driverError(error: unknown): unknown {
  return error instanceof DrizzleQueryError && error.cause instanceof Error ? error.cause : error;
}

/** migrations/postgres of Phaseline's own package (from src/db and dist/src/db alike), never the host app's. */
function findMigrations(url: string): string {
  const root = packageRoot(import.meta.url);
  const folder = root ? join(root.dir, 'migrations', 'postgres') : null;
  if (!folder || !existsSync(join(folder, 'meta', '_journal.json'))) throw new StoreUnavailableError(redactUrl(url), 'no-migrations');
  return folder;
}

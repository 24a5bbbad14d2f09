/**
 * The SQLite store: the statements of src/db/statements.ts behind the {@link Store} boundary.
 *
 * Synchronous throughout. Every operation runs its statement and returns without yielding, so a
 * transaction script runs to its end inside better-sqlite3's synchronous `transaction()`, as the
 * engine's code did before it was written as scripts.
 *
 * {@link SqliteStore.listen} wakes workers when another process commits to the same file
 * (src/db/sqlite-wake.ts).
 */
import { and, asc, count, eq, inArray, isNull, lt, lte, max, min, ne, notInArray } from 'drizzle-orm';
import type Database from 'better-sqlite3';
import { countWhere, sortCounts, listOrder, listQueries, listWhere, mergeNewest, upgradeColumns } from './columns.ts';
import type { CountFilter, StateCount } from '../engine/types.ts';
import type { CompiledRead } from './compile.ts';
import { silentLogger, type Logger } from '../logger.ts';
import type { OpenDatabase } from './open.ts';
import { jobs, schedules, type JobEventRow, type JobRow, type ScheduleRow } from './schema.ts';
import { commitFile, FileWake } from './sqlite-wake.ts';
import { prepareLimitStatements, type LimitStatements } from './sqlite-limits.ts';
import { compileClaimable, compileDueForDestruction, prepareStatements, type Statements } from './statements.ts';
import {
  runToEnd,
  type DestructionRow, type JobHead, type ScheduleChange, type JobQuery, type LeaseRow, type Script, type SettledStates, type StoreTx, type SyncStore, type TxMode,
  type SlotChange, type SlotFields, type TypeSlot,
} from './store.ts';

export class SqliteStore implements SyncStore, StoreTx {
  readonly synchronous = true;
  readonly database: OpenDatabase;
  readonly #stmts: Statements;
  readonly #limits: LimitStatements;
  readonly #claimByTypes = new Map<string, CompiledRead<JobRow>>();
  readonly #dueBySettled = new Map<string, CompiledRead<DestructionRow>>();
  /**
   * One better-sqlite3 transaction function for all calls (building one per call costs about
   * 9 µs): BEGIN IMMEDIATE or DEFERRED when outermost, a savepoint when nested.
   */
  readonly #transaction: ReturnType<Database.Database['transaction']>;
  /** Watches the file commits write, from the first {@link listen} on; null in memory. */
  #wake: FileWake | null | undefined;

  readonly #logger: Logger;

  constructor(database: OpenDatabase, options: { logger?: Logger } = {}) {
    this.database = database;
    this.#logger = options.logger ?? silentLogger;
    this.#stmts = prepareStatements(database);
    this.#limits = prepareLimitStatements(database);
    this.#transaction = database.sqlite.transaction((script: Script<unknown>) => runToEnd(script));
  }

  get file(): string | null {
    const { file } = this.database;
    return file === ':memory:' || file === '' ? null : file;
  }

  run<T>(mode: TxMode, script: (tx: StoreTx) => Script<T>): T {
    // A read inside an open transaction is part of it; one statement is atomic by itself.
    if (mode === 'autocommit' || (mode === 'read' && this.database.sqlite.inTransaction)) return runToEnd(script(this));
    const run = mode === 'write' ? this.#transaction.immediate : this.#transaction.deferred;
    return run(script(this)) as T;
  }

  /**
   * Call `listener` after commits to this database, coalesced: another process's enqueue among
   * them, and this connection's own commits too (harmless: the runner claims only when idle, and an
   * empty claim writes nothing). Never for a database in memory.
   */
  listen(listener: () => void): () => void {
    if (this.#wake === undefined) {
      const file = this.database.sqlite.open ? commitFile(this.database.sqlite) : null;
      this.#wake = file === null ? null : new FileWake(file, this.#logger);
    }
    return this.#wake?.add(listener) ?? (() => {});
  }

  close(): void {
    this.#wake?.close();
    this.database.sqlite.close();
  }

  *readHead(id: number): Generator<never, JobHead | undefined> {
    return this.#stmts.selectHead.get({ id });
  }

  *readRow(id: number): Generator<never, JobRow | undefined> {
    return this.#stmts.selectJob.get({ id });
  }

  *findByIdempotencyKey(type: string, key: string): Generator<never, JobRow | undefined> {
    return this.#stmts.selectByIdempotencyKey.get({ type, key });
  }

  *lockHeads(): Generator<never, void> {
    // Each head is one compiled statement in process: nothing to gain.
  }

  *lockIdempotencyKeys(): Generator<never, void> {
    // One writer at a time already (BEGIN IMMEDIATE).
  }

  *insertJobs(rows: readonly JobRow[]): Generator<never, number[]> {
    if (rows.length === 1) return [Number(this.#stmts.insertJob.run(rows[0]!).lastInsertRowid)];
    // Many rows per statement. Their ids by arithmetic on the last one, which is exact here: the id
    // is an AUTOINCREMENT rowid, so each row of one INSERT gets one more than the largest before it
    // (SQLITE_FULL rather than a reused or random id), none is given explicitly, and one writer at
    // a time (BEGIN IMMEDIATE). `RETURNING id` would not do: SQLite returns those rows in no
    // defined order, so they could not be matched with the rows sent.
    const ids = new Array<number>(rows.length);
    this.#stmts.insertJobs(rows, (result, from, count) => {
      if (result.changes !== count) throw new Error(`an insert of ${count} jobs wrote ${result.changes}`);
      const last = Number(result.lastInsertRowid);
      for (let i = 0; i < count; i++) ids[from + i] = last - count + 1 + i;
    });
    return ids;
  }

  *appendEvents(events: readonly JobEventRow[]): Generator<never, void> {
    if (events.length === 1) this.#stmts.insertEvent.run(events[0]!);
    else this.#stmts.insertEvents(events);
  }

  *writeTransition(row: JobRow, before: JobRow, event: JobEventRow): Generator<never, boolean> {
    if (this.#stmts.updateJob.run(row, before).changes !== 1) return false;
    this.#stmts.insertEvent.run(event);
    return true;
  }

  *writeUpgrade(row: JobRow, before: JobRow, event: JobEventRow): Generator<never, boolean> {
    const { changes } = this.database.db
      .update(jobs)
      .set(upgradeColumns(row))
      .where(and(eq(jobs.id, row.id), eq(jobs.version, before.version), eq(jobs.lifecycleVersion, before.lifecycleVersion)))
      .run();
    if (changes !== 1) return false;
    this.#stmts.insertEvent.run(event);
    return true;
  }

  *unfinishedOf(lifecycle: string, version: number): Generator<never, number[]> {
    return this.database.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.lifecycle, lifecycle), ne(jobs.lifecycleVersion, version), isNull(jobs.endedAt)))
      .orderBy(asc(jobs.id))
      .all()
      .map((r) => r.id);
  }

  *claimable(now: number, limit: number, types?: readonly string[]): Generator<never, JobRow[]> {
    if (!types) return this.#stmts.selectClaimable.all({ now, limit });
    const key = types.join('\u0000');
    let stmt = this.#claimByTypes.get(key);
    if (!stmt) this.#claimByTypes.set(key, (stmt = compileClaimable(this.database, types)));
    return stmt.all({ now, limit });
  }

  *renewLease(id: number, leaseId: string, expiresAt: number): Generator<never, boolean> {
    return this.#stmts.renewLease.run({ id, leaseId, expiresAt }).changes === 1;
  }

  *runningLeases(): Generator<never, LeaseRow[]> {
    return this.#stmts.selectRunningLeases.all({});
  }

  *dueForDestruction(now: number, limit: number, settled: readonly SettledStates[]): Generator<never, DestructionRow[]> {
    const key = JSON.stringify(settled);
    let stmt = this.#dueBySettled.get(key);
    if (!stmt) this.#dueBySettled.set(key, (stmt = compileDueForDestruction(this.database, settled)));
    return stmt.all({ now, limit });
  }

  *endedBefore(before: number, exceptLifecycles: readonly string[], limit: number): Generator<never, number[]> {
    return this.database.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(lt(jobs.endedAt, before), notInArray(jobs.lifecycle, [...exceptLifecycles])))
      .limit(limit)
      .all()
      .map((r) => r.id);
  }

  *list(query: JobQuery): Generator<never, JobRow[]> {
    const pages = listQueries(query).map((q) => {
      const select = this.database.db.select().from(jobs).where(listWhere(jobs, q)).orderBy(...listOrder(jobs, q));
      const limit = q.last ?? q.limit;
      return limit !== undefined ? select.limit(limit).all() : select.all();
    });
    return mergeNewest(pages, query.limit);
  }

  /**
   * What SQLite's planner does for a listing (EXPLAIN QUERY PLAN, one line per step, one group per
   * query it takes): for the bench and the tests that show each filter walks an index.
   */
  explainList(query: JobQuery): string[][] {
    return listQueries(query).map((q) => {
      const select = this.database.db.select().from(jobs).where(listWhere(jobs, q)).orderBy(...listOrder(jobs, q));
      const limit = q.last ?? q.limit;
      return this.#explain((limit !== undefined ? select.limit(limit) : select).toSQL());
    });
  }

  /** What SQLite's planner does for a count (see {@link explainList}). */
  explainCount(filter: Readonly<CountFilter>): string[] {
    return this.#explain(this.#countQuery(filter).toSQL());
  }

  #explain({ sql, params }: { sql: string; params: unknown[] }): string[] {
    const rows = this.database.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>;
    return rows.map((row) => row.detail);
  }

  #countQuery(filter: Readonly<CountFilter>) {
    return this.database.db
      .select({ lifecycle: jobs.lifecycle, state: jobs.state, count: count() })
      .from(jobs)
      .where(countWhere(jobs, filter))
      .groupBy(jobs.lifecycle, jobs.state)
      .orderBy(jobs.lifecycle, jobs.state);
  }

  *countByState(filter: Readonly<CountFilter>): Generator<never, StateCount[]> {
        return this.database.db.select({ lifecycle: jobs.lifecycle, state: jobs.state, count: count() })
      .from(jobs)
      .where(countWhere(jobs, filter))
      .groupBy(jobs.lifecycle, jobs.state)
      .orderBy(jobs.lifecycle, jobs.state).all();
  }

  *jobsAfter(afterId: number, limit: number): Generator<never, JobRow[]> {
    return this.#stmts.selectJobsAfter.all({ after: afterId, limit });
  }

  *idRange(): Generator<never, { min: number; max: number } | null> {
    const range = this.database.db.select({ min: min(jobs.id), max: max(jobs.id) }).from(jobs).get();
    return range?.min == null || range.max == null ? null : { min: range.min, max: range.max };
  }

  *history(id: number): Generator<never, JobEventRow[]> {
    return this.#stmts.selectEvents.all({ id });
  }

  *historyBetween(fromId: number, toId: number): Generator<never, JobEventRow[]> {
    return this.#stmts.selectEventsBetween.all({ from: fromId, to: toId });
  }

  *insertSchedule(row: ScheduleRow): Generator<never, boolean> {
    return this.database.db.insert(schedules).values(row).onConflictDoNothing().run().changes === 1;
  }

  *readSchedule(name: string): Generator<never, ScheduleRow | undefined> {
    return this.database.db.select().from(schedules).where(eq(schedules.name, name)).get();
  }

  *listSchedules(): Generator<never, ScheduleRow[]> {
    return this.database.db.select().from(schedules).orderBy(asc(schedules.name)).all();
  }

  *dueSchedules(now: number, limit: number): Generator<never, ScheduleRow[]> {
    return this.database.db
      .select()
      .from(schedules)
      .where(and(eq(schedules.paused, false), lte(schedules.nextAt, now)))
      .orderBy(asc(schedules.nextAt))
      .limit(limit)
      .all();
  }

  *updateSchedule(name: string, change: ScheduleChange, expectNextAt?: number): Generator<never, boolean> {
    const where = expectNextAt === undefined ? eq(schedules.name, name) : and(eq(schedules.name, name), eq(schedules.nextAt, expectNextAt));
    return this.database.db.update(schedules).set(change).where(where).run().changes === 1;
  }

  *deleteSchedule(name: string): Generator<never, boolean> {
    return this.database.db.delete(schedules).where(eq(schedules.name, name)).run().changes === 1;
  }

  *savepoint<T>(script: Script<T>): Generator<never, T> {
    // Inside an open transaction, better-sqlite3 makes a nested transaction function a savepoint;
    // outside one it would quietly open a transaction of its own instead.
    if (!this.database.sqlite.inTransaction) throw new Error('savepoint() outside a transaction');
    return this.#transaction(script) as T;
  }

  *deleteJobs(ids: readonly number[]): Generator<never, number> {
    if (ids.length === 0) return 0;
    // The foreign key's ON DELETE CASCADE takes the history with each job.
    return this.database.db.delete(jobs).where(inArray(jobs.id, [...ids])).run().changes;
  }

  // Limits: one writer at a time (BEGIN IMMEDIATE), so reading the counters is locking them.

  *claimableOfType(type: string, now: number, limit: number): Generator<never, JobRow[]> {
    return this.#limits.claimableOfType(type, now, limit);
  }

  *claimableHeads(type: string, now: number, keyLimit: number, limit: number): Generator<never, JobRow[]> {
    return this.#limits.claimableHeads(type, now, keyLimit, limit);
  }

  *hasKeyHeads(types: readonly string[]): Generator<never, boolean> {
    return this.#limits.hasKeyHeads(types);
  }

  *lockTypeSlots(types: readonly string[]): Generator<never, TypeSlot[]> {
    return this.#limits.lockTypeSlots(types);
  }

  *writeWindow(type: string, windowStart: number, windowCount: number): Generator<never, void> {
    this.#limits.writeWindow(type, windowStart, windowCount);
  }

  *applySlotChanges(changes: readonly SlotChange[]): Generator<never, void> {
    this.#limits.applySlotChanges(changes);
  }

  *slotFieldsOf(ids: readonly number[]): Generator<never, SlotFields[]> {
    return this.#limits.slotFieldsOf(ids);
  }
}

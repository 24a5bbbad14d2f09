/**
 * The store boundary: everything the engine asks of a database, and nothing about how.
 *
 * The engine writes each multi-step operation once, as a transaction script: a generator that
 * calls the operations of a {@link StoreTx} with `yield*` (`const head = yield* tx.readHead(id)`).
 * Each operation is itself a generator. A synchronous store (SQLite) does its work and returns
 * without yielding, so a whole script runs to its end in one `next()` call, inside the driver's
 * synchronous transaction: no promise, no microtask. An asynchronous store (PostgreSQL) yields the
 * promise of each query; its {@link Store.run} awaits it and passes the value back in. One script,
 * either kind of store.
 */
import type { CountFilter, ListFilter, StateCount } from '../engine/types.ts';
import type { JobEventRow, JobRow, ScheduleRow } from './schema.ts';

/** One store operation: a generator that may yield promises (asynchronous stores) and returns `T`. */
export type Op<T> = Generator<PromiseLike<unknown>, T, unknown>;
/** A transaction script: store operations composed with `yield*`. */
export type Script<T> = Op<T>;

/**
 * What a transition reads of the row before it: identity, version, timestamps and lease. Not the
 * snapshot (a live one is usually cached) nor the JSON columns (the new row derives them from the
 * snapshot), so nothing is parsed on the hot path.
 */
export type JobHead = Pick<
  JobRow,
  | 'id' | 'lifecycle' | 'lifecycleVersion' | 'type' | 'owner' | 'runId' | 'idempotencyKey' | 'concurrencyKey' | 'traceparent' | 'state' | 'version'
  | 'stateVersion' | 'createdAt' | 'updatedAt' | 'startedAt' | 'endedAt' | 'leaseId' | 'leaseExpiresAt' | 'workerId'
>;

/** A running job's lease record, as the expired-lease scan reads it. */
export type LeaseRow = Pick<JobRow, 'id' | 'type' | 'attempt' | 'leaseId' | 'leaseExpiresAt' | 'cancelRequested'>;

/** A job whose destruction instant has come. */
export type DestructionRow = Pick<JobRow, 'id' | 'lifecycle' | 'lifecycleVersion' | 'state' | 'endedAt' | 'cancelRequested'>;

/** Top-level states of one lifecycle that destruction has already settled (UWS ARCHIVED). */
export interface SettledStates {
  lifecycle: string;
  states: readonly string[];
}

/** A limited job type's counters, as a claim reads them (locked until its commit where writers run at once). */
export interface TypeSlot {
  type: string;
  running: number;
  windowStart: number;
  windowCount: number;
}

/**
 * Changes to the limits' counters, summed per type and key: `delta` running jobs more (or fewer),
 * and for a key, its head looked up again. `key` '' is the type's own row (kept only for limited types).
 */
export interface SlotChange {
  type: string;
  key: string;
  delta: number;
}

/** What a deletion takes away from the counters. */
export type SlotFields = Pick<JobRow, 'type' | 'concurrencyKey' | 'running' | 'claimable'>;

/** What a schedule's update may change (its name never). */
export type ScheduleChange = Partial<Omit<ScheduleRow, 'name' | 'createdAt'>>;

/** The filter of a listing, as the facade takes it (`last` takes the newest by creation, newest first). */
export type JobQuery = Readonly<ListFilter>;

/**
 * `write`: one write transaction (a nested one is a savepoint: a refused step undoes only itself).
 * `read`: one read transaction, so several reads see one moment while writers go on.
 * `autocommit`: no transaction of its own, each statement by itself (one statement, or reads that
 *   need not agree; inside an open transaction, part of it).
 */
export type TxMode = 'write' | 'read' | 'autocommit';

/** The operations a transaction script may use. */
export interface StoreTx {
  readHead(id: number): Op<JobHead | undefined>;
  readRow(id: number): Op<JobRow | undefined>;
  /**
   * Before a batch that writes these jobs: read and lock their heads together, in id order, so
   * that each `readHead` of them after it is answered without a query. Nothing where one query
   * per job costs no round trip (SQLite).
   */
  lockHeads(ids: readonly number[]): Op<void>;
  /** The job of this type created with this idempotency key, if any. */
  findByIdempotencyKey(type: string, key: string): Op<JobRow | undefined>;
  /**
   * Before a batch creates jobs with these keys: make concurrent creators of any of them wait
   * for one another, the keys taken in one order for everyone, so that two batches with the same
   * keys in different orders wait instead of deadlocking. Nothing where writers take turns (SQLite).
   */
  lockIdempotencyKeys(keys: ReadonlyArray<{ type: string; key: string }>): Op<void>;
  /**
   * Insert new jobs' rows (their `id`s are ignored) and return the ids they got, in order: one
   * statement for many rows where the driver gains by it (a server's round trips).
   */
  insertJobs(rows: readonly JobRow[]): Op<number[]>;
  appendEvents(events: readonly JobEventRow[]): Op<void>;
  /**
   * Write `row` over `before` (the row at the version `row` follows) and append its event, guarded
   * by the version: false, and nothing written, when the stored row is no longer at `before`'s.
   */
  writeTransition(row: JobRow, before: JobRow, event: JobEventRow): Op<boolean>;
  /**
   * Write an upgrade: `row`, at another lifecycle version, over `before`, and its event; guarded
   * like {@link writeTransition} by the version (and by the lifecycle version `before` has).
   */
  writeUpgrade(row: JobRow, before: JobRow, event: JobEventRow): Op<boolean>;
  /** Ids of the unfinished jobs of a lifecycle on any version but `version`, in id order. */
  unfinishedOf(lifecycle: string, version: number): Op<number[]>;
  /** Due claimable jobs, whole rows, in claim order (priority, then id), of the given types when given. */
  claimable(now: number, limit: number, types?: readonly string[]): Op<JobRow[]>;
  /**
   * A heartbeat, fenced by the lease id and only while the job runs. The stored expiry always moves
   * on, even when the holder's clock stood still, so that observers see a changed record.
   */
  renewLease(id: number, leaseId: string, expiresAt: number): Op<boolean>;
  /** Every running job's lease record. */
  runningLeases(): Op<LeaseRow[]>;
  /** Jobs whose destruction instant has come, except those in states destruction has settled. */
  dueForDestruction(now: number, limit: number, settled: readonly SettledStates[]): Op<DestructionRow[]>;
  /** Ids of jobs that ended before `before`, outside the given lifecycles. */
  endedBefore(before: number, exceptLifecycles: readonly string[], limit: number): Op<number[]>;
  list(query: JobQuery): Op<JobRow[]>;
  /** How many jobs per lifecycle and top-level state, of those the filter takes (none: no row). */
  countByState(filter: Readonly<CountFilter>): Op<StateCount[]>;
  /** Up to `limit` jobs with ids above `afterId`, in id order. */
  jobsAfter(afterId: number, limit: number): Op<JobRow[]>;
  idRange(): Op<{ min: number; max: number } | null>;
  history(id: number): Op<JobEventRow[]>;
  /** The events of jobs `fromId..toId`, by job then sequence. */
  historyBetween(fromId: number, toId: number): Op<JobEventRow[]>;
  /** Delete jobs and their history; returns how many jobs were deleted. */
  deleteJobs(ids: readonly number[]): Op<number>;
  /** Insert a schedule; false, and nothing written, when one of that name exists. */
  insertSchedule(row: ScheduleRow): Op<boolean>;
  readSchedule(name: string): Op<ScheduleRow | undefined>;
  /** Every schedule, by name. */
  listSchedules(): Op<ScheduleRow[]>;
  /** Unpaused schedules whose next slot has come (`next_at` ≤ now), earliest first. */
  dueSchedules(now: number, limit: number): Op<ScheduleRow[]>;
  /**
   * Change a schedule; with `expectNextAt`, only while its `next_at` is still that value (another
   * scheduler that handled the slot first wins). False when nothing was written.
   */
  updateSchedule(name: string, change: ScheduleChange, expectNextAt?: number): Op<boolean>;
  /** False when there was none. */
  deleteSchedule(name: string): Op<boolean>;
  /** Run a script as a savepoint of the open transaction: when it throws, only its own writes are undone. */
  savepoint<T>(script: Script<T>): Op<T>;

  // Limits (src/engine/limits.ts): counters in `job_slots`, kept in the transaction that moves a job.

  /** Due claimable jobs of one type without a concurrency key, whole rows, in claim order (locked like {@link claimable}). */
  claimableOfType(type: string, now: number, limit: number): Op<JobRow[]>;
  /**
   * The heads (best queued jobs) of the type's keys that run fewer than `keyLimit` jobs and are
   * due, whole rows, in claim order (locked like {@link claimable}): a saturated key's queued jobs
   * are never read, only its counter row.
   */
  claimableHeads(type: string, now: number, keyLimit: number, limit: number): Op<JobRow[]>;
  /** Whether any key of these types has a queued job. */
  hasKeyHeads(types: readonly string[]): Op<boolean>;
  /**
   * The counters of limited types, locked until the commit (claims of those types take turns on
   * a server); a type without a row yet gets one, its running jobs counted once.
   */
  lockTypeSlots(types: readonly string[]): Op<TypeSlot[]>;
  /** A limited type's rate window after a claim. */
  writeWindow(type: string, windowStart: number, windowCount: number): Op<void>;
  /** Apply summed changes (in the given order): type rows by their delta, key rows by their delta and their head looked up again. */
  applySlotChanges(changes: readonly SlotChange[]): Op<void>;
  /** What the counters know of these jobs, before they are deleted. */
  slotFieldsOf(ids: readonly number[]): Op<SlotFields[]>;
}

export interface Store {
  /** True when {@link run} returns its result itself, never a promise (SQLite). */
  readonly synchronous: boolean;
  /** A file another thread or process can open to read the same data, or null (in memory, or a server). */
  readonly file: string | null;
  /**
   * Call `listener` whenever another connection (another process, another host) may have made a
   * job claimable, until the returned function is called: PostgreSQL's LISTEN/NOTIFY
   * (src/db/pg-wake.ts), a watch on the file SQLite's commits write (src/db/sqlite-wake.ts).
   * Absent where only polling finds such work. A listener may also be called when nothing changed.
   */
  listen?(listener: () => void): () => void;
  /**
   * Run a script in a transaction of the given mode; its effects commit when it returns. A server
   * may abort a transaction to break a deadlock: an asynchronous store then rolls back and calls
   * `script` again for a fresh script, so whatever a script gathers on the side must be reset
   * where the script begins.
   */
  run<T>(mode: TxMode, script: (tx: StoreTx) => Script<T>): T | Promise<T>;
  close(): void | Promise<void>;
}

/** A store whose scripts run to their end inside {@link run}. */
export interface SyncStore extends Store {
  readonly synchronous: true;
  run<T>(mode: TxMode, script: (tx: StoreTx) => Script<T>): T;
  close(): void;
}

/** What an engine method returns on store `S`: the value itself on a synchronous store, else its promise. */
export type Out<S extends Store, T> = S extends SyncStore ? T : Promise<T>;

/** Run a script of a synchronous store's operations: they never yield, so one `next()` ends it. */
export function runToEnd<T>(script: Script<T>): T {
  const step = script.next();
  if (!step.done) throw new Error('a synchronous store operation yielded: it must return its value directly');
  return step.value;
}

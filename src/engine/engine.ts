/**
 * The one door for change. `send(jobId, event)` loads the job, applies its machine's pure
 * `transition()`, refuses what the machine does not accept (typed error, nothing written),
 * derives the row from the new snapshot, and writes row and history event in one synchronous
 * SQLite transaction guarded by the row's version.
 *
 * Everything here is synchronous, so several transitions can share one commit
 * ({@link Engine.transaction}); the public facade (src/phaseline.ts) puts promises around it.
 */
import { and, asc, desc, eq, gt, inArray, isNull, lt, max, min, notInArray, type SQL } from 'drizzle-orm';
import type Database from 'better-sqlite3';
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { firstSnapshot, machineEvent, nextSnapshot } from './transition.ts';
import type { JobContext, JobInput, Lifecycle } from '../../machines/common.ts';
import type { OpenDatabase } from '../db/open.ts';
import { jobs, type JobEventRow, type JobRow } from '../db/schema.ts';
import type { CompiledRead } from '../db/compile.ts';
import { compileClaimable, prepareStatements, type JobHead, type Statements } from '../db/statements.ts';
import {
  IllegalTransitionError, InvalidInputError, JobNotFoundError, LeaseLostError, StaleVersionError, WrongOwnerError,
} from '../errors.ts';
import { deriveRow, NO_LEASE, restoreSnapshot, type JobIdentity, type LeaseColumns } from './derive.ts';
import { LifecycleRegistry } from './lifecycles.ts';
import { assertCount, assertInstant, assertJson, assertText, validateEvent } from './validate.ts';
import type { Clock, ListFilter, SendOptions as PublicSendOptions } from './types.ts';

export type { Clock, ListFilter } from './types.ts';

/** The facade's send options, and what only the runner passes. */
export interface SendOptions extends PublicSendOptions {
  /**
   * Refuse with {@link LeaseLostError} unless this lease still holds the job; with `leaseExpiresAt`,
   * unless its record is still the one the caller saw (a recovery must lose to a late heartbeat).
   */
  fence?: { leaseId: string; leaseExpiresAt?: number | null };
  /** The lease to record when the event enters a running state (a claim). */
  lease?: LeaseColumns;
}

export interface EngineOptions {
  lifecycles?: LifecycleRegistry;
  /** Injected for tests; stored instants never decrease even when it steps back. Default `Date.now`. */
  clock?: Clock;
  /**
   * Live snapshots kept in memory, so a transition need not parse the stored one (about 45 µs).
   * Default 1,000: enough for the jobs in flight and the most recent enqueues.
   */
  snapshotCacheSize?: number;
}

export interface CreateOptions {
  lifecycle: string;
  type: string;
  input: JobInput;
  owner?: string | null;
  runId?: string | null;
  /** A second create with the same type and key returns the first job instead. */
  idempotencyKey?: string | null;
  /** Send the lifecycle's start events (UWS RUN, RIME ADMIT, Qiskit QUEUE) in the same transaction. Default true. */
  start?: boolean;
  actor?: string | null;
}


/** A committed transition, as observers see it. */
export interface TransitionRecord {
  job: JobRow;
  event: JobEventRow;
}


/** The payload of a job's first event: everything its creation fixed, so replay can rebuild all of it. */
export interface CreatePayload extends Omit<JobIdentity, 'id'> {
  input: JobInput;
}

/** A job as the engine last wrote it: its live snapshot and its row, at one version. */
interface LiveJob {
  version: number;
  snapshot: AnyMachineSnapshot;
  row: JobRow;
}

export class Engine {
  readonly lifecycles: LifecycleRegistry;
  readonly clock: Clock;
  readonly #database: OpenDatabase;
  readonly #stmts: Statements;
  readonly #cache = new Map<number, LiveJob>();
  readonly #cacheSize: number;
  readonly #listeners = new Set<(record: TransitionRecord) => void>();
  readonly #deleteListeners = new Set<(ids: readonly number[]) => void>();
  /** Effects held until the outermost transaction commits: notifications and deletions. */
  #pending: Array<() => void> = [];
  /**
   * Live snapshots written by the open transaction, entered into the cache when it commits. Bounded
   * like the cache itself: a batch of 10,000 creations keeps only its last 1,000, as the cache would.
   */
  #pendingCache = new Map<number, LiveJob>();
  readonly #eventTypes = new WeakMap<Lifecycle, Set<string>>();
  readonly #claimByTypes = new Map<string, CompiledRead<JobRow>>();
  #depth = 0;
  /**
   * One better-sqlite3 transaction function for all calls (building one per call costs about
   * 9 µs): BEGIN IMMEDIATE when outermost, a savepoint when nested.
   */
  readonly #run: ReturnType<Database.Database['transaction']>;

  constructor(database: OpenDatabase, options: EngineOptions = {}) {
    this.#database = database;
    this.#stmts = prepareStatements(database);
    this.#run = database.sqlite.transaction((fn: () => unknown) => fn());
    this.lifecycles = options.lifecycles ?? new LifecycleRegistry();
    this.clock = options.clock ?? Date.now;
    this.#cacheSize = options.snapshotCacheSize ?? 1_000;
  }

  get database(): OpenDatabase {
    return this.#database;
  }

  /** Called after each committed transition, in commit order. */
  onTransition(listener: (record: TransitionRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Run `fn` in one immediate (write-locking) transaction; nested calls become savepoints.
   * Caches and observers see the work only once the outermost transaction has committed.
   */
  transaction<T>(fn: () => T): T {
    const outermost = this.#depth === 0;
    const mark = this.#pending.length;
    this.#depth++;
    try {
      const result = (outermost ? this.#run.immediate : this.#run)(fn) as T;
      if (outermost) this.#flush();
      return result;
    } catch (error) {
      // What this transaction (or savepoint) did was rolled back: so are its effects. The cache is
      // only a shortcut, so forgetting every pending entry is always safe.
      this.#pending.length = mark;
      this.#pendingCache.clear();
      throw error;
    } finally {
      this.#depth--;
    }
  }

  /**
   * Run `fn` in one read transaction (inside an open transaction: in that one), so that several
   * reads see the database at one moment while writers go on.
   */
  read<T>(fn: () => T): T {
    return this.#depth > 0 ? fn() : (this.#run.deferred(fn) as T);
  }

  #flush(): void {
    for (const [id, entry] of this.#pendingCache) putLatest(this.#cache, id, entry, this.#cacheSize);
    this.#pendingCache.clear();
    const pending = this.#pending;
    this.#pending = [];
    for (const effect of pending) effect();
  }

  /** Create a job: its CREATE event, then the lifecycle's start events, in one transaction. */
  create(options: CreateOptions): JobRow {
    const lifecycle = this.lifecycles.latest(options.lifecycle);
    validateInput(options.input);
    const input: JobInput = { ...options.input, params: options.input.params ?? null };
    if (typeof options.type !== 'string' || options.type.length === 0) throw new InvalidInputError('type', 'must be a non-empty string');
    for (const field of ['type', 'owner', 'runId', 'idempotencyKey'] as const) {
      const value = options[field];
      if (value != null) assertText(value, field);
    }
    return this.transaction(() => {
      if (options.idempotencyKey != null) {
        const existing = this.#stmts.selectByIdempotencyKey.get({ type: options.type, key: options.idempotencyKey });
        if (existing) return existing;
      }
      const at = this.clock();
      const identity: JobIdentity = {
        id: 0, // known once the row is inserted
        lifecycle: lifecycle.name,
        lifecycleVersion: lifecycle.version,
        type: options.type,
        owner: options.owner ?? null,
        runId: options.runId ?? null,
        idempotencyKey: options.idempotencyKey ?? null,
      };
      const { id: _id, ...fixed } = identity;
      const creation: CreatePayload = { ...fixed, input };
      // Fold the creation and the start events in memory, then write the row once with all its events.
      let snapshot = firstSnapshot(lifecycle.machine, input);
      let row = deriveRow(null, identity, snapshot, at, NO_LEASE);
      const steps = [{ row, snapshot, type: 'CREATE', payload: { ...creation } as Record<string, unknown>, stateBefore: null as string | null }];
      for (const type of options.start === false ? [] : (lifecycle.startEvents ?? [])) {
        const after = nextSnapshot(lifecycle.machine, snapshot, { type, at });
        if (after === snapshot) throw new IllegalTransitionError(0, lifecycle.name, describeState(snapshot), type, 'a start event');
        const next = deriveRow(row, identity, after, at, NO_LEASE);
        steps.push({ row: next, snapshot: after, type, payload: {}, stateBefore: row.state });
        row = next;
        snapshot = after;
      }
      const id = Number(this.#stmts.insertJob.run(row).lastInsertRowid);
      for (const step of steps) {
        step.row.id = id;
        const event = this.#appendEvent(step.row, step.type, at, step.payload, step.stateBefore, options.actor ?? null);
        this.#afterCommit(step.row, step === steps.at(-1) ? step.snapshot : null, event);
      }
      return row;
    });
  }

  /** Apply one event to one job. Throws a typed error and writes nothing when it is refused. */
  send(jobId: number, event: EventObject & Record<string, unknown>, options: SendOptions = {}): JobRow {
    validateEvent(event);
    return this.transaction(() => {
      const prev = this.#stmts.selectHead.get({ id: jobId });
      if (!prev) throw new JobNotFoundError(jobId);
      if (options.owner !== undefined && prev.owner !== options.owner) throw new WrongOwnerError(jobId, options.owner);
      if (options.expectVersion !== undefined && prev.version !== options.expectVersion) {
        throw new StaleVersionError(jobId, options.expectVersion, prev.version);
      }
      if (
        options.fence &&
        (prev.leaseId !== options.fence.leaseId ||
          (options.fence.leaseExpiresAt !== undefined && prev.leaseExpiresAt !== options.fence.leaseExpiresAt))
      ) {
        throw new LeaseLostError(jobId, options.fence.leaseId);
      }
      const lifecycle = this.lifecycles.get(prev.lifecycle, prev.lifecycleVersion);
      return this.#apply(prev, lifecycle, this.#liveOf(prev, lifecycle), event, options, options.actor ?? null);
    });
  }

  /** Transition, derive, write row and event: the body of every accepted event. */
  #apply(
    prev: JobHead,
    lifecycle: Lifecycle,
    live: { snapshot: AnyMachineSnapshot; row: JobRow },
    event: EventObject & Record<string, unknown>,
    options: Pick<SendOptions, 'lease'>,
    actor: string | null,
  ): JobRow {
    // Time never runs backwards along a job's history, whatever the wall clock does.
    const at = Math.max(this.clock(), prev.updatedAt);
    const { type } = event;
    // The event as stored: without type and instant (a loop: rest literals take V8's slow path here).
    const payload: Record<string, unknown> = {};
    for (const key in event) if (key !== 'type' && key !== 'at') payload[key] = event[key];
    const before = live.snapshot;
    const after = nextSnapshot(lifecycle.machine, before, machineEvent(type, at, payload));
    if (after === before) throw new IllegalTransitionError(prev.id, prev.lifecycle, describeState(before), type);
    const { current, total } = (after.context as JobContext).progress;
    // A report of current alone (or total alone) is checked against the figure it keeps.
    if (current !== null && total !== null && current > total) {
      throw new InvalidInputError('progress', `current ${current} would exceed total ${total}`);
    }
    // deriveRow keeps the lease only while the job is running.
    const row = deriveRow(prev, prev, after, at, options.lease ?? leaseOf(prev));
    const { changes } = this.#stmts.updateJob.run(row, live.row);
    if (changes !== 1) throw new StaleVersionError(prev.id, prev.version, prev.version + 1);
    const stored = this.#appendEvent(row, type, at, payload, prev.state, actor);
    this.#afterCommit(row, after, stored);
    return row;
  }

  /** Whether the job's machine would accept an event of this type now (no write). */
  accepts(jobId: number, type: string, known?: { lifecycle: string; lifecycleVersion: number }): boolean {
    // Most lifecycles never accept a given command (VALIDATED is Qiskit's): answer without reading.
    if (known && !this.#handles(this.lifecycles.get(known.lifecycle, known.lifecycleVersion), type)) return false;
    const prev = this.#stmts.selectHead.get({ id: jobId });
    if (!prev) throw new JobNotFoundError(jobId);
    const lifecycle = this.lifecycles.get(prev.lifecycle, prev.lifecycleVersion);
    const before = this.#liveOf(prev, lifecycle).snapshot;
    return nextSnapshot(lifecycle.machine, before, { type, at: prev.updatedAt }) !== before;
  }

  /**
   * Write a heartbeat: extend the lease of a running job, fenced by its lease id. Not an event:
   * leases are bookkeeping, so the history holds transitions only.
   */
  renewLease(jobId: number, leaseId: string, expiresAt: number): boolean {
    return this.#stmts.renewLease.run({ id: jobId, leaseId, expiresAt }).changes === 1;
  }

  get(jobId: number, options: { owner?: string | null } = {}): JobRow {
    const row = this.#stmts.selectJob.get({ id: jobId });
    if (!row) throw new JobNotFoundError(jobId);
    if (options.owner !== undefined && row.owner !== options.owner) throw new WrongOwnerError(jobId, options.owner);
    return row;
  }

  find(jobId: number): JobRow | undefined {
    return this.#stmts.selectJob.get({ id: jobId });
  }

  history(jobId: number): JobEventRow[] {
    return this.#stmts.selectEvents.all({ id: jobId });
  }

  /** Up to `limit` jobs with ids above `afterId`, in id order (for whole-database passes). */
  jobsAfter(afterId: number, limit: number): JobRow[] {
    return this.#stmts.selectJobsAfter.all({ after: afterId, limit });
  }

  /** The lowest and highest job ids, or null when there is no job. */
  idRange(): { min: number; max: number } | null {
    const range = this.#database.db.select({ min: min(jobs.id), max: max(jobs.id) }).from(jobs).get();
    return range?.min == null || range.max == null ? null : { min: range.min, max: range.max };
  }

  /** The events of jobs `fromId..toId`, by job then sequence. */
  historyBetween(fromId: number, toId: number): JobEventRow[] {
    return this.#stmts.selectEventsBetween.all({ from: fromId, to: toId });
  }

  list(filter: ListFilter = {}): JobRow[] {
    const where: SQL[] = [];
    if (filter.states?.length) where.push(inArray(jobs.state, filter.states));
    if (filter.after !== undefined) where.push(gt(jobs.createdAt, filter.after));
    if (filter.owner !== undefined) where.push(filter.owner === null ? isNull(jobs.owner) : eq(jobs.owner, filter.owner));
    if (filter.type !== undefined) where.push(eq(jobs.type, filter.type));
    if (filter.lifecycle !== undefined) where.push(eq(jobs.lifecycle, filter.lifecycle));
    const query = this.#database.db
      .select()
      .from(jobs)
      .where(and(...where))
      .orderBy(...(filter.last !== undefined ? [desc(jobs.createdAt), desc(jobs.id)] : [asc(jobs.createdAt), asc(jobs.id)]));
    const limit = filter.last ?? filter.limit;
    return limit !== undefined ? query.limit(limit).all() : query.all();
  }

  #handles(lifecycle: Lifecycle, type: string): boolean {
    let types = this.#eventTypes.get(lifecycle);
    if (!types) this.#eventTypes.set(lifecycle, (types = new Set(lifecycle.machine.root.events)));
    return types.has(type);
  }

  /** Claimable jobs that are due, in claim order, optionally of the given types only. */
  claimable(now: number, limit: number, types?: readonly string[]): JobRow[] {
    if (!types) return this.#stmts.selectClaimable.all({ now, limit });
    const key = types.join('\u0000');
    let stmt = this.#claimByTypes.get(key);
    if (!stmt) this.#claimByTypes.set(key, (stmt = compileClaimable(this.#database, types)));
    return stmt.all({ now, limit });
  }

  /** The ids of {@link claimable} jobs (for tools and tests). */
  claimableIds(now: number, limit: number, types?: readonly string[]): number[] {
    return this.claimable(now, limit, types).map((row) => row.id);
  }

  /**
   * CLAIM a job whose row {@link claimable} read in the same transaction: what `send(id, CLAIM)`
   * checks and writes, without reading the row a second time.
   */
  claim(row: JobRow, options: Pick<SendOptions, 'lease' | 'actor'>): JobRow {
    if (this.#depth === 0) throw new Error('claim() must run in the transaction that read the row');
    const lifecycle = this.lifecycles.get(row.lifecycle, row.lifecycleVersion);
    return this.#apply(row, lifecycle, this.#liveOf(row, lifecycle, row), { type: 'CLAIM' }, options, options.actor ?? null);
  }

  /**
   * The lease record of every running job. Whether a lease has run out is for the runner to judge
   * (src/runner/leases.ts): comparing its expiry with this process's clock would trust two clocks.
   */
  runningLeases(): Array<Pick<JobRow, 'id' | 'type' | 'attempt' | 'leaseId' | 'leaseExpiresAt' | 'cancelRequested'>> {
    return this.#stmts.selectRunningLeases.all({});
  }

  /** Jobs whose destruction instant has come and that are not archived yet. */
  dueForDestruction(now: number, limit: number): Array<Pick<JobRow, 'id' | 'lifecycle' | 'state' | 'endedAt' | 'cancelRequested'>> {
    return this.#stmts.selectDueForDestruction.all({ now, limit });
  }

  /** Finished jobs that ended before `before`, outside the given lifecycles. */
  endedBefore(before: number, exceptLifecycles: readonly string[], limit: number): number[] {
    return this.#database.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(lt(jobs.endedAt, before), notInArray(jobs.lifecycle, [...exceptLifecycles])))
      .limit(limit)
      .all()
      .map((r) => r.id);
  }

  /** Delete jobs and, through the foreign key, their history. */
  deleteJobs(ids: readonly number[]): number {
    if (ids.length === 0) return 0;
    return this.transaction(() => {
      const { changes } = this.#database.db.delete(jobs).where(inArray(jobs.id, [...ids])).run();
      this.#pending.push(() => {
        for (const id of ids) this.#cache.delete(id);
        for (const listener of this.#deleteListeners) {
          try {
            listener(ids);
          } catch (error) {
            console.error('phaseline: a delete listener threw', error);
          }
        }
      });
      return changes;
    });
  }

  /** Called after a committed deletion with the ids it removed (a running handler must stop; waiters must wake). */
  onDelete(listener: (ids: readonly number[]) => void): () => void {
    this.#deleteListeners.add(listener);
    return () => this.#deleteListeners.delete(listener);
  }

  /** The job's live snapshot and row at the head's version: from memory, else restored from the row. */
  #liveOf(head: JobHead, lifecycle: Lifecycle, read?: JobRow): { snapshot: AnyMachineSnapshot; row: JobRow } {
    // A job written earlier in the open transaction is what the row holds now, inside it.
    const cached = this.#pendingCache.get(head.id) ?? this.#cache.get(head.id);
    if (cached && cached.version === head.version) return cached;
    const row = read ?? this.#stmts.selectJob.get({ id: head.id })!;
    return { snapshot: restoreSnapshot(lifecycle.machine, row.snapshot, row), row };
  }

  #appendEvent(
    row: JobRow,
    type: string,
    at: number,
    payload: Record<string, unknown>,
    stateBefore: string | null,
    actor: string | null,
  ): JobEventRow {
    const event: JobEventRow = {
      jobId: row.id,
      seq: row.version,
      at,
      type,
      payload: Object.keys(payload).length > 0 ? payload : null,
      stateBefore,
      stateAfter: row.state,
      actor,
    };
    this.#stmts.insertEvent.run(event);
    return event;
  }

  /**
   * What a written transition leaves for after the commit: its live snapshot and row for the cache
   * (none for a step that a later one in the same transaction supersedes, a creation's start
   * events; at most the cache's size for a whole batch), and its notification, only when someone
   * observes transitions.
   */
  #afterCommit(row: JobRow, snapshot: AnyMachineSnapshot | null, event: JobEventRow): void {
    if (snapshot !== null) {
      putLatest(this.#pendingCache, row.id, { version: row.version, snapshot, row }, this.#cacheSize);
    }
    if (this.#listeners.size === 0) return;
    this.#pending.push(() => {
      for (const listener of this.#listeners) {
        try {
          listener({ job: row, event });
        } catch (error) {
          // An observer's failure must not undo or hide a committed transition.
          console.error('phaseline: a transition listener threw', error);
        }
      }
    });
  }
}

/** Put an entry last in a map kept in least-recently-written order, dropping the oldest past `size`. */
function putLatest<K, V>(map: Map<K, V>, key: K, value: V, size: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > size) map.delete(map.keys().next().value!);
}

function leaseOf(row: JobHead): LeaseColumns {
  return { leaseId: row.leaseId, leaseExpiresAt: row.leaseExpiresAt, workerId: row.workerId };
}

/** `E.killed`, `PROCESSING.running`, `QUEUED`: the full state path, for error messages. */
export function describeState(snapshot: AnyMachineSnapshot): string {
  const walk = (value: unknown): string =>
    typeof value === 'string'
      ? value
      : Object.entries(value as Record<string, unknown>)
          .map(([k, v]) => `${k}.${walk(v)}`)
          .join(',');
  return walk(snapshot.value);
}

function validateInput(input: JobInput): void {
  if (typeof input !== 'object' || input === null) throw new InvalidInputError('input', 'must be an object');
  assertJson(input.params ?? null, 'params');
  if (input.priority !== undefined && !Number.isSafeInteger(input.priority)) throw new InvalidInputError('priority', 'must be an integer');
  if (input.runAfter !== undefined) assertInstant(input.runAfter, 'runAfter');
  if (input.destruction !== undefined) assertInstant(input.destruction, 'destruction');
  if (input.quote !== undefined) assertInstant(input.quote, 'quote');
  if (input.executionDuration !== undefined) assertCount(input.executionDuration, 'executionDuration');
  if (input.message !== undefined && input.message !== null && typeof input.message !== 'string') {
    throw new InvalidInputError('message', 'must be a string');
  }
}


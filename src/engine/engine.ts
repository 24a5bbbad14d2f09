/**
 * The one door for change. `send(jobId, event)` loads the job, applies its machine's pure
 * `transition()`, refuses what the machine does not accept (typed error, nothing written),
 * derives the row from the new snapshot, and writes row and history event in one transaction
 * guarded by the row's version.
 *
 * Each operation is written once, as a transaction script (a generator over the store's
 * operations, src/db/store.ts) that the store runs in its own transaction: on the SQLite store
 * synchronously, and the public facade (src/phaseline.ts) puts promises around them; an
 * asynchronous store runs the same scripts and the engine's methods return promises ({@link Out}).
 * Batches share one commit through scripts of their own (`createMany`, `sendEachThenClaim`).
 *
 * The engine keeps what is not the database's: the machines, the row's derivation, the live
 * snapshot cache, and the notifications after each commit.
 */
import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import { describeState, machineEvent } from './transition.ts';
import { resolverFor, stepOf } from './compiled.ts';
import { buildTemplate, fillTemplate, foldCreation, type CreationTemplate } from './creation.ts';
import type { JobContext, JobInput, Lifecycle } from '../../machines/common.ts';
import type { JobEventRow, JobRow } from '../db/schema.ts';
import type {
  DestructionRow, JobHead, LeaseRow, Out, Script, SettledStates, SlotChange, Store, StoreTx, SyncStore,
} from '../db/store.ts';
import {
  IllegalTransitionError, InvalidInputError, isPhaselineError, JobNotFoundError, LeaseLostError, StaleVersionError, WrongOwnerError,
} from '../errors.ts';
import { deriveRow, NO_LEASE, restoreSnapshot, type JobIdentity, type LeaseColumns } from './derive.ts';
import { applyEvent, childrenOf, childSignal, dependentsOf, parentOf, parkingOf } from './parking.ts';
import { archivedStates, LifecycleRegistry } from './lifecycles.ts';
import { assertCount, assertInstant, assertJson, assertText, validateEvent } from './validate.ts';
import { describeDivergence } from '../replay/causes.ts';
import { resolverOf, UPGRADE, upgradeDifference } from '../replay/fold.ts';
import type { Divergence } from '../replay/types.ts';
import type { Clock, CountFilter, ListFilter, SendOptions as PublicSendOptions, StateCount } from './types.ts';
import { checkCountFilter, checkListFilter, splitsByState } from './listing.ts';
import { errorField, safeLog, silentLogger, type Logger } from '../logger.ts';
import { budgetOf, limitsType, NO_LIMITS, noteCreation, noteDeletion, noteTransition, sumChanges, type TypeLimits } from './limits.ts';

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
  /**
   * Fill a per-lifecycle template for a new job's snapshots instead of running XState (the same
   * snapshots, src/engine/creation.ts). Default true; false for tests that compare the two.
   */
  creationTemplates?: boolean;
  /**
   * Step jobs through each lifecycle's compiled transitions where it has them (src/engine/compiled.ts),
   * else XState's `transition()`. Default true; false runs every transition on XState (tests compare the two).
   */
  compiledLifecycles?: boolean;
  /** Where a throwing observer is reported. Default: nowhere. */
  logger?: Logger;
  /** The limits of each job type the claim obeys (src/engine/limits.ts); every process running a type should give the same. */
  limits?: (type: string) => TypeLimits | undefined;
}

export interface CreateOptions {
  lifecycle: string;
  type: string;
  input: JobInput;
  owner?: string | null;
  runId?: string | null;
  /** A second create with the same type and key returns the first job instead. */
  idempotencyKey?: string | null;
  /** Jobs of one type with one key run at most the type's `keyConcurrency` at once. */
  concurrencyKey?: string | null;
  /** The W3C traceparent the job's attempts are traced under. */
  traceparent?: string | null;
  /** Send the lifecycle's start events (UWS RUN, RIME ADMIT, Qiskit QUEUE) in the same transaction. Default true. */
  start?: boolean;
  actor?: string | null;
  /**
   * Jobs that must end (whatever their outcome) before this one is claimable: those unfinished
   * now are recorded by a BLOCK event after its creation, and each gets a DEPENDENT event, in the
   * same transaction. An unknown id: JOB_NOT_FOUND, nothing written.
   */
  dependsOn?: readonly number[];
}

/** A committed transition, as observers see it. */
export interface TransitionRecord {
  job: JobRow;
  event: JobEventRow;
}

/** The payload of a job's first event: everything its creation fixed, so replay can rebuild all of it. */
export interface CreatePayload extends Omit<JobIdentity, 'id' | 'concurrencyKey' | 'traceparent'> {
  traceparent?: string;
  /** Present only when the job has one. */
  concurrencyKey?: string;
  input: JobInput;
}

/** The lease a claim records, and the actor it writes in the history. */
export interface ClaimLease extends LeaseColumns {
  actor: string;
}

/** A send held for a batch ({@link Engine.sendEachThenClaim}). */
export interface QueuedSend {
  jobId: number;
  event: EventObject & Record<string, unknown>;
  options: SendOptions;
}

/** One job's upgrade ({@link Engine.upgrade}). */
export interface UpgradeResult {
  jobId: number;
  /** The version the job was on. */
  from: number;
  to: number;
  /** Its history folds identically under `to`: it moved (or, in a dry run, would). */
  compatible: boolean;
  /** The UPGRADE was written. */
  written: boolean;
  /** Why it stays, when it does. */
  reason: string | null;
  /** The first difference under `to` (or under its own version), when that is why. */
  divergence: Divergence | null;
}

/** A job as the engine last wrote it: its live snapshot and its row, at one version. */
interface LiveJob {
  version: number;
  snapshot: AnyMachineSnapshot;
  row: JobRow;
}

/**
 * What one transaction leaves for after its commit: the live snapshots it wrote, entered into the
 * cache then (bounded like the cache: a batch of 10,000 creations keeps only its last 1,000), and
 * its effects (notifications, deletions). Dropped when it rolls back.
 */
/** A new job folded in memory, before it has an id: one step per event, the last one's row to be written. */
interface Creation {
  at: number;
  actor: string | null;
  /** The dependencies it waits for (each gets a DEPENDENT once the job has its id). */
  blockedBy: number[];
  steps: Array<{ row: JobRow; snapshot: AnyMachineSnapshot; type: string; payload: Record<string, unknown>; stateBefore: string | null }>;
}

interface Unit {
  cache: Map<number, LiveJob>;
  effects: Array<() => void>;
  /** Counter changes not yet written (src/engine/limits.ts): written before a claim and at the script's end. */
  slots: SlotChange[];
}

export class Engine<S extends Store = SyncStore> {
  readonly lifecycles: LifecycleRegistry;
  readonly clock: Clock;
  readonly #store: S;
  readonly #cache = new Map<number, LiveJob>();
  readonly #cacheSize: number;
  readonly #listeners = new Set<(record: TransitionRecord) => void>();
  readonly #deleteListeners = new Set<(ids: readonly number[]) => void>();
  readonly #eventTypes = new WeakMap<Lifecycle, Set<string>>();
  readonly #settled = new WeakMap<Lifecycle, readonly string[]>();
  /** Creation templates by lifecycle and start flag, built on first use; null: the lifecycle folds. */
  readonly #templates = new WeakMap<Lifecycle, { started?: CreationTemplate | null; created?: CreationTemplate | null }>();
  readonly #useTemplates: boolean;
  /** Whether transitions use the compiled lifecycles ({@link EngineOptions.compiledLifecycles}); replay follows it. */
  readonly compiledLifecycles: boolean;
  readonly logger: Logger;
  /** The unit of the open {@link transaction} (synchronous stores only): nested writes join it as savepoints. */
  #open: Unit | null = null;
  /** Limits of the job types this process knows (src/engine/limits.ts). */
  readonly #limitsOf: (type: string) => TypeLimits | undefined;

  constructor(store: S, options: EngineOptions = {}) {
    this.#store = store;
    this.lifecycles = options.lifecycles ?? new LifecycleRegistry();
    this.clock = options.clock ?? Date.now;
    this.#cacheSize = options.snapshotCacheSize ?? 1_000;
    this.#useTemplates = options.creationTemplates ?? true;
    this.compiledLifecycles = options.compiledLifecycles ?? true;
    this.logger = options.logger ?? silentLogger;
    this.#limitsOf = options.limits ?? (() => undefined);
  }

  get store(): S {
    return this.#store;
  }

  /** Called after each committed transition, in commit order. */
  onTransition(listener: (record: TransitionRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called after a committed deletion with the ids it removed (a running handler must stop; waiters must wake). */
  onDelete(listener: (ids: readonly number[]) => void): () => void {
    this.#deleteListeners.add(listener);
    return () => this.#deleteListeners.delete(listener);
  }

  /**
   * Run `fn` in one immediate (write-locking) transaction; nested calls become savepoints.
   * Caches and observers see the work only once the outermost transaction has committed.
   * Synchronous stores only (`fn` calls the engine's methods, which return their values there), for
   * tests and tools; the facade and the runner use scripts that batch (createMany, sendEachThenClaim).
   */
  transaction<T>(this: Engine<SyncStore>, fn: () => T): T {
    if (this.#open !== null) return this.#write(function* () {
      return fn();
    });
    const unit: Unit = { cache: new Map(), effects: [], slots: [] };
    this.#open = unit;
    let result: T;
    const engine = this;
    try {
      result = this.#store.run('write', function* (tx) {
        const value = fn();
        yield* engine.#writeSlots(tx, unit);
        return value;
      });
    } finally {
      this.#open = null;
    }
    this.#commit(unit);
    return result;
  }

  /** Run a write script; its unit commits with the outermost transaction. */
  #write<T>(script: (tx: StoreTx, unit: Unit) => Script<T>): Out<S, T> {
    const open = this.#open;
    if (open !== null) {
      const mark = open.effects.length;
      const slotMark = open.slots.length;
      try {
        return this.#store.run('write', (tx) => script(tx, open)) as Out<S, T>;
      } catch (error) {
        // The savepoint was rolled back: so are its effects. The cache is only a shortcut, so
        // forgetting every pending entry is always safe.
        open.effects.length = mark;
        open.slots.length = slotMark;
        open.cache.clear();
        throw error;
      }
    }
    const unit: Unit = { cache: new Map(), effects: [], slots: [] };
    const engine = this;
    const result = this.#store.run('write', function* (tx) {
      // A store that runs the script again (after a deadlock) starts it from an empty unit.
      unit.cache.clear();
      unit.effects.length = 0;
      unit.slots.length = 0;
      const value = yield* script(tx, unit);
      yield* engine.#writeSlots(tx, unit);
      return value;
    });
    // Asked of the store, not of the value: a driver's thenable must not pass for a result.
    if (!this.#store.synchronous) {
      return Promise.resolve(result).then((value: T) => {
        this.#commit(unit);
        return value;
      }) as Out<S, T>;
    }
    this.#commit(unit);
    return result as Out<S, T>;
  }

  /** Run a script that only reads, each statement by itself. */
  #autocommit<T>(script: (tx: StoreTx) => Script<T>): Out<S, T> {
    return this.#store.run('autocommit', script) as Out<S, T>;
  }

  /** `fn` of a result: at once on a synchronous store, when it settles on an asynchronous one. */
  #then<A, B>(result: Out<S, A>, fn: (value: A) => B): Out<S, B> {
    return (this.#store.synchronous ? fn(result as A) : Promise.resolve(result).then(fn)) as Out<S, B>;
  }

  /** Write the counter changes the script has made so far, summed. */
  *#writeSlots(tx: StoreTx, unit: Unit): Script<void> {
    if (unit.slots.length === 0) return;
    const changes = sumChanges(unit.slots);
    unit.slots.length = 0;
    yield* tx.applySlotChanges(changes);
  }

  #commit(unit: Unit): void {
    for (const [id, entry] of unit.cache) putLatest(this.#cache, id, entry, this.#cacheSize);
    for (const effect of unit.effects) effect();
  }

  /** Create a job: its CREATE event, then the lifecycle's start events, in one transaction. */
  create(options: CreateOptions): Out<S, JobRow> {
    return this.#then(this.createMany([options]), (rows) => rows[0]!);
  }

  /**
   * Create many jobs in one transaction: all are written, or none. Each job's creation and start
   * events are made in memory (from its lifecycle's creation template, else folded by XState), then
   * the rows go in with one insert and the events with another (multi-row statements on SQLite). A job with an idempotency key seen before (stored, or earlier in the batch) is not
   * created again: its first job is returned in its place.
   */
  createMany(items: readonly CreateOptions[]): Out<S, JobRow[]> {
    const prepared = items.map((options) => ({ options, ...this.#prepareCreate(options) }));
    return this.#write((tx, unit) => this.#createScript(tx, unit, prepared));
  }

  /**
   * A child job (`ctx.spawn`) and its parent's record of it, in one transaction: the child is
   * created (or, its key `child:<parentId>:<name>` seen before, found) and the parent's STEP
   * `stepName` records its id, fenced by the parent's lease. So a parent's spawn steps name every
   * child it has, exactly (no crash leaves a child its parent does not list), and a parent that
   * lost its lease creates no child. `detached` records `{ id, cancelWithParent: false }`
   * instead of the id: cancelling the parent leaves that child be.
   */
  spawn(parent: { jobId: number; fence: { leaseId: string }; actor: string | null }, stepName: string, options: CreateOptions, detached: boolean): Out<S, JobRow> {
    const prepared = [{ options, ...this.#prepareCreate(options) }];
    return this.#write(function* (this: Engine<S>, tx: StoreTx, unit: Unit) {
      const child = (yield* this.#createScript(tx, unit, prepared))[0]!;
      const result = detached ? { id: child.id, cancelWithParent: false } : child.id;
      const after = yield* this.#sendScript(tx, unit, parent.jobId, { type: 'STEP', name: stepName, result }, { fence: parent.fence, actor: parent.actor });
      // Spawned by a handler that has not yet seen its job's cancellation: cancelled with it all the same.
      if (after.cancelRequested && !detached) yield* this.#cancelChild(tx, unit, parent.jobId, child.id);
      return child; // as created: its caller wants its id
    }.bind(this));
  }

  /** The body of {@link createMany} (and of {@link spawn}'s child): the jobs made or found, in the order given. */
  *#createScript(tx: StoreTx, unit: Unit, prepared: ReadonlyArray<{ options: CreateOptions; lifecycle: Lifecycle; input: JobInput }>): Script<JobRow[]> {
    const keyed = prepared.flatMap(({ options: item }) => (item.idempotencyKey ? [{ type: item.type, key: item.idempotencyKey }] : []));
    if (keyed.length > 1) yield* tx.lockIdempotencyKeys(keyed);
    // Each item's job: a stored one, or the index of the creation that makes it.
    const results: Array<JobRow | number> = [];
    const creations: Creation[] = [];
    const firstOfKey = new Map<string, number>();
    for (const { options, lifecycle, input } of prepared) {
      if (options.idempotencyKey != null) {
        const key = `${options.type}\u0000${options.idempotencyKey}`;
        const earlier = firstOfKey.get(key);
        if (earlier !== undefined) {
          results.push(results[earlier]!);
          continue;
        }
        firstOfKey.set(key, results.length);
        const existing = yield* tx.findByIdempotencyKey(options.type, options.idempotencyKey);
        if (existing) {
          results.push(existing);
          continue;
        }
      }
      const open: number[] = [];
      // In id order, as batches lock rows: two creations naming the same jobs wait, never deadlock.
      for (const id of [...new Set(options.dependsOn ?? [])].sort((a, b) => a - b)) {
        const head = yield* tx.readHead(id);
        if (!head) throw new JobNotFoundError(id);
        if (head.endedAt === null) open.push(id);
      }
      results.push(creations.length);
      creations.push(this.#fold(lifecycle, input, options, open));
    }
    if (creations.length > 0) {
      const ids = yield* tx.insertJobs(creations.map((c) => c.steps.at(-1)!.row));
      const events: JobEventRow[] = [];
      creations.forEach((creation, i) => {
        for (const step of creation.steps) {
          step.row.id = ids[i]!;
          const event = eventOf(step.row, step.type, creation.at, step.payload, step.stateBefore, creation.actor);
          events.push(event);
          this.#afterCommit(unit, step.row, step === creation.steps.at(-1) ? step.snapshot : null, event);
        }
        noteCreation(unit.slots, creation.steps.at(-1)!.row);
      });
      yield* tx.appendEvents(events);
      for (const [i, creation] of creations.entries()) {
        for (const dependency of creation.blockedBy) {
          yield* this.#sendScript(tx, unit, dependency, { type: 'DEPENDENT', id: ids[i]! }, { actor: `job/${ids[i]!}` });
        }
      }
    }
    return results.map((result) => (typeof result === 'number' ? creations[result]!.steps.at(-1)!.row : result));
  }

  /** A new job's creation and start events made in memory (and its BLOCK when it waits for `blockedBy`): each step's row and snapshot, the last one to be written. */
  #fold(lifecycle: Lifecycle, input: JobInput, options: CreateOptions, blockedBy: number[]): Creation {
    const at = this.clock();
    const identity: JobIdentity = {
      id: 0, // known once the row is inserted
      lifecycle: lifecycle.name,
      lifecycleVersion: lifecycle.version,
      type: options.type,
      owner: options.owner ?? null,
      runId: options.runId ?? null,
      idempotencyKey: options.idempotencyKey ?? null,
      concurrencyKey: options.concurrencyKey ?? null,
      traceparent: options.traceparent ?? null,
    };
    const { id: _id, concurrencyKey, traceparent, ...rest } = identity;
    // The key and the trace only when there are: histories of jobs without them stay as they were.
    const fixed: Omit<CreatePayload, 'input'> = { ...rest, ...(concurrencyKey !== null ? { concurrencyKey } : {}), ...(traceparent !== null ? { traceparent } : {}) };
    const creation: CreatePayload = { ...fixed, input };
    const start = options.start !== false;
    const snapshots = this.#snapshotsOf(lifecycle, input, start, at);
    const types = start ? (lifecycle.startEvents ?? []) : [];
    const steps: Creation['steps'] = [];
    let row: JobRow | null = null;
    snapshots.forEach((snapshot, i) => {
      const next = deriveRow(row, identity, snapshot, at, NO_LEASE);
      steps.push(i === 0
        ? { row: next, snapshot, type: 'CREATE', payload: { ...creation }, stateBefore: null }
        : { row: next, snapshot, type: types[i - 1]!, payload: {}, stateBefore: row!.state });
      row = next;
    });
    if (blockedBy.length > 0) {
      const last = steps.at(-1)!;
      const snapshot = applyEvent(lifecycle.machine, last.snapshot, { type: 'BLOCK', on: blockedBy, at }, () => last.snapshot);
      if (snapshot === null) throw new InvalidInputError('dependsOn', `a ${lifecycle.name} job that is ${last.row.state} once created cannot wait for other jobs`);
      steps.push({ row: deriveRow(last.row, identity, snapshot, at, NO_LEASE), snapshot, type: 'BLOCK', payload: { on: blockedBy }, stateBefore: last.row.state });
    }
    return { at, actor: options.actor ?? null, steps, blockedBy };
  }

  /** A creation's snapshots: from the lifecycle's template when it has one ({@link buildTemplate}), else by XState. */
  #snapshotsOf(lifecycle: Lifecycle, input: JobInput, start: boolean, at: number): AnyMachineSnapshot[] {
    let templates = this.#templates.get(lifecycle);
    if (!templates) this.#templates.set(lifecycle, (templates = {}));
    const key = start ? 'started' : 'created';
    let template = templates[key];
    if (template === undefined && this.#useTemplates) template = templates[key] = buildTemplate(lifecycle, start);
    return (template && fillTemplate(template, input)) ?? foldCreation(lifecycle, input, start, at, stepOf(lifecycle, this.compiledLifecycles));
  }

  /** Check a creation's options before any transaction begins. */
  #prepareCreate(options: CreateOptions): { lifecycle: Lifecycle; input: JobInput } {
    const lifecycle = this.lifecycles.latest(options.lifecycle);
    validateInput(options.input);
    const input: JobInput = { ...options.input, params: options.input.params ?? null };
    if (typeof options.type !== 'string' || options.type.length === 0) throw new InvalidInputError('type', 'must be a non-empty string');
    if (options.dependsOn !== undefined && (!Array.isArray(options.dependsOn) || !options.dependsOn.every((id) => Number.isSafeInteger(id) && id > 0))) {
      throw new InvalidInputError('dependsOn', 'must be an array of job ids');
    }
    for (const field of ['type', 'owner', 'runId', 'idempotencyKey', 'concurrencyKey', 'traceparent'] as const) {
      const value = options[field];
      if (value != null) assertText(value, field);
    }
    return { lifecycle, input };
  }

  /** Apply one event to one job. Throws a typed error and writes nothing when it is refused. */
  send(jobId: number, event: EventObject & Record<string, unknown>, options: SendOptions = {}): Out<S, JobRow> {
    validateEvent(event);
    return this.#write((tx, unit) => this.#sendScript(tx, unit, jobId, event, options));
  }

  *#sendScript(tx: StoreTx, unit: Unit, jobId: number, event: EventObject & Record<string, unknown>, options: SendOptions): Script<JobRow> {
    const prev = yield* tx.readHead(jobId);
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
    const live = yield* this.#liveOf(tx, unit, prev, lifecycle);
    return yield* this.#apply(tx, unit, prev, lifecycle, live, event, options, options.actor ?? null);
  }

  /** Transition, derive, write row and event: the body of every accepted event. */
  *#apply(
    tx: StoreTx,
    unit: Unit,
    prev: JobHead,
    lifecycle: Lifecycle,
    live: { snapshot: AnyMachineSnapshot; row: JobRow },
    event: EventObject & Record<string, unknown>,
    options: Pick<SendOptions, 'lease'>,
    actor: string | null,
  ): Script<JobRow> {
    // Time never runs backwards along a job's history, whatever the wall clock does.
    const at = Math.max(this.clock(), prev.updatedAt);
    const { type } = event;
    // The event as stored: without type and instant (a loop: rest literals take V8's slow path here).
    const payload: Record<string, unknown> = {};
    for (const key in event) if (key !== 'type' && key !== 'at') payload[key] = event[key];
    const before = live.snapshot;
    const after = applyEvent(lifecycle.machine, before, machineEvent(type, at, payload), (_machine, from, sent) => stepOf(lifecycle, this.compiledLifecycles)(from, sent));
    if (after === null) {
      const finished = type === 'SIGNAL' && before.hasTag('terminal') ? 'the job has finished, so no handler will wait for a signal' : undefined;
      throw new IllegalTransitionError(prev.id, prev.lifecycle, describeState(before), type, finished);
    }
    const { current, total } = (after.context as JobContext).progress;
    // A report of current alone (or total alone) is checked against the figure it keeps.
    if (current !== null && total !== null && current > total) {
      throw new InvalidInputError('progress', `current ${current} would exceed total ${total}`);
    }
    // deriveRow keeps the lease only while the job is running.
    const row = deriveRow(prev, prev, after, at, options.lease ?? leaseOf(prev));
    const stored = eventOf(row, type, at, payload, prev.state, actor);
    if (!(yield* tx.writeTransition(row, live.row, stored))) throw new StaleVersionError(prev.id, prev.version, prev.version + 1);
    noteTransition(unit.slots, live.row, row);
    this.#afterCommit(unit, row, after, stored);
    if (prev.endedAt === null && row.endedAt !== null) yield* this.#tellWaiters(tx, unit, row, after.context);
    // The first cancellation of a parent (asked, or ending it cancelled at once: CANCEL, or a
    // lifecycle's own such as UWS ABORT) cancels its unfinished children in the same transaction,
    // each by a CANCEL of its own through its own lifecycle; theirs cancel their children in turn.
    const wasAsked = (before.context as JobContext).cancelRequested;
    if (!wasAsked && (row.cancelRequested || (prev.endedAt === null && row.outcome === 'cancelled'))) {
      for (const child of childrenOf(after.context)) {
        if (child.cancelWithParent) yield* this.#cancelChild(tx, unit, prev.id, child.id);
      }
    }
    return row;
  }

  /** A dependency has ended: tell the job waiting for it, in the same transaction. One that has finished or was deleted stays as it is. */
  *#unblock(tx: StoreTx, unit: Unit, jobId: number, dependency: JobRow): Script<void> {
    const event = { type: 'UNBLOCK', id: dependency.id, state: dependency.state, outcome: dependency.outcome };
    yield* this.#sendRefusable(tx, unit, jobId, event, `job/${dependency.id}`);
  }

  /** One send in its own savepoint, a refusal (the job has finished, or is gone) swallowed. */
  *#sendRefusable(tx: StoreTx, unit: Unit, jobId: number, event: EventObject & Record<string, unknown>, actor: string): Script<void> {
    const mark = unit.effects.length;
    const slotMark = unit.slots.length;
    try {
      yield* tx.savepoint(this.#sendScript(tx, unit, jobId, event, { actor }));
    } catch (error) {
      unit.effects.length = mark;
      unit.slots.length = slotMark;
      unit.cache.clear();
      if (!isPhaselineError(error, 'ILLEGAL_TRANSITION') && !isPhaselineError(error, 'JOB_NOT_FOUND')) throw error;
    }
  }

  /** Cancel a child with its parent; one that has finished (refusing CANCEL) or was deleted stays as it is. */
  *#cancelChild(tx: StoreTx, unit: Unit, parentId: number, childId: number): Script<void> {
    yield* this.#sendRefusable(tx, unit, childId, { type: 'CANCEL' }, `parent/${parentId}`);
  }

  /**
   * A child job has ended: signal its parent in the same transaction (`child:<id>` with its state,
   * outcome and result), so a parent's `ctx.join` never misses it. A parent that has finished or
   * was deleted refuses or lacks it: the child's ending stands.
   */
  *#signalParent(tx: StoreTx, unit: Unit, parentId: number, child: JobRow): Script<void> {
    const event = {
      type: 'SIGNAL',
      name: childSignal(child.id),
      payload: { id: child.id, state: child.state, outcome: child.outcome, result: child.result },
    };
    yield* this.#sendRefusable(tx, unit, parentId, event, `child/${child.id}`);
  }

  /**
   * Move an unfinished job to version `target.version` of its lifecycle when its stored history
   * folds under that version exactly as under the versions it went through: the same states, the
   * same engine tags and the same derived row after every event. One transaction (the job's head
   * read first, locked on PostgreSQL): an UPGRADE event with payload `{ from, to }` and the row at
   * the new version, its state and snapshot as they were, the snapshot taken up in the new
   * machine as the engine takes up any stored job. Otherwise, and in a dry run, nothing is written
   * and the answer says why. The target must be registered (UNKNOWN_LIFECYCLE before any read).
   */
  upgrade(jobId: number, target: { lifecycle: string; version: number }, options: { actor?: string | null; dryRun?: boolean } = {}): Out<S, UpgradeResult> {
    const lifecycle = this.lifecycles.get(target.lifecycle, target.version);
    if (options.actor != null) assertText(options.actor, 'actor');
    if (options.dryRun) return this.#store.run('read', (tx) => this.#upgradeScript(tx, null, jobId, lifecycle, null)) as Out<S, UpgradeResult>;
    return this.#write((tx, unit) => this.#upgradeScript(tx, unit, jobId, lifecycle, options.actor ?? null));
  }

  /** `unit` null: a dry run, which only reads. */
  *#upgradeScript(tx: StoreTx, unit: Unit | null, jobId: number, target: Lifecycle, actor: string | null): Script<UpgradeResult> {
    const head = yield* tx.readHead(jobId);
    if (!head) throw new JobNotFoundError(jobId);
    if (head.lifecycle !== target.name) throw new InvalidInputError('lifecycle', `job ${jobId} is a ${head.lifecycle} job, not ${target.name}`);
    const base = { jobId, from: head.lifecycleVersion, to: target.version };
    const keep = (reason: string, divergence: Divergence | null = null): UpgradeResult => ({ ...base, compatible: false, written: false, reason, divergence });
    if (head.endedAt !== null) return keep(`it has finished (${head.state})`);
    if (head.lifecycleVersion === target.version) return keep(`it is on version ${target.version} already`);
    const row = (yield* tx.readRow(jobId))!;
    const events = yield* tx.history(jobId);
    const difference = upgradeDifference(row, events, resolverOf(this.lifecycles), target, this.compiledLifecycles);
    if (difference) {
      const said = describeDivergence(difference.divergence);
      return keep(difference.own ? `its history does not replay under its own version: ${said}` : said, difference.divergence);
    }
    if (unit === null) return { ...base, compatible: true, written: false, reason: null, divergence: null };
    const at = Math.max(this.clock(), head.updatedAt);
    const snapshot = restoreSnapshot(target.machine, row.snapshot, row, resolverFor(target, this.compiledLifecycles));
    const next = deriveRow(head, { ...head, lifecycleVersion: target.version }, snapshot, at, leaseOf(head));
    const event = eventOf(next, UPGRADE, at, { from: head.lifecycleVersion, to: target.version }, head.state, actor);
    if (!(yield* tx.writeUpgrade(next, row, event))) throw new StaleVersionError(jobId, head.version, head.version + 1);
    this.#afterCommit(unit, next, snapshot, event);
    return { ...base, compatible: true, written: true, reason: null, divergence: null };
  }

  /** The ids of the unfinished jobs of a lifecycle on any version but `version`: those an upgrade to it would consider. */
  upgradeCandidates(lifecycle: string, version: number): Out<S, number[]> {
    return this.#autocommit((tx) => tx.unfinishedOf(lifecycle, version));
  }

  /**
   * One transaction: each send in its own savepoint (a refused one, given to `onRefused`, undoes
   * only itself), then, when `claimAfter` asks for it, a claim of due jobs (the runner's final
   * writes and the claim for the slots they free: one commit for many jobs).
   */
  sendEachThenClaim(
    sends: ReadonlyArray<() => QueuedSend>,
    onRefused: (send: QueuedSend, error: unknown) => void,
    claimAfter: () => { limit: number; types: readonly string[]; leaseFor: (now: number) => ClaimLease },
    /** The jobs the sends write, when known: a store may then read and lock them together first. */
    jobIds: readonly number[] = [],
  ): Out<S, JobRow[]> {
    return this.#write(function* (this: Engine<S>, tx: StoreTx, unit: Unit) {
      if (jobIds.length > 1) yield* tx.lockHeads(jobIds);
      return yield* this.#sendEachScript(tx, unit, sends, onRefused, claimAfter);
    }.bind(this));
  }

  *#sendEachScript(
    tx: StoreTx,
    unit: Unit,
    sends: ReadonlyArray<() => QueuedSend>,
    onRefused: (send: QueuedSend, error: unknown) => void,
    claimAfter: () => { limit: number; types: readonly string[]; leaseFor: (now: number) => ClaimLease },
  ): Script<JobRow[]> {
    for (const make of sends) {
      const send = make();
      const mark = unit.effects.length;
      const slotMark = unit.slots.length;
      try {
        validateEvent(send.event);
        yield* tx.savepoint(this.#sendScript(tx, unit, send.jobId, send.event, send.options));
      } catch (error) {
        // Its savepoint was rolled back: so are its effects (forgetting cached entries is always safe).
        unit.effects.length = mark;
        unit.slots.length = slotMark;
        unit.cache.clear();
        onRefused(send, error);
      }
    }
    const { limit, types, leaseFor } = claimAfter();
    return types.length === 0 || limit <= 0 ? [] : yield* this.#claimScript(tx, unit, limit, types, leaseFor);
  }

  /** Whether the job's machine would accept an event of this type now (no write). */
  accepts(jobId: number, type: string, known?: { lifecycle: string; lifecycleVersion: number }): Out<S, boolean> {
    return this.#autocommit((tx) => this.#acceptsScript(tx, jobId, type, known));
  }

  *#acceptsScript(tx: StoreTx, jobId: number, type: string, known?: { lifecycle: string; lifecycleVersion: number }): Script<boolean> {
    // Most lifecycles never accept a given command (CANCEL_DONE after ASK...): answer without reading.
    if (known && !this.#handles(this.lifecycles.get(known.lifecycle, known.lifecycleVersion), type)) return false;
    const prev = yield* tx.readHead(jobId);
    if (!prev) throw new JobNotFoundError(jobId);
    const lifecycle = this.lifecycles.get(prev.lifecycle, prev.lifecycleVersion);
    const before = (yield* this.#liveOf(tx, null, prev, lifecycle)).snapshot;
    return applyEvent(lifecycle.machine, before, { type, at: prev.updatedAt }, (_machine, from, sent) => stepOf(lifecycle, this.compiledLifecycles)(from, sent)) !== null;
  }

  /**
   * The event the runner sends once the job type's validator has accepted a claimed job's
   * parameters, or null: the lifecycle's `validatedEvent` while the job is in a state tagged
   * `validating` (Qiskit VALIDATED from VALIDATING).
   */
  validationEvent(job: { id: number; lifecycle: string; lifecycleVersion: number }): Out<S, string | null> {
    return this.#autocommit((tx) => this.#validationScript(tx, job));
  }

  *#validationScript(tx: StoreTx, job: { id: number; lifecycle: string; lifecycleVersion: number }): Script<string | null> {
    const event = this.lifecycles.get(job.lifecycle, job.lifecycleVersion).validatedEvent;
    if (event === undefined) return null; // most lifecycles have no validation step: no read
    const prev = yield* tx.readHead(job.id);
    if (!prev) throw new JobNotFoundError(job.id);
    const lifecycle = this.lifecycles.get(prev.lifecycle, prev.lifecycleVersion);
    const { snapshot } = yield* this.#liveOf(tx, null, prev, lifecycle);
    return snapshot.hasTag('validating') ? event : null;
  }

  /**
   * Write a heartbeat: extend the lease of a running job, fenced by its lease id. Not an event:
   * leases are bookkeeping, so the history holds transitions only.
   */
  renewLease(jobId: number, leaseId: string, expiresAt: number): Out<S, boolean> {
    return this.#autocommit((tx) => tx.renewLease(jobId, leaseId, expiresAt));
  }

  get(jobId: number, options: { owner?: string | null } = {}): Out<S, JobRow> {
    return this.#then(this.#autocommit((tx) => tx.readRow(jobId)), (row) => {
      if (!row) throw new JobNotFoundError(jobId);
      if (options.owner !== undefined && row.owner !== options.owner) throw new WrongOwnerError(jobId, options.owner);
      return row;
    });
  }

  find(jobId: number): Out<S, JobRow | undefined> {
    return this.#autocommit((tx) => tx.readRow(jobId));
  }

  history(jobId: number): Out<S, JobEventRow[]> {
    return this.#autocommit((tx) => tx.history(jobId));
  }

  /**
   * A page of jobs with ids above `afterId` (at most `limit`, none above `toId`) and all their
   * events, by job then sequence, read in one read transaction so that both come from one moment.
   */
  pageWithHistory(afterId: number, limit: number, toId: number): Out<S, { jobs: JobRow[]; events: JobEventRow[] }> {
    return this.#store.run('read', function* (tx) {
      const jobs = (yield* tx.jobsAfter(afterId, limit)).filter((job) => job.id <= toId);
      const events = jobs.length > 0 ? yield* tx.historyBetween(jobs[0]!.id, jobs.at(-1)!.id) : [];
      return { jobs, events };
    }) as Out<S, { jobs: JobRow[]; events: JobEventRow[] }>;
  }

  /** The lowest and highest job ids, or null when there is no job. */
  idRange(): Out<S, { min: number; max: number } | null> {
    return this.#autocommit((tx) => tx.idRange());
  }

  /** A listing; a malformed filter is refused (INVALID_INPUT) before the store sees it. */
  list(filter: ListFilter = {}): Out<S, JobRow[]> {
    checkListFilter(filter);
    if (splitsByState(filter)) return this.#store.run('read', (tx) => tx.list(filter)) as Out<S, JobRow[]>;
    return this.#autocommit((tx) => tx.list(filter));
  }

  /** How many jobs per lifecycle and top-level state; a malformed filter is refused (INVALID_INPUT). */
  countByState(filter: CountFilter = {}): Out<S, StateCount[]> {
    checkCountFilter(filter);
    return this.#autocommit((tx) => tx.countByState(filter));
  }

  #handles(lifecycle: Lifecycle, type: string): boolean {
    let types = this.#eventTypes.get(lifecycle);
    if (!types) this.#eventTypes.set(lifecycle, (types = new Set(lifecycle.machine.root.events)));
    return types.has(type);
  }

  /** The ids of due claimable jobs in claim order, optionally of the given types only (for tools and tests). */
  claimableIds(now: number, limit: number, types?: readonly string[]): Out<S, number[]> {
    return this.#autocommit(function* (tx) {
      return (yield* tx.claimable(now, limit, types)).map((row) => row.id);
    });
  }

  /**
   * One write transaction: pick up to `limit` due jobs of the given types in claim order and CLAIM
   * each under the lease `leaseFor` gives it, from the rows the pick read (no second read).
   */
  claimDue(limit: number, types: readonly string[], leaseFor: (now: number) => ClaimLease): Out<S, JobRow[]> {
    return this.#write((tx, unit) => this.#claimScript(tx, unit, limit, types, leaseFor));
  }

  *#claimScript(tx: StoreTx, unit: Unit, limit: number, types: readonly string[], leaseFor: (now: number) => ClaimLease): Script<JobRow[]> {
    const now = this.clock();
    const claimed: JobRow[] = [];
    // The counters must be those of the rows as this transaction has them so far.
    yield* this.#writeSlots(tx, unit);
    const limited = types.filter((type) => limitsType(this.#limitsOf(type)));
    const rows = limited.length > 0 || (yield* tx.hasKeyHeads(types)) ? yield* this.#limitedClaimable(tx, now, limit, types, limited) : yield* tx.claimable(now, limit, types);
    for (const row of rows) {
      const { actor, ...lease } = leaseFor(now);
      const lifecycle = this.lifecycles.get(row.lifecycle, row.lifecycleVersion);
      const live = yield* this.#liveOf(tx, unit, row, lifecycle, row);
      // A parked job (a sleep or a wait that is due) is taken up in its running state: WAKE, not CLAIM.
      const type = parkingOf(live.snapshot) ? 'WAKE' : 'CLAIM';
      claimed.push(yield* this.#apply(tx, unit, row, lifecycle, live, { type }, { lease }, actor));
    }
    return claimed;
  }

  /**
   * Due claimable jobs for a claim under limits (src/engine/limits.ts), in claim order: per type
   * with room, its jobs without a key and its keys' heads, at most the type's budget (its
   * concurrency less its running jobs, its rate window's claims left). The rate windows move on.
   */
  *#limitedClaimable(tx: StoreTx, now: number, limit: number, types: readonly string[], limited: readonly string[]): Script<JobRow[]> {
    const slots = new Map((yield* tx.lockTypeSlots(limited)).map((slot) => [slot.type, slot]));
    const budgets = new Map<string, number>();
    const windows = new Map<string, { windowStart: number; windowCount: number }>();
    const candidates: JobRow[] = [];
    for (const type of types) {
      const limits = this.#limitsOf(type) ?? NO_LIMITS;
      const { budget, windowStart, windowCount } = budgetOf(limits, slots.get(type), now);
      if (limits.rateLimit !== null) windows.set(type, { windowStart, windowCount });
      const take = Math.min(budget, limit);
      if (take <= 0) continue;
      budgets.set(type, take);
      candidates.push(...(yield* tx.claimableOfType(type, now, take)), ...(yield* tx.claimableHeads(type, now, limits.keyConcurrency, take)));
    }
    candidates.sort((a, b) => b.priority - a.priority || a.id - b.id);
    const picked: JobRow[] = [];
    for (const row of candidates) {
      if (picked.length >= limit) break;
      const left = budgets.get(row.type)!;
      if (left <= 0) continue;
      budgets.set(row.type, left - 1);
      picked.push(row);
      const window = windows.get(row.type);
      if (window) window.windowCount++;
    }
    for (const [type, { windowStart, windowCount }] of windows) {
      const slot = slots.get(type);
      if (slot && (slot.windowStart !== windowStart || slot.windowCount !== windowCount)) yield* tx.writeWindow(type, windowStart, windowCount);
    }
    return picked;
  }

  /**
   * The lease record of every running job. Whether a lease has run out is for the runner to judge
   * (src/runner/leases.ts): comparing its expiry with this process's clock would trust two clocks.
   */
  runningLeases(): Out<S, LeaseRow[]> {
    return this.#autocommit((tx) => tx.runningLeases());
  }

  /** Jobs whose destruction instant has come, except those their lifecycle has archived already. */
  dueForDestruction(now: number, limit: number): Out<S, DestructionRow[]> {
    const settled = this.#settledStates();
    return this.#autocommit((tx) => tx.dueForDestruction(now, limit, settled));
  }

  /** For each lifecycle with archived states, their names: the top-level states tagged `archived`. */
  #settledStates(): SettledStates[] {
    const byName = new Map<string, Set<string>>();
    for (const lifecycle of this.lifecycles.all()) {
      let states = this.#settled.get(lifecycle);
      if (!states) this.#settled.set(lifecycle, (states = archivedStates(lifecycle.machine)));
      if (states.length === 0) continue;
      let all = byName.get(lifecycle.name);
      if (!all) byName.set(lifecycle.name, (all = new Set()));
      for (const state of states) all.add(state);
    }
    return [...byName].map(([lifecycle, states]) => ({ lifecycle, states: [...states].sort() })).sort((a, b) => (a.lifecycle < b.lifecycle ? -1 : 1));
  }

  /** Finished jobs that ended before `before`, outside the given lifecycles. */
  endedBefore(before: number, exceptLifecycles: readonly string[], limit: number): Out<S, number[]> {
    return this.#autocommit((tx) => tx.endedBefore(before, exceptLifecycles, limit));
  }

  /** Delete jobs and their history. */
  deleteJobs(ids: readonly number[]): Out<S, number> {
    if (ids.length === 0) return this.#autocommit(function* () {
      return 0;
    });
    return this.#write((tx, unit) => this.#deleteScript(tx, unit, ids));
  }

  *#deleteScript(tx: StoreTx, unit: Unit, ids: readonly number[]): Script<number> {
    for (const row of yield* tx.slotFieldsOf(ids)) noteDeletion(unit.slots, row);
    yield* this.#releaseWaiters(tx, unit, ids);
    const changes = yield* tx.deleteJobs(ids);
    unit.effects.push(() => {
      for (const id of ids) this.#cache.delete(id);
      for (const listener of this.#deleteListeners) {
        try {
          listener(ids);
        } catch (error) {
          safeLog(this.logger, 'error', { err: errorField(error) }, 'phaseline: a delete listener threw');
        }
      }
    });
    return changes;
  }

  /**
   * An unfinished job deleted (UWS DELETE of a queued or running job) never ends, so what waits for
   * its end is told now, in the deleting transaction: its parent gets the child signal (outcome null:
   * it ended by deletion) and each job it blocks an UNBLOCK, as an ending would send them.
   */
  *#releaseWaiters(tx: StoreTx, unit: Unit, ids: readonly number[]): Script<void> {
    if (ids.length > 1) yield* tx.lockHeads(ids);
    for (const id of ids) {
      const head = yield* tx.readHead(id);
      if (!head || head.endedAt !== null) continue;
      const row = (yield* tx.readRow(id))!;
      yield* this.#tellWaiters(tx, unit, { ...row, outcome: null }, row.snapshot.context);
    }
  }

  /** A job has ended (or gone): its parent gets the child signal and each job it blocks an UNBLOCK, in this transaction. */
  *#tellWaiters(tx: StoreTx, unit: Unit, row: JobRow, context: unknown): Script<void> {
    const parent = parentOf(row.idempotencyKey);
    if (parent !== null) yield* this.#signalParent(tx, unit, parent, row);
    for (const dependent of dependentsOf(context)) yield* this.#unblock(tx, unit, dependent, row);
  }

  /**
   * The job's live snapshot and row at the head's version: from memory, else restored from the row.
   * `unit` null: a read outside any write.
   */
  *#liveOf(tx: StoreTx, unit: Unit | null, head: JobHead, lifecycle: Lifecycle, read?: JobRow): Script<{ snapshot: AnyMachineSnapshot; row: JobRow }> {
    // A job written earlier in the open transaction is what the row holds now, inside it.
    const cached = unit?.cache.get(head.id) ?? this.#cache.get(head.id);
    if (cached && cached.version === head.version) return cached;
    const row = read ?? (yield* tx.readRow(head.id))!;
    return { snapshot: restoreSnapshot(lifecycle.machine, row.snapshot, row, resolverFor(lifecycle, this.compiledLifecycles)), row };
  }

  /**
   * What a written transition leaves for after the commit: its live snapshot and row for the cache
   * (none for a step that a later one in the same transaction supersedes, a creation's start
   * events; at most the cache's size for a whole batch), and its notification, only when someone
   * observes transitions.
   */
  #afterCommit(unit: Unit, row: JobRow, snapshot: AnyMachineSnapshot | null, event: JobEventRow): void {
    if (snapshot !== null) {
      putLatest(unit.cache, row.id, { version: row.version, snapshot, row }, this.#cacheSize);
    }
    if (this.#listeners.size === 0) return;
    unit.effects.push(() => {
      for (const listener of this.#listeners) {
        try {
          listener({ job: row, event });
        } catch (error) {
          // An observer's failure must not undo or hide a committed transition.
          safeLog(this.logger, 'error', { err: errorField(error), jobId: row.id }, 'phaseline: a transition listener threw');
        }
      }
    });
  }
}

function eventOf(
  row: JobRow,
  type: string,
  at: number,
  payload: Record<string, unknown>,
  stateBefore: string | null,
  actor: string | null,
): JobEventRow {
  return {
    jobId: row.id,
    seq: row.version,
    at,
    type,
    payload: Object.keys(payload).length > 0 ? payload : null,
    stateBefore,
    stateAfter: row.state,
    actor,
  };
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


/**
 * The facade: one instance per database, the only surface HTTP, the CLI and host apps use.
 * Promises at the boundary: synchronous SQLite transactions inside, or PostgreSQL's awaited ones.
 *
 * Its declarations name no store or driver type (the engine is private), so a consumer's
 * type-check never reaches into the SQLite driver or Drizzle.
 */
import type { EventObject } from 'xstate';
import type { JobInput, Json, Lifecycle } from '../machines/common.ts';
import { openDatabase } from './db/open.ts';
import type { OpenOptions } from './db/options.ts';
import type { PgStore } from './db/pg-store.ts';
import { SqliteStore } from './db/sqlite-store.ts';
import type { Store } from './db/store.ts';
import { isPostgresUrl, redactUrl } from './db/url.ts';
import { Engine, type CreateOptions, type TransitionRecord } from './engine/engine.ts';
import { toJob, toJobEvent } from './engine/job.ts';
import type { Job, JobEvent } from './engine/job-types.ts';
import { LifecycleRegistry, canRetry } from './engine/lifecycles.ts';
import type { Clock, CountFilter, ListFilter, SendOptions, StateCount } from './engine/types.ts';
import { builtInLifecycles, type LifecycleEvents, type SendableEvent } from '../machines/index.ts';
import { ClosedError, InvalidInputError, isPhaselineError, JobNotFoundError, PhaselineError, ScheduleNotFoundError, StoreUnavailableError, UnknownJobTypeError } from './errors.ts';
import { TypedEmitter, type Listener, type PhaselineEventName } from './events.ts';
import { attachEngine } from './internal.ts';
import { resolveLogger, type Logger } from './logger.ts';
import { activeTraceparent, isTraceparent, otelApi, type OtelApi } from './telemetry.ts';
import { AttemptTracing } from './runner/tracing.ts';
import { attemptsDefaulted, defineJobType, limitsOf, validateParams, type AnyJobType, type JobType, type JobTypeDefinition } from './jobtypes.ts';
import { replayAllThreads } from './replay/parallel.ts';
import { toStoredHistory } from './replay/stored.ts';
import { jobsOfPage, PAGE, replayAllAsync, replayJob, replayJobAsync } from './replay/replay.ts';
import type { JobReplay, ParallelReplayOptions, ReplaySummary, StoredHistory, UpgradeOptions, UpgradeReport } from './replay/types.ts';
import { assertInstant, assertText } from './engine/validate.ts';
import type { RunnerOptions, Workers } from './runner/options.ts';
import { enginePort, pendingPort } from './runner/port.ts';
import { Runner } from './runner/runner.ts';
import { cronSlots } from './schedules/cron.ts';
import { CHILD_KEY_PREFIX } from './engine/parking.ts';
import { ScheduleLoop } from './schedules/loop.ts';
import { planSlots, scheduleColumns, slotKey, toSchedule } from './schedules/schedule.ts';
import type { Schedule, ScheduleOptions } from './schedules/types.ts';
import type { ScheduleRow } from './db/schema.ts';

export interface PhaselineOptions extends OpenOptions {
  /**
   * The database: a `postgres://` or `postgresql://` URL for PostgreSQL, else
   * a SQLite file (`:memory:` for a private in-memory one). Default `./phaseline.db`.
   */
  db?: string;
  /** SQLite file: an alias of `db`, which wins when both are given. */
  file?: string;
  /** Lifecycles of the app's own, registered beside the five built-in ones. */
  lifecycles?: Lifecycle[];
  /** Injected clock (tests). Default `Date.now`. */
  clock?: Clock;
  /** Live machine snapshots kept in memory (see the engine). Default 1,000. */
  snapshotCacheSize?: number;
  /**
   * Where Phaseline logs (a pino logger, or anything with `debug`, `info`, `warn` and `error`
   * taking `(obj, msg)`): claims and attempts at debug, recoveries at info, lost leases at warn,
   * errors outside jobs at error. Default: nothing is logged, and nothing is written to the
   * console; the `error` event reports the errors either way.
   */
  logger?: Logger;
  /**
   * OpenTelemetry through `@opentelemetry/api` when it is installed (an optional peer dependency):
   * each enqueue records the active span's traceparent on the job, and each attempt is a span, a
   * child of it, with an event per transition. Default true; false traces nothing.
   */
  telemetry?: boolean;
}

export interface EnqueueOptions {
  owner?: string | null;
  /** UWS runId: opaque, may repeat. */
  runId?: string | null;
  /** Overrides the type's default priority; higher runs first. */
  priority?: number;
  /** Not before this many ms from now. */
  delayMs?: number;
  /** Not before this instant (UTC ms). */
  runAt?: number;
  /** When the job is destroyed (UTC ms). */
  destruction?: number | null;
  /** Seconds an attempt may run (overrides the type's); 0 is unlimited. */
  executionDuration?: number;
  quote?: number | null;
  /** A second enqueue of the same type with the same key returns the first job. */
  idempotencyKey?: string | null;
  /** At most the type's `keyConcurrency` (default 1) jobs of this type with this key run at once, across every process. */
  concurrencyKey?: string | null;
  /**
   * The W3C traceparent the job's attempt spans are children of. Default: the active span's, when
   * OpenTelemetry is on (a job enqueued while handling a request is traced under that request).
   */
  traceparent?: string | null;
  /**
   * Send the lifecycle's start events (UWS RUN, RIME ADMIT, Qiskit QUEUE). Default true; false
   * leaves a UWS job PENDING (a draft) and a RIME job REQUESTED.
   */
  start?: boolean;
  /**
   * Jobs this one waits for: it is not claimable until every one has ended, whatever its outcome
   * (a failed or cancelled dependency does not fail it: its handler reads how each ended in
   * `job.dependencies`, and decides). Written with the creation, in its transaction: a BLOCK
   * event on the job, a DEPENDENT event on each dependency still unfinished, and each one's ending
   * writes an UNBLOCK on the job in its own transaction. An unknown id: JOB_NOT_FOUND, and nothing
   * is written. With an idempotency key seen before, the first job is returned as it is.
   */
  dependsOn?: readonly number[];
}

/** `start()`'s options: the workers', and the scheduler loop's. */
export interface StartOptions extends RunnerOptions {
  /**
   * The scheduler loop (cron schedules, `schedule()`): on by default; `false` runs workers only.
   * `pollIntervalMs`: how often it looks for schedules made elsewhere (default 1000 ms); it wakes
   * at the next slot it knows in any case.
   */
  schedules?: boolean | { pollIntervalMs?: number };
}

export interface OwnerOption {
  /** Refuse unless the job belongs to this owner; omit for system and admin callers. */
  owner?: string | null;
}

/** `get` through a job type: the job comes back with that type's parameters and result. */
export interface GetOptions<T extends AnyJobType = AnyJobType> extends OwnerOption {
  /** Refuse (JOB_NOT_FOUND) unless the job is of this type; the result is typed by it. */
  type?: T;
}

/** The parameters and result types of a job type. */
export type ParamsOf<T> = T extends JobType<infer P, infer _R> ? P : never;
export type ResultOf<T> = T extends JobType<infer _P, infer R> ? R : never;

export class Phaseline {
  /** On SQLite: the engine itself, its values returned at once (the hot path stays as it was). */
  readonly #engine: Engine<SqliteStore> | null;
  /** On PostgreSQL: the engine once connected and migrated; every method awaits it first. */
  readonly #server: Promise<Engine<Store>> | null;
  readonly #lifecycles: LifecycleRegistry;
  readonly #clock: Clock;
  readonly #types = new Map<string, JobType<Json, Json>>();
  readonly #emitter: TypedEmitter;
  readonly #logger: Logger;
  /** `@opentelemetry/api`, when installed and telemetry is on. */
  readonly #otel: OtelApi | null;
  #runner: Runner | null = null;
  #scheduleLoop: ScheduleLoop | null = null;
  #closed = false;
  #observing = false;

  constructor(options: PhaselineOptions = {}) {
    // Lifecycles first: a wrong one is refused before a database file is created for it.
    const lifecycles = new LifecycleRegistry([...Object.values(builtInLifecycles), ...(options.lifecycles ?? [])]);
    this.#lifecycles = lifecycles;
    this.#clock = options.clock ?? Date.now;
    this.#logger = resolveLogger(options.logger);
    this.#emitter = new TypedEmitter(this.#logger);
    if (options.telemetry !== undefined && typeof options.telemetry !== 'boolean') throw new InvalidInputError('telemetry', 'must be true or false');
    this.#otel = options.telemetry === false ? null : otelApi();
    const engineOptions = {
      lifecycles,
      clock: this.#clock,
      logger: this.#logger,
      limits: (name: string) => {
        const type = this.#types.get(name);
        return type ? limitsOf(type) : undefined;
      },
      ...(options.snapshotCacheSize !== undefined ? { snapshotCacheSize: options.snapshotCacheSize } : {}),
    };
    const db = options.db ?? options.file ?? './phaseline.db';
    if (isPostgresUrl(db)) {
      this.#engine = null;
      this.#server = openServer(db, this.#logger).then((store) => {
        const engine = new Engine<Store>(store, engineOptions);
        engine.onDelete((jobIds) => this.#emitter.emit('job:deleted', { jobIds }));
        return engine;
      });
      // Seen by ready() and by each method; unawaited, a failed connection must not end the process.
      this.#server.catch(() => {});
      return;
    }
    const database = openDatabase(db, options);
    this.#engine = new Engine(new SqliteStore(database, { logger: this.#logger }), engineOptions);
    this.#server = null;
    this.#engine.onDelete((jobIds) => this.#emitter.emit('job:deleted', { jobIds }));
    attachEngine(this, this.#engine);
  }

  /** The logger given at creation (the silent one by default): HTTP and the app may log through it too. */
  get logger(): Logger {
    return this.#logger;
  }

  /**
   * Resolves once the database is open: at once on SQLite; on PostgreSQL once connected and
   * migrated, else rejects (STORE_UNAVAILABLE, NOT_A_PHASELINE_DATABASE), so a host learns at start-up.
   */
  async ready(): Promise<void> {
    if (this.#server) await this.#server;
  }

  /** The PostgreSQL engine, once open. */
  async #async(operation: string): Promise<Engine<Store>> {
    this.#assertOpen(operation);
    return this.#server!;
  }

  /** Forward the engine's transitions to the job events, from the first subscription on (until then the engine keeps nothing for observers). */
  #observeTransitions(): void {
    if (this.#observing) return;
    this.#observing = true;
    const listener = ({ job, event }: TransitionRecord) => {
      const wantsTransition = this.#emitter.has('job:transition');
      const wantsEnd = this.#emitter.has('job:ended') && job.endedAt !== null && event.stateBefore !== event.stateAfter;
      const wantsProgress = this.#emitter.has('job:progress') && event.type === 'PROGRESS';
      if (!wantsTransition && !wantsEnd && !wantsProgress) return;
      const view = toJob(job);
      if (wantsTransition) this.#emitter.emit('job:transition', { job: view, event: toJobEvent(event) });
      if (wantsEnd) this.#emitter.emit('job:ended', { job: view });
      if (wantsProgress) this.#emitter.emit('job:progress', { job: view });
    };
    if (this.#engine) this.#engine.onTransition(listener);
    else void this.#server!.then((engine) => engine.onTransition(listener), () => {});
  }

  // ── Job types ────────────────────────────────────────────────────────────

  /**
   * Register a job type (or a definition, made into one). Returns it, typed, for `enqueue` and `get`.
   * Refused now rather than at the first enqueue: an unknown lifecycle, and `attempts` above 1 on a
   * lifecycle that never sends a failed attempt back to the queue.
   */
  register<P = Json, R = Json>(type: JobType<P, R> | JobTypeDefinition<P, R>): JobType<P, R> {
    let made = defineJobType<P, R>(type);
    const lifecycle = this.#lifecycles.latest(made.lifecycle);
    if (made.attempts > 1 && canRetry(lifecycle) === false) {
      if (attemptsDefaulted(made)) made = { ...made, attempts: 1 }; // nobody asked for retries
      else throw new InvalidInputError(
        `attempts of ${made.name}`,
        `lifecycle ${lifecycle.name} never retries a failed attempt (no FAIL transition guarded by willRetry back to a queued state); set attempts: 1 or give the lifecycle one`,
      );
    }
    // A second type of one name would silently take over the first's jobs.
    const taken = this.#types.get(made.name);
    if (taken && (taken.handler as unknown) !== made.handler) throw new InvalidInputError(`job type ${made.name}`, 'is registered already');
    this.#types.set(made.name, made as unknown as JobType<Json, Json>);
    return made;
  }

  jobType(name: string): JobType<Json, Json> {
    const type = this.#types.get(name);
    if (!type) throw new UnknownJobTypeError(name);
    return type;
  }

  /** The lifecycles this instance knows, built-in and the app's own, every version. */
  lifecycles(): Lifecycle[] {
    return this.#lifecycles.all();
  }

  /** The registered job types. */
  jobTypes(): JobType<Json, Json>[] {
    return [...this.#types.values()];
  }

  /** Run a registered type's parameter validator (INVALID_INPUT when the parameters are refused). */
  validateParams(typeName: string, params: unknown): Json {
    return validateParams(this.jobType(typeName), params);
  }

  // ── Jobs ─────────────────────────────────────────────────────────────────

  /**
   * Enqueue a job of a registered type. Invalid parameters are refused with INVALID_INPUT and
   * nothing is written.
   * @returns the new job's id (or, with an idempotency key seen before, the first job's id).
   */
  async enqueue<P>(type: JobType<P, any> | string, params: P, options: EnqueueOptions = {}): Promise<number> {
    if (this.#engine) return this.#create(type, params, options).id;
    const engine = await this.#async('enqueue');
    return (await engine.create(this.#createOptions(type, params, options))).id;
  }

  /** Enqueue many jobs of one type in one transaction: all are written, or none. */
  async enqueueMany<P>(type: JobType<P, any> | string, items: ReadonlyArray<{ params: P } & EnqueueOptions>): Promise<number[]> {
    if (!this.#engine) {
      const engine = await this.#async('enqueueMany');
      const rows = await engine.createMany(items.map(({ params, ...options }) => this.#createOptions(type, params, options)));
      return rows.map((row) => row.id);
    }
    this.#assertOpen('enqueueMany');
    const rows = this.#engine.createMany(items.map(({ params, ...options }) => this.#createOptions(type, params, options)));
    return rows.map((row) => row.id);
  }

  #create<P>(typeOrName: JobType<P, any> | string, params: P, options: EnqueueOptions): { id: number } {
    this.#assertOpen('enqueue');
    return this.#engine!.create(this.#createOptions(typeOrName, params, options));
  }

  /** What the engine creates for an enqueue: parameters validated, defaults from the type. */
  #createOptions<P>(typeOrName: JobType<P, any> | string, params: P, options: EnqueueOptions): CreateOptions {
    const type = this.jobType(typeof typeOrName === 'string' ? typeOrName : typeOrName.name);
    const valid = validateParams(type, params);
    const now = this.#clock();
    if (options.delayMs !== undefined && (!Number.isFinite(options.delayMs) || options.delayMs < 0)) {
      throw new InvalidInputError('delayMs', 'must be a non-negative number');
    }
    if (typeof options.idempotencyKey === 'string' && options.idempotencyKey.startsWith(CHILD_KEY_PREFIX)) {
      throw new InvalidInputError('idempotencyKey', `keys beginning "${CHILD_KEY_PREFIX}" are reserved for child jobs (ctx.spawn)`);
    }
    const runAfter = options.runAt ?? (options.delayMs ? now + Math.round(options.delayMs) : null);
    const input: JobInput = {
      params: valid,
      priority: options.priority ?? type.priority,
      runAfter,
      executionDuration: options.executionDuration ?? type.executionDuration,
      destruction: options.destruction ?? null,
      quote: options.quote ?? null,
    };
    return {
      lifecycle: type.lifecycle,
      type: type.name,
      input,
      owner: options.owner ?? null,
      runId: options.runId ?? null,
      idempotencyKey: options.idempotencyKey ?? null,
      concurrencyKey: options.concurrencyKey ?? null,
      traceparent: traceparentOf(options.traceparent, this.#otel),
      ...(options.start !== undefined ? { start: options.start } : {}),
      ...(options.dependsOn !== undefined ? { dependsOn: [...new Set(options.dependsOn)] } : {}),
    };
  }

  /**
   * A job. Given `{ type }` (a registered job type), the job is refused unless it is of that type,
   * and comes back with that type's `params` and `result`.
   */
  async get<T extends AnyJobType = JobType<Json, Json>>(id: number, options: GetOptions<T> = {}): Promise<Job<ParamsOf<T>, ResultOf<T>>> {
    const owner = options.owner === undefined ? {} : { owner: options.owner };
    let row;
    if (this.#engine) {
      this.#assertOpen('get');
      row = this.#engine.get(id, owner);
    } else {
      row = await (await this.#async('get')).get(id, owner);
    }
    if (options.type && row.type !== options.type.name) throw new JobNotFoundError(id, options.type.name);
    return toJob<ParamsOf<T>, ResultOf<T>>(row);
  }

  /**
   * Jobs the filter takes (INVALID_INPUT for a malformed one). By creation, oldest first, unless
   * `last` (newest first by creation) or `order: 'newest'` / `beforeId` (newest first by id: keyset
   * pages, each `{ beforeId: lastIdOfThePageBefore, limit }`, that stay fast however many jobs there are).
   */
  async list(filter: ListFilter = {}): Promise<Job[]> {
    if (!this.#engine) return (await (await this.#async('list')).list(filter)).map((row) => toJob(row));
    this.#assertOpen('list');
    return this.#engine.list(filter).map((row) => toJob(row));
  }

  /**
   * How many jobs per lifecycle and top-level state (wire spelling), of the owner's only when
   * `owner` is given; states without jobs are not listed. Ordered by lifecycle, then state.
   */
  async countByState(filter: CountFilter = {}): Promise<StateCount[]> {
    if (!this.#engine) return (await this.#async('countByState')).countByState(filter);
    this.#assertOpen('countByState');
    return this.#engine.countByState(filter);
  }

  async history(id: number, options: OwnerOption = {}): Promise<JobEvent[]> {
    if (!this.#engine) {
      const engine = await this.#async('history');
      await engine.get(id, options);
      return (await engine.history(id)).map(toJobEvent);
    }
    this.#assertOpen('history');
    this.#engine.get(id, options);
    return this.#engine.history(id).map(toJobEvent);
  }

  /**
   * Send an event the job's machine accepts (UWS RUN/ABORT/HOLD/..., EcoTaxa RESTART/KILL, ...).
   * Naming the lifecycle (`{ lifecycle: 'uws' }`) type-checks the event against that lifecycle's
   * machine, and refuses (INVALID_INPUT) a job of another lifecycle.
   */
  async send<L extends keyof LifecycleEvents>(id: number, event: SendableEvent<L>, options: SendOptions & { lifecycle: L }): Promise<Job>;
  /** Any event; a lifecycle of your own may be named (checked at run time only), a built-in one takes the overload above. */
  async send<L extends string = never>(
    id: number,
    event: EventObject & Record<string, unknown>,
    options?: SendOptions & { lifecycle?: L extends keyof LifecycleEvents ? never : L },
  ): Promise<Job>;
  async send(id: number, event: EventObject & Record<string, unknown>, options: SendOptions & { lifecycle?: string } = {}): Promise<Job> {
    const { lifecycle, ...sendOptions } = options;
    const type = (event as { type?: unknown } | null)?.type;
    if (type === 'SLEEP' || type === 'WAIT' || type === 'WAKE') {
      throw new InvalidInputError('event.type', `${type} is the engine's own (a handler's ctx.sleep / ctx.waitFor and the claim that wakes it); it is not sent`);
    }
    if (type === 'BLOCK' || type === 'DEPENDENT' || type === 'UNBLOCK') {
      throw new InvalidInputError('event.type', `${type} is the engine's own (enqueue's dependsOn and a dependency's ending); it is not sent`);
    }
    if (!this.#engine) {
      const engine = await this.#async('send');
      if (lifecycle !== undefined) {
        const job = await engine.get(id, sendOptions.owner === undefined ? {} : { owner: sendOptions.owner });
        if (job.lifecycle !== lifecycle) throw new InvalidInputError('lifecycle', `job ${id} is a ${job.lifecycle} job, not ${lifecycle}`);
      }
      return toJob(await engine.send(id, event, sendOptions));
    }
    this.#assertOpen('send');
    if (lifecycle !== undefined) {
      const job = this.#engine.get(id, sendOptions.owner === undefined ? {} : { owner: sendOptions.owner });
      if (job.lifecycle !== lifecycle) throw new InvalidInputError('lifecycle', `job ${id} is a ${job.lifecycle} job, not ${lifecycle}`);
    }
    return toJob(this.#engine.send(id, event, sendOptions));
  }

  /** Answer a waiting job's question; it is resumed with the answer. */
  async reply(id: number, answer: Json, options: OwnerOption = {}): Promise<Job> {
    return this.send(id, { type: 'REPLY', reply: answer }, { ...options, actor: options.owner ?? null });
  }

  /**
   * Send a signal to a job: a handler waiting in `ctx.waitFor(name)` resumes with `payload`
   * (recorded in the history as a SIGNAL event). A job that does not wait for it yet (queued,
   * running, asleep, waiting for another name) keeps it, in order, for its first wait of that
   * name. A finished job refuses it (ILLEGAL_TRANSITION) and nothing is written.
   */
  async signal(id: number, name: string, payload: Json = null, options: OwnerOption = {}): Promise<Job> {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidInputError('name', 'must be a non-empty string');
    return this.send(id, { type: 'SIGNAL', name, payload }, { ...options, actor: options.owner ?? null });
  }

  /**
   * Cancel a job: one nobody runs ends at once; a running one when its handler stops (or after the
   * runner's grace period). What "cancelled" looks like is the lifecycle's: UWS ABORTED, EcoTaxa E
   * "Killed", RIME CANCELLED, Synapse FAILED with jobCanceling, Qiskit CANCELLED. Its unfinished
   * children (`ctx.spawn`) are cancelled in the same transaction, each by its own CANCEL, except
   * those spawned with `cancelWithParent: false`.
   */
  async cancel(id: number, options: OwnerOption = {}): Promise<Job> {
    return this.send(id, { type: 'CANCEL' }, { ...options, actor: options.owner ?? null });
  }

  /** Delete a job and its history (UWS DELETE). A running handler's signal fires and its later writes are refused. */
  async delete(id: number, options: OwnerOption = {}): Promise<void> {
    if (!this.#engine) {
      const engine = await this.#async('delete');
      await engine.get(id, options);
      await engine.deleteJobs([id]);
      return;
    }
    this.#assertOpen('delete');
    this.#engine.get(id, options);
    this.#engine.deleteJobs([id]);
  }

  // ── Replay ───────────────────────────────────────────────────────────────

  async replay(id: number): Promise<JobReplay> {
    if (!this.#engine) return replayJobAsync(await this.#async('replay'), id);
    this.#assertOpen('replay');
    return replayJob(this.#engine, id);
  }

  /**
   * Replay every job. A file database with only built-in lifecycles can replay over worker threads
   * (`threads`; by default from 100,000 jobs on, the machine's cores, at most 4); otherwise on this thread.
   */
  async replayAll(options: ParallelReplayOptions = {}): Promise<ReplaySummary> {
    if (!this.#engine) return replayAllAsync(await this.#async('replay'));
    this.#assertOpen('replay');
    return replayAllThreads(this.#engine, options);
  }

  /**
   * Every job with its whole history, by id, in the exported format (`phaseline export` writes one
   * a line; {@link replayHistories} reads them). With `since` (UTC ms), only the jobs changed at or
   * after that instant; with `id`, only that job (nothing when there is none). Each page of jobs is
   * read with its events in one read transaction.
   */
  async *histories(options: { since?: number; id?: number } = {}): AsyncGenerator<StoredHistory> {
    const { since, id } = options;
    if (since !== undefined) assertInstant(since, 'since');
    if (id !== undefined && !(Number.isSafeInteger(id) && id > 0)) throw new InvalidInputError('id', 'must be a job id (a positive integer)');
    const [from, to] = id === undefined ? [0, Number.MAX_SAFE_INTEGER] : [id - 1, id];
    const server = this.#engine ? null : await this.#async('histories');
    for (let after = from; after < to; ) {
      this.#assertOpen('histories');
      const { jobs, events } = this.#engine ? this.#engine.pageWithHistory(after, PAGE, to) : await server!.pageWithHistory(after, PAGE, to);
      if (jobs.length === 0) return;
      for (const { row, events: history } of jobsOfPage(jobs, events)) {
        if (since === undefined || row.updatedAt >= since) yield toStoredHistory(row, history);
      }
      after = jobs.at(-1)!.id;
    }
  }

  // ── Upgrades ─────────────────────────────────────────────────────────────

  /**
   * Move the unfinished jobs of a lifecycle to another registered version, each whose stored
   * history folds under that version exactly as under its own (the same states, engine tags and
   * derived row after every event): one transaction per job, recorded in its history as an
   * UPGRADE event (payload `{ from, to }`). The others stay where they are, listed with the first
   * difference. Workers then run the moved jobs through the new version's machine; every process
   * that runs them must know that version. An unknown lifecycle or version is refused
   * (UNKNOWN_LIFECYCLE) before anything is read or written.
   */
  async upgrade(options: UpgradeOptions): Promise<UpgradeReport> {
    this.#assertOpen('upgrade');
    const { lifecycle, to } = options ?? {};
    if (typeof lifecycle !== 'string') throw new InvalidInputError('lifecycle', 'must be a lifecycle name');
    if (!Number.isSafeInteger(to)) throw new InvalidInputError('to', 'must be a version (an integer)');
    if (options.actor != null) assertText(options.actor, 'actor');
    this.#lifecycles.get(lifecycle, to);
    const dryRun = options.dryRun === true;
    const report: UpgradeReport = { lifecycle, to, dryRun, upgraded: [], kept: [] };
    const server = this.#engine ? null : await this.#async('upgrade');
    const ids = this.#engine ? this.#engine.upgradeCandidates(lifecycle, to) : await server!.upgradeCandidates(lifecycle, to);
    const target = { lifecycle, version: to };
    const jobOptions = { actor: options.actor ?? null, dryRun };
    for (const id of ids) {
      this.#assertOpen('upgrade');
      let result;
      try {
        result = this.#engine ? this.#engine.upgrade(id, target, jobOptions) : await server!.upgrade(id, target, jobOptions);
      } catch (error) {
        if (isPhaselineError(error, 'JOB_NOT_FOUND')) continue; // deleted since it was listed
        throw error;
      }
      if (result.compatible) report.upgraded.push({ jobId: id, from: result.from });
      else report.kept.push({ jobId: id, from: result.from, reason: result.reason ?? 'it stays', divergence: result.divergence });
    }
    return report;
  }

  // ── Workers ──────────────────────────────────────────────────────────────

  /** Start workers in this process. Enqueues in this process wake them at once. */
  start(startOptions: StartOptions = {}): Workers {
    this.#assertOpen('start');
    if (this.#runner?.running) throw new InvalidInputError('start', 'workers are already running; stop them first');
    const { schedules = true, ...options } = startOptions;
    const schedulePollMs = typeof schedules === 'object' ? (schedules.pollIntervalMs ?? 1000) : 1000;
    if (!(Number.isFinite(schedulePollMs) && schedulePollMs >= 1)) throw new InvalidInputError('schedules.pollIntervalMs', 'must be a number of milliseconds of at least 1');
    // On PostgreSQL the workers' calls wait for the server (a failed connection is reported on
    // 'error' and retried with backoff, as a lost one is).
    const port = this.#engine ? enginePort(this.#engine) : pendingPort(this.#server!.then(enginePort), this.#clock);
    this.#runner = new Runner(port, this.#types, this.#emitter, options, this.#logger, this.#otel ? new AttemptTracing(this.#otel) : null);
    this.#runner.start();
    if (schedules !== false) {
      this.#scheduleLoop = new ScheduleLoop({
        tick: async () => {
          await this.runDueSchedules();
          return this.#nextSlot();
        },
        clock: this.#clock,
        pollIntervalMs: schedulePollMs,
        report: (error) => this.#emitter.emit('error', { error, where: 'scheduler' }),
      });
    }
    return this.#runner;
  }

  /** Stop the workers (running handlers get `graceMs` to finish, then their jobs are released) and the scheduler loop. */
  async stop(graceMs?: number): Promise<void> {
    const loop = this.#scheduleLoop;
    this.#scheduleLoop = null;
    await loop?.stop();
    await this.#runner?.stop(graceMs);
  }

  // ── Schedules ────────────────────────────────────────────────────────────

  /** The store, once open. */
  async #storeOf(operation: string): Promise<Store> {
    this.#assertOpen(operation);
    return this.#engine ? this.#engine.store : (await this.#async(operation)).store;
  }

  /**
   * Store a cron schedule: one job of `type` with `params` per slot of `cron` (five fields, or six
   * with seconds; croner's syntax), read in `timezone` (UTC by default). Exactly one job per slot,
   * whatever number of processes and hosts run the scheduler (`start()` runs it). `overlap: 'skip'`
   * enqueues nothing for a slot while the schedule's previous job is unfinished; `missed` says
   * what happens to slots that passed while no scheduler ran (see {@link MissedPolicy}). A schedule
   * of that name is replaced (its next slot kept when its pattern and zone stay). A wrong pattern,
   * time zone or option, an unknown job type or parameters its validator refuses: a typed error,
   * and nothing is stored. Its first slot is the first after now.
   */
  async schedule<P>(name: string, cron: string, type: JobType<P, any> | string, params: P, options: ScheduleOptions = {}): Promise<Schedule> {
    if (typeof name !== 'string' || name.length === 0 || !name.isWellFormed()) throw new InvalidInputError('name', 'must be a non-empty string');
    const jobType = this.jobType(typeof type === 'string' ? type : type.name);
    const valid = validateParams(jobType, params);
    const columns = scheduleColumns(options);
    const slots = cronSlots(cron, columns.timezone);
    const now = this.#clock();
    const first = slots.after(now);
    if (first === null) throw new InvalidInputError('cron', `${JSON.stringify(cron)} has no slot after now`);
    const store = await this.#storeOf('schedule');
    const row: ScheduleRow = {
      name, cron, type: jobType.name, params: valid, ...columns, paused: false, nextAt: first, lastJobId: null, createdAt: now, updatedAt: now,
    };
    const stored = await store.run('write', function* (tx) {
      if (yield* tx.insertSchedule(row)) return row;
      const old = (yield* tx.readSchedule(name))!;
      const same = old.cron === cron && old.timezone === columns.timezone;
      const { name: _name, createdAt: _created, ...change } = { ...row, nextAt: same ? old.nextAt : first, lastJobId: old.lastJobId, paused: old.paused };
      yield* tx.updateSchedule(name, change);
      return { ...row, ...change, createdAt: old.createdAt };
    });
    return toSchedule(stored);
  }

  /** Every stored schedule, by name. */
  async schedules(): Promise<Schedule[]> {
    const store = await this.#storeOf('schedules');
    return (await store.run('autocommit', (tx) => tx.listSchedules())).map(toSchedule);
  }

  /** Pause a schedule: no job for its slots until it is resumed. SCHEDULE_NOT_FOUND when there is none. */
  async pauseSchedule(name: string): Promise<Schedule> {
    return this.#changeSchedule('pauseSchedule', name, () => ({ paused: true }));
  }

  /** Resume a paused schedule from its next slot after now (the slots it was paused over are not run). */
  async resumeSchedule(name: string): Promise<Schedule> {
    return this.#changeSchedule('resumeSchedule', name, (row, now) => (row.paused ? { paused: false, nextAt: cronSlots(row.cron, row.timezone).after(now) ?? Number.MAX_SAFE_INTEGER } : {}));
  }

  /** Delete a schedule (its jobs stay). SCHEDULE_NOT_FOUND when there is none. */
  async deleteSchedule(name: string): Promise<void> {
    const store = await this.#storeOf('deleteSchedule');
    if (!(await store.run('write', (tx) => tx.deleteSchedule(name)))) throw new ScheduleNotFoundError(name);
  }

  async #changeSchedule(operation: string, name: string, change: (row: ScheduleRow, now: number) => Partial<ScheduleRow>): Promise<Schedule> {
    const store = await this.#storeOf(operation);
    const now = this.#clock();
    const row = await store.run('write', function* (tx) {
      const found = yield* tx.readSchedule(name);
      if (!found) throw new ScheduleNotFoundError(name);
      const set = { ...change(found, now), updatedAt: now };
      yield* tx.updateSchedule(name, set);
      return { ...found, ...set };
    });
    return toSchedule(row);
  }

  /**
   * Enqueue the jobs of every due slot (what the scheduler loop does at each look; call it
   * yourself with a manual clock, or without `start()`). Schedules of job types this instance has
   * not registered are left to a process that has. Returns the ids of the jobs enqueued (a slot
   * another scheduler enqueued first gives that job's id).
   */
  async runDueSchedules(): Promise<number[]> {
    const store = await this.#storeOf('runDueSchedules');
    const now = this.#clock();
    const due = await store.run('autocommit', (tx) => tx.dueSchedules(now, 100));
    const enqueued: number[] = [];
    for (const row of due) {
      if (!this.#types.has(row.type)) continue;
      const slots = cronSlots(row.cron, row.timezone);
      let lastJobId = row.lastJobId;
      for (const slot of planSlots(row, now, slots)) {
        if (row.overlap === 'skip' && lastJobId !== null) {
          const last = await this.get(lastJobId).catch(() => null);
          if (last && !last.terminal) continue; // the previous run is unfinished: this slot is skipped
        }
        try {
          lastJobId = await this.enqueue(row.type, row.params, { idempotencyKey: slotKey(row.name, slot) });
          enqueued.push(lastJobId);
        } catch (error) {
          // Parameters the type's validator now refuses: reported, and the slot passes.
          this.#emitter.emit('error', { error, where: `schedule ${row.name}` });
        }
      }
      const nextAt = slots.after(now) ?? Number.MAX_SAFE_INTEGER;
      // Guarded by the next_at read: a scheduler that handled these slots first has moved it on already.
      await store.run('write', (tx) => tx.updateSchedule(row.name, { nextAt, lastJobId, updatedAt: now }, row.nextAt));
    }
    return enqueued;
  }

  /** The earliest next slot of the unpaused schedules, or null. */
  async #nextSlot(): Promise<number | null> {
    const store = await this.#storeOf('runDueSchedules');
    const rows = await store.run('autocommit', (tx) => tx.listSchedules());
    const next = rows.filter((r) => !r.paused).map((r) => r.nextAt);
    return next.length > 0 ? Math.min(...next) : null;
  }

  // ── Events ───────────────────────────────────────────────────────────────

  on<K extends PhaselineEventName>(name: K, listener: Listener<K>): () => void {
    if (name === 'job:transition' || name === 'job:ended' || name === 'job:progress') this.#observeTransitions();
    return this.#emitter.on(name, listener);
  }

  /** Stop the workers and close the database. */
  async close(graceMs?: number): Promise<void> {
    if (this.#closed) return;
    await this.stop(graceMs);
    this.#closed = true;
    if (this.#engine) return this.#engine.store.close();
    // A server never reached has no pool left to close.
    const engine = await this.#server!.catch(() => null);
    await engine?.store.close();
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new ClosedError(operation);
  }
}

/**
 * PgStore.open, its failures typed and without the password (the driver's own errors may name the
 * URL). Imported on demand: `pg` is the host's to install, and SQLite users never load it.
 */
async function openServer(url: string, logger: Logger): Promise<PgStore> {
  let pgStore: typeof import('./db/pg-store.ts');
  try {
    pgStore = await import('./db/pg-store.ts');
  } catch {
    throw new StoreUnavailableError(redactUrl(url), 'cannot-open', 'the pg package is not installed (npm install pg)');
  }
  try {
    return await pgStore.PgStore.open(url, { logger });
  } catch (error) {
    if (error instanceof PhaselineError) throw error;
    throw new StoreUnavailableError(redactUrl(url), 'cannot-open', 'the connection URL or its options were refused');
  }
}

/** An enqueue's traceparent: the one given (checked), else the active span's. */
function traceparentOf(given: string | null | undefined, otel: OtelApi | null): string | null {
  if (given === undefined) return activeTraceparent(otel);
  if (given !== null && (typeof given !== 'string' || !isTraceparent(given))) throw new InvalidInputError('traceparent', 'must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)');
  return given;
}

/** Open a Phaseline database (created and migrated if needed). */
export function createPhaseline(options: PhaselineOptions = {}): Phaseline {
  return new Phaseline(options);
}

/**
 * The embedded worker loop: claim due jobs under a lease, run their handlers, turn each outcome
 * into an event, keep leases alive, and recover the jobs of workers that died. It acts through the
 * functions of a {@link RunnerPort} only (src/runner/port.ts), never on the engine or a store;
 * batching of final writes is src/runner/finals.ts, recovery src/runner/recovery.ts.
 *
 * Every write an attempt makes is fenced by its lease id, so a worker that lost its lease (its job
 * was cancelled, timed out, or recovered elsewhere) can never complete, fail or overwrite the job.
 */
import { randomUUID } from 'node:crypto';
import type { Json } from '../../machines/common.ts';
import type { Job } from '../engine/job-types.ts';
import { assertJson } from '../engine/validate.ts';
import { InvalidInputError, isPhaselineError, UnknownJobTypeError } from '../errors.ts';
import type { TypedEmitter } from '../events.ts';
import { backoffDelay, validateParams, type JobType } from '../jobtypes.ts';
import { LazyAbort } from './abort.ts';
import { createHandlerContext, type AttemptPort } from './context.ts';
import { FinalBatch } from './finals.ts';
import { LeaseWatch, newLeaseId } from './leases.ts';
import type { RunnerOptions, SweepOptions, Workers } from './options.ts';
import type { AttemptWrite, NewLease, Observed, RunnerEvent, RunnerPort, RunState } from './port.ts';
import { recoverExpired } from './recovery.ts';
import { longTimeout, MAX_TIMER_MS, type Timer } from './timers.ts';
import { childLogger, errorField, safeLog, silentLogger, type Logger } from '../logger.ts';
import type { AttemptSpan, AttemptTracing } from './tracing.ts';

export type { RunnerOptions } from './options.ts';

type EndReason = 'suspended' | 'cancelled' | 'timeout' | 'stopped' | 'lost';

interface Attempt {
  jobId: number;
  leaseId: string;
  actor: string;
  type: JobType<Json, Json>;
  job: Job;
  abort: LazyAbort;
  /** Why the attempt ended before its handler returned; unset while it runs normally. */
  reason?: EndReason;
  /** Resolves when the runner stops waiting for the handler (ask, lease lost, timeout, stop). */
  detach: () => void;
  timers: Timer[];
  /** Its OpenTelemetry span, when tracing (src/runner/tracing.ts). */
  span: AttemptSpan | null;
  /** How it ended, once known (for the span). */
  outcome?: string;
  error?: string;
}

export class Runner implements Workers {
  readonly workerId: string;
  readonly #port: RunnerPort;
  readonly #types: Map<string, JobType<Json, Json>>;
  readonly #emitter: TypedEmitter;
  readonly #opts: Required<Omit<RunnerOptions, 'workerId' | 'sweep'>> & { sweep: SweepOptions };
  readonly #active = new Map<number, Attempt>();
  #running = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #heartbeat: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | null = null;
  #lastMaintenance = -Infinity;
  #lastLeaseScan = -Infinity;
  /** Slots promised to claims in flight (an asynchronous store answers later): never claimed twice. */
  #reserved = 0;
  /** Waiting after failed claims: wake-ups wait too (stop() does not). */
  #backingOff = false;
  /** A heartbeat round still waiting for its answers: the next one is skipped, not stacked. */
  #beating = false;
  /** stop() has handed back the attempts it found: a claim that commits after that is handed back too. */
  #released = false;
  readonly #leases: LeaseWatch;
  /** Bound to this worker's id. */
  readonly #log: Logger;
  readonly #tracing: AttemptTracing | null;
  /** The span of each job's latest attempt until it ends: transitions observed after the attempt's slot is freed still reach it. */
  readonly #spans = new Map<number, AttemptSpan>();
  /** Wake-ups of jobs this process parked, by instant. */
  readonly #wakeTimers = new Map<number, Timer>();
  readonly #finals = new FinalBatch<{ attempt: Attempt; event: FinalEvent }>((finals) => this.#commitFinals(finals));

  constructor(port: RunnerPort, types: Map<string, JobType<Json, Json>>, emitter: TypedEmitter, options: RunnerOptions = {}, logger: Logger = silentLogger, tracing: AttemptTracing | null = null) {
    this.#tracing = tracing;
    this.#port = port;
    this.#types = types;
    this.#emitter = emitter;
    this.workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
    this.#log = childLogger(logger, { workerId: this.workerId });
    this.#opts = resolveOptions(options);
    this.#leases = new LeaseWatch(this.#opts.leaseMs);
  }

  get running(): boolean {
    return this.#running;
  }

  /** Jobs whose handlers run now in this runner. */
  get activeJobIds(): number[] {
    return [...this.#active.keys()];
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#released = false;
    const stopObserving = this.#port.onTransition((observed) => this.#observe(observed));
    const stopDeletions = this.#port.onDelete((ids) => {
      for (const id of ids) {
        const attempt = this.#active.get(id);
        if (attempt) this.#end(attempt, 'lost');
      }
    });
    // Another process's enqueue (PostgreSQL NOTIFY, a commit to the SQLite file): claim now, not at the next poll.
    // Only with a slot free: a wake-up while full would only make the loop look and wait again.
    const stopWaking = this.#port.onWake?.(() => {
      if (this.#free > 0) this.nudge();
    }) ?? (() => {});
    this.#unsubscribe = () => {
      stopObserving();
      stopDeletions();
      stopWaking();
    };
    this.#heartbeat = setInterval(() => void this.#beat(), this.#opts.heartbeatMs);
    this.#heartbeat.unref();
    this.#loop = this.#run();
  }

  /** Wake an idle worker at once (an enqueue in this process). */
  nudge(): void {
    // Backing off after failed claims: a wake-up (another process's commit) must not cut it short.
    if (this.#backingOff && this.#running) return;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /**
   * Stop claiming; let running handlers finish within `graceMs`, then release their jobs (the job
   * goes back to the queue without spending an attempt) so another worker resumes them.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (typeof graceMs !== 'number' || !(graceMs >= 0)) throw new InvalidInputError('graceMs', 'must be a number of milliseconds of at least 0');
    if (!this.#running) return;
    this.#running = false;
    this.nudge();
    await this.#loop;
    const deadline = performance.now() + graceMs;
    while ((this.#active.size > 0 || this.#reserved > 0) && performance.now() < deadline) {
      await sleep(Math.min(20, Math.max(1, deadline - performance.now())));
    }
    const releases: Promise<void>[] = [];
    for (const attempt of [...this.#active.values()]) {
      this.#end(attempt, 'stopped');
      releases.push(this.#write(attempt, { type: 'RELEASE' }));
    }
    this.#released = true;
    await Promise.all(releases);
    clearInterval(this.#heartbeat);
    for (const timer of this.#wakeTimers.values()) timer.clear();
    this.#wakeTimers.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      let claimed = 0;
      let free = 0;
      try {
        // Paced by the monotonic clock: a wall clock stepping back must not stop recovery.
        const tick = performance.now();
        if (tick - this.#lastMaintenance >= this.#opts.pollIntervalMs) {
          this.#lastMaintenance = tick;
          await this.#maintain(tick, this.#port.clock());
        }
        ({ claimed, free } = await this.#claimFreeSlots());
        failures = 0;
      } catch (error) {
        failures++;
        this.#emitter.emit('error', { error, where: `worker ${this.workerId}` });
      }
      if (!this.#running) break;
      if (failures > 0) {
        // The database is unreachable or busy: try again, less often each time (up to 5 s apart).
        this.#backingOff = true;
        await this.#idle(Math.min(Math.max(this.#opts.pollIntervalMs, 5000), this.#opts.pollIntervalMs * 2 ** (failures - 1)));
        this.#backingOff = false;
      } else if (claimed > 0 && claimed === free) {
        // Full: wait for a slot. Partly full after a claim: look again at once.
        await this.#idle(this.#opts.pollIntervalMs);
      } else if (claimed === 0) {
        if (this.#active.size === 0) this.#emitter.emit('runner:idle', { workerId: this.workerId });
        await this.#idle(this.#opts.pollIntervalMs);
      } else {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  #idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        // Let the other attempts that end in this turn free their slots too, so the next claim takes a batch.
        setImmediate(resolve);
      };
    });
  }

  /** Slots neither running a handler nor promised to a claim in flight. */
  get #free(): number {
    return this.#opts.concurrency - this.#active.size - this.#reserved;
  }

  /** One write transaction: pick due jobs in claim order for the free slots and move each to running under a new lease. */
  async #claimFreeSlots(): Promise<{ claimed: number; free: number }> {
    const free = this.#free;
    if (free <= 0) return { claimed: 0, free: 0 };
    this.#reserved += free;
    let jobs: Job[];
    try {
      jobs = await this.#port.claim(free, [...this.#types.keys()], this.#leaseFor);
    } finally {
      this.#reserved -= free;
    }
    for (const job of jobs) this.#begin(job);
    return { claimed: jobs.length, free };
  }

  /** A new lease for a claim at `now`, named after this worker. */
  readonly #leaseFor = (now: number): NewLease => {
    const leaseId = newLeaseId(this.#opts.leaseMs);
    return { leaseId, leaseExpiresAt: now + this.#opts.leaseMs, workerId: this.workerId, actor: `${this.workerId}/${leaseId}` };
  };

  #begin(job: Job): void {
    const type = this.#types.get(job.type)!;
    if (this.#released) {
      // Claimed by a transaction that committed after stop() released the last attempts: hand it back.
      void this.#write({ jobId: job.id, leaseId: job.lease!.id, actor: `${this.workerId}/${job.lease!.id}` }, { type: 'RELEASE' });
      return;
    }
    let detach!: () => void;
    const detached = new Promise<void>((resolve) => (detach = resolve));
    const attempt: Attempt = {
      jobId: job.id,
      leaseId: job.lease!.id,
      actor: `${this.workerId}/${job.lease!.id}`,
      type,
      job,
      abort: new LazyAbort(),
      detach,
      timers: [],
      span: this.#tracing?.start(job, this.workerId) ?? null,
    };
    if (attempt.span) this.#spans.set(job.id, attempt.span);
    this.#active.set(job.id, attempt);
    safeLog(this.#log, 'debug', { jobId: job.id, type: job.type, attempt: job.attempt, leaseId: attempt.leaseId }, 'job claimed');
    // A parked job woken because its cancellation was asked (RIME, Synapse: CANCEL waits for the
    // handler to stop): its signal fires at once and the runner ends it as it ends any cancelled attempt.
    if (job.cancelRequested) this.#check(attempt, { running: true, leaseId: attempt.leaseId, cancelRequested: true });
    if (job.executionDuration > 0) {
      // Each run gets the whole duration: time spent queued, retrying or waiting for a reply does not count.
      // A month-long limit is longer than one setTimeout can wait.
      attempt.timers.push(longTimeout(() => this.#timeout(attempt), job.executionDuration * 1000));
    }
    void this.#execute(attempt, detached).finally(() => {
      for (const timer of attempt.timers) timer.clear();
      this.#release(attempt);
      if (attempt.span) {
        attempt.span.end(attempt.outcome ?? attempt.reason ?? 'ended', attempt.error);
        if (this.#spans.get(attempt.jobId) === attempt.span) this.#spans.delete(attempt.jobId);
      }
      this.nudge();
    });
  }

  async #execute(attempt: Attempt, detached: Promise<void>): Promise<void> {
    const { type, job } = attempt;
    const port: AttemptPort = {
      send: (event) => this.#port.write(writeOf(attempt, event)),
      canAsk: () => this.#port.accepts(job.id, 'ASK', job),
      suspend: (wakeAt) => {
        this.#end(attempt, 'suspended');
        if (wakeAt != null) this.#wakeAt(wakeAt);
      },
      live: () => !attempt.reason && this.#active.get(attempt.jobId) === attempt,
      clock: () => this.#port.clock(),
      spawn: (typeName, params, idempotencyKey, stepName, detached) => {
        const child = this.#types.get(typeName);
        if (!child) throw new UnknownJobTypeError(typeName);
        const options = {
          lifecycle: child.lifecycle,
          type: child.name,
          input: { params: validateParams(child, params), priority: child.priority, runAfter: null, executionDuration: child.executionDuration, destruction: null, quote: null },
          idempotencyKey,
          // The child's attempts are traced under this attempt's span.
          traceparent: attempt.span?.traceparent() ?? null,
          actor: attempt.actor,
        };
        return this.#port.spawn({ jobId: job.id, leaseId: attempt.leaseId, actor: attempt.actor }, stepName, options, detached);
      },
      progressIntervalMs: this.#opts.progressIntervalMs,
      // The rate limit measures elapsed time, which a wall clock stepping back would stretch.
      now: () => performance.now(),
    };
    const context = createHandlerContext(job, attempt.abort, port);
    let outcome: { ok: true; result: Json } | { ok: false; error: unknown };
    try {
      const validated = await this.#port.validationEvent(job);
      if (validated !== null) {
        // A claim into a state tagged validating (Qiskit VALIDATING): the type's validator first.
        validateParams(type, job.params);
        await port.send({ type: validated });
      }
      const running = attempt.span ? attempt.span.run(() => type.handler(context)) : type.handler(context);
      const result = await Promise.race([running, detached.then(() => DETACHED)]);
      if (result === DETACHED) return;
      assertJson(result ?? null, `result of ${job.type}`);
      outcome = { ok: true, result: (result ?? null) as Json };
    } catch (error) {
      outcome = { ok: false, error };
    }
    if (attempt.reason && attempt.reason !== 'cancelled') return; // someone else ended the attempt
    try {
      await context.flushProgress();
    } catch {
      // The lease may be gone; the final write below tells.
    }
    if (attempt.reason === 'cancelled') {
      await this.#finish(attempt, { type: 'CANCEL_DONE' });
    } else if (outcome.ok) {
      await this.#finish(attempt, { type: 'SUCCEED', result: outcome.result });
    } else {
      const error = describeError(outcome.error);
      // The retry instant is taken when the FAIL is written, so the backoff counts from the failure as stored.
      await this.#finish(attempt, () => ({ type: 'FAIL', error, ...this.#retry(job.type, job.attempt) }));
    }
  }

  /**
   * An attempt's last write, committed together with the other attempts that end in the same turn
   * of the event loop: one transaction (and, at synchronous FULL, one fsync) for many jobs.
   */
  #finish(attempt: Attempt, event: FinalEvent): Promise<void> {
    return this.#finals.add({ attempt, event });
  }

  async #commitFinals(finals: Array<{ attempt: Attempt; event: FinalEvent }>): Promise<void> {
    let reserved = 0;
    // What each attempt's last write was, and which were refused (reset when the store runs the transaction again).
    const written = new Map<number, RunnerEvent>();
    const refused = new Set<number>();
    try {
      // The ending attempts' slots go to the next due jobs in the same transaction (as BullMQ's
      // moveToFinished fetches the next job): one commit per job instead of two.
      const next = await this.#port.finish(
        finals.map(({ attempt, event }, i) => () => {
          if (i === 0) refused.clear();
          const write = writeOf(attempt, typeof event === 'function' ? event() : event);
          written.set(attempt.jobId, write.event);
          return write;
        }),
        (write, error) => {
          refused.add(write.jobId);
          this.#reportWrite(write, error);
        },
        () => {
          for (const { attempt } of finals) this.#release(attempt);
          // Called again when the store runs the transaction again: the first call's slots are freed first.
          this.#reserved -= reserved;
          reserved = this.#running ? Math.max(0, this.#free) : 0;
          this.#reserved += reserved;
          return { limit: reserved, types: [...this.#types.keys()], leaseFor: this.#leaseFor };
        },
        finals.map(({ attempt }) => attempt.jobId),
      );
      for (const { attempt } of finals) {
        const event = written.get(attempt.jobId);
        if (!event) continue;
        if (refused.has(attempt.jobId)) {
          attempt.outcome ??= 'lost';
          continue;
        }
        attempt.outcome = OUTCOMES[event.type] ?? event.type;
        if (event.type === 'FAIL') attempt.error = (event.error as { message?: string } | undefined)?.message ?? 'failed';
        if (this.#log !== silentLogger) this.#logEnd(attempt, event);
      }
      for (const job of next) this.#begin(job);
    } catch (error) {
      // The batch could not commit (e.g. the database is busy past its timeout, or unreachable):
      // the jobs' leases will expire and recovery retries them.
      this.#emitter.emit('error', { error, where: 'final writes' });
    } finally {
      this.#reserved -= reserved;
    }
  }

  /** An attempt's last write committed: debug for a success, info for a failure or a cancellation. */
  #logEnd(attempt: Attempt, event: RunnerEvent): void {
    const outcome = OUTCOMES[event.type] ?? event.type;
    const fields: Record<string, unknown> = { jobId: attempt.jobId, type: attempt.job.type, attempt: attempt.job.attempt, outcome };
    if (event.type === 'FAIL') {
      fields.err = { message: (event.error as { message?: string } | undefined)?.message };
      fields.retryAt = event.retryAt ?? null;
    }
    safeLog(this.#log, outcome === 'succeeded' ? 'debug' : 'info', fields, 'attempt ended');
  }

  /** Free an attempt's slot (once; a job claimed again meanwhile keeps its new attempt). */
  #release(attempt: Attempt): void {
    if (this.#active.get(attempt.jobId) === attempt) this.#active.delete(attempt.jobId);
  }

  /** `{ retryAt }` when the type has attempts left after attempt `attempt`, else nothing. */
  #retry(typeName: string, attempt: number): { retryAt?: number } {
    const type = this.#types.get(typeName);
    const attempts = type?.attempts ?? 3;
    if (attempt >= attempts) return {};
    const delay = type ? backoffDelay(type.backoff, attempt, this.#opts.random) : 1000;
    return { retryAt: this.#port.clock() + delay };
  }

  /** A final, fenced write for an attempt; a lost lease or a job already moved on is reported, never thrown. */
  async #write(attempt: Pick<Attempt, 'jobId' | 'leaseId' | 'actor'>, event: RunnerEvent): Promise<void> {
    const write = writeOf(attempt, event);
    try {
      await this.#port.write(write);
    } catch (error) {
      this.#reportWrite(write, error);
    }
  }

  #reportWrite(write: AttemptWrite, error: unknown): void {
    if (isPhaselineError(error, 'LEASE_LOST') || isPhaselineError(error, 'ILLEGAL_TRANSITION')) {
      safeLog(this.#log, 'warn', { jobId: write.jobId, leaseId: write.leaseId, event: write.event.type, err: errorField(error) }, 'lease lost: write refused');
      this.#emitter.emit('job:lease-lost', { jobId: write.jobId, leaseId: write.leaseId });
    } else {
      this.#emitter.emit('error', { error, where: `job ${write.jobId} ${write.event.type}` });
    }
  }

  /**
   * A job parked by this process wakes at `at`: claim then instead of at the next poll (other
   * processes' parked jobs are found by the poll). One timer per instant, unref'd.
   */
  #wakeAt(at: number): void {
    if (this.#wakeTimers.has(at)) return;
    // Beyond setTimeout's reach the poll finds the job; unref'd, so a parked job keeps no process alive.
    const handle = setTimeout(() => {
      this.#wakeTimers.delete(at);
      if (this.#running && this.#free > 0) this.nudge();
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - this.#port.clock())));
    handle.unref();
    this.#wakeTimers.set(at, { clear: () => clearTimeout(handle) });
  }

  /** Mark the attempt over (once), fire its signal and stop waiting for its handler. */
  #end(attempt: Attempt, reason: EndReason): void {
    if (attempt.reason && attempt.reason !== 'cancelled') return;
    attempt.reason = reason;
    if (reason !== 'cancelled') attempt.outcome ??= reason;
    if (reason === 'lost') safeLog(this.#log, 'warn', { jobId: attempt.jobId, type: attempt.job.type, attempt: attempt.job.attempt, leaseId: attempt.leaseId }, 'lease lost');
    if (reason !== 'suspended') attempt.abort.abort(new Error(`job ${attempt.jobId} ${reason}`));
    if (reason !== 'cancelled') attempt.detach();
  }

  #timeout(attempt: Attempt): void {
    if (attempt.reason && attempt.reason !== 'cancelled') return;
    safeLog(this.#log, 'info', { jobId: attempt.jobId, type: attempt.job.type, attempt: attempt.job.attempt, outcome: 'timeout' }, 'attempt timed out');
    void this.#write(attempt, { type: 'TIMEOUT', ...this.#retry(attempt.job.type, attempt.job.attempt) });
    this.#end(attempt, 'timeout');
  }

  /** React to a committed transition of a job this runner is running. */
  #observe({ job, actor, type }: Observed): void {
    // The claim is the span's first event already; a later one starts the next attempt's span.
    if (type !== 'CLAIM') this.#spans.get(job.id)?.event(type, job.state);
    const attempt = this.#active.get(job.id);
    if (job.claimable && !attempt) this.nudge();
    if (!attempt || actor === attempt.actor) return;
    this.#check(attempt, job);
  }

  #check(attempt: Attempt, row: RunState): void {
    if (!row.running || row.leaseId !== attempt.leaseId) {
      this.#end(attempt, 'lost');
    } else if (row.cancelRequested && !attempt.reason) {
      this.#end(attempt, 'cancelled');
      const grace = longTimeout(() => {
        if (attempt.reason !== 'cancelled') return;
        void this.#write(attempt, { type: 'CANCEL_DONE' });
        attempt.reason = 'lost';
        attempt.detach();
      }, this.#opts.cancelGraceMs);
      attempt.timers.push(grace);
    }
  }

  /** Heartbeat: renew every active lease; a lease that cannot be renewed was lost. */
  async #beat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    const expiresAt = this.#port.clock() + this.#opts.leaseMs;
    const beat = async (attempt: Attempt) => {
      try {
        const { renewed, state } = await this.#port.heartbeat(attempt.jobId, attempt.leaseId, expiresAt);
        if (!renewed) this.#check(attempt, state ?? { running: false, leaseId: null, cancelRequested: false });
        // Cancellation requested from another process shows up here.
        else if (state?.cancelRequested) this.#check(attempt, state);
      } catch (error) {
        this.#emitter.emit('error', { error, where: `heartbeat of job ${attempt.jobId}` });
      }
    };
    try {
      await Promise.all([...this.#active.values()].filter((a) => !a.reason || a.reason === 'cancelled').map(beat));
    } finally {
      this.#beating = false;
    }
  }

  /** Recover expired leases (judged by {@link LeaseWatch}, on no other host's clock), then destruction and retention. */
  async #maintain(tick: number, now: number): Promise<void> {
    const report = (error: unknown, where: string) => this.#emitter.emit('error', { error, where });
    // The scan reads every running job: a tenth of the shortest lease seen apart is often enough (a
    // recovery comes at most that much later, also of a holder whose lease is shorter than ours)
    // and costs a fraction of a scan per poll.
    if (tick - this.#lastLeaseScan >= this.#leases.shortestMs / 10) {
      this.#lastLeaseScan = tick;
      await recoverExpired(this.#port, this.#leases, {
        isActive: (id) => this.#active.has(id),
        retry: (type, attempt) => this.#retry(type, attempt),
        actor: `${this.workerId}/recovery`,
        report,
        recovered: (lease, event) =>
          safeLog(this.#log, 'info', { jobId: lease.id, type: lease.type, attempt: lease.attempt, event }, 'job recovered from an expired lease'),
      });
    }
    await this.#port.sweep(now, this.#opts.sweep, report);
  }
}

const DETACHED = Symbol('detached');

/** The outcome an attempt's last event records, as logged. */
const OUTCOMES: Record<string, string> = { SUCCEED: 'succeeded', FAIL: 'failed', CANCEL_DONE: 'cancelled', RELEASE: 'released', TIMEOUT: 'timeout' };

/**
 * The options with their defaults, refused with INVALID_INPUT when out of range: a poll, heartbeat
 * or progress interval above setTimeout's 32-bit limit would fire after 1 ms instead, and a
 * heartbeat no shorter than the lease would let every lease run out between two heartbeats.
 */
function resolveOptions(options: RunnerOptions): Required<Omit<RunnerOptions, 'workerId' | 'sweep'>> & { sweep: SweepOptions } {
  const leaseMs = options.leaseMs ?? 30_000;
  // An integer, as lease ids name it (leases.ts); at least 2 ms, so a heartbeat fits inside it.
  integer('leaseMs', leaseMs, 2, Number.MAX_SAFE_INTEGER);
  const resolved = {
    concurrency: options.concurrency ?? 1,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    leaseMs,
    heartbeatMs: options.heartbeatMs ?? Math.max(1, Math.min(MAX_TIMER_MS, Math.floor(leaseMs / 3))),
    progressIntervalMs: options.progressIntervalMs ?? 250,
    cancelGraceMs: options.cancelGraceMs ?? 5000,
    random: options.random ?? Math.random,
    sweep: options.sweep ?? {},
  };
  integer('concurrency', resolved.concurrency, 1, Number.MAX_SAFE_INTEGER);
  duration('pollIntervalMs', resolved.pollIntervalMs, 0, MAX_TIMER_MS);
  duration('heartbeatMs', resolved.heartbeatMs, 1, MAX_TIMER_MS);
  if (resolved.heartbeatMs >= leaseMs) throw new InvalidInputError('heartbeatMs', `must be shorter than leaseMs (${leaseMs})`);
  duration('progressIntervalMs', resolved.progressIntervalMs, 0, MAX_TIMER_MS);
  duration('cancelGraceMs', resolved.cancelGraceMs, 0, Number.MAX_VALUE); // a long timer: any length works
  if (typeof resolved.random !== 'function') throw new InvalidInputError('random', 'must be a function');
  const { retentionMs, destroy, batch } = resolved.sweep;
  if (retentionMs !== undefined && retentionMs !== null) duration('sweep.retentionMs', retentionMs, 0, Number.MAX_VALUE);
  if (destroy !== undefined && destroy !== 'archive' && destroy !== 'delete') throw new InvalidInputError('sweep.destroy', "must be 'archive' or 'delete'");
  if (batch !== undefined) integer('sweep.batch', batch, 1, Number.MAX_SAFE_INTEGER);
  return resolved;
}

function duration(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidInputError(field, `must be a number of milliseconds from ${min} to ${max}`);
  }
}

function integer(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidInputError(field, `must be an integer from ${min} to ${max}`);
  }
}

function writeOf(attempt: Pick<Attempt, 'jobId' | 'leaseId' | 'actor'>, event: RunnerEvent): AttemptWrite {
  return { jobId: attempt.jobId, leaseId: attempt.leaseId, actor: attempt.actor, event };
}

/** An attempt's last event, or a function that makes it when it is written. */
type FinalEvent = RunnerEvent | (() => RunnerEvent);

function describeError(error: unknown): { message: string; name?: string; stack?: string; kind: 'transient' | 'fatal' } {
  if (error instanceof Error) {
    return { message: error.message, name: error.name, ...(error.stack ? { stack: error.stack } : {}), kind: 'transient' };
  }
  return { message: String(error), kind: 'transient' };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

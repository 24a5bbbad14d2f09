/**
 * What a handler sees while it runs one attempt of a job. Every write it makes is fenced by the
 * attempt's lease: once the lease is gone (cancelled, timed out, recovered by another worker),
 * writes are refused and the handler's signal has fired.
 */
import type { Json } from '../../machines/common.ts';
import type { Job } from '../engine/job-types.ts';
import { IllegalTransitionError, InvalidInputError, SignalTimeoutError } from '../errors.ts';
import { childKey, childSignal, SPAWN_STEP_PREFIX, spawnedChild, type WaitRecord } from '../engine/parking.ts';
import { assertJson } from '../engine/validate.ts';
import type { LazyAbort } from './abort.ts';
import type { Maybe } from '../engine/types.ts';

export interface HandlerContext<Params = Json> {
  /** The job as it was claimed. */
  readonly job: Job<Params>;
  readonly params: Params;
  /** The attempt number, from 1. A resume after a reply continues the same attempt. */
  readonly attempt: number;
  /** Fires on cancellation, when the execution duration runs out, and when the runner stops. */
  readonly signal: AbortSignal;
  /**
   * Report progress as a percentage, or as `{ current, total }`. Writes are rate-limited; the last
   * report is always stored before the attempt ends.
   */
  progress(value: number | { current: number; total: number }, message?: string | null): Promise<void>;
  /**
   * Ask a question and wait for the reply. The job moves to its lifecycle's waiting state and the
   * attempt ends; after `reply()` the job is claimed again and the handler runs from the top, its
   * finished steps skipped, and this call returns the reply. Lifecycles without a waiting state
   * refuse it with an ILLEGAL_TRANSITION error.
   */
  ask<Reply extends Json = Json>(question: Json, message?: string): Promise<Reply>;
  /** A durable step: its result is stored in the history, and a resumed or retried job gets it back without running `fn`. */
  step<T extends Json>(name: string, fn: () => Promise<T> | T): Promise<T>;
  /** Store internal state (EcoTaxa `inside`) and optionally the step number. */
  checkpoint(inside: Json, step?: number | null): Promise<void>;
  /**
   * A durable sleep of `ms` milliseconds. The wake instant is recorded in the history (a SLEEP
   * event) and the attempt ends, giving its worker slot and lease back; the job keeps its
   * lifecycle's running state. At the instant a worker takes it up again and the handler runs from
   * the top: finished steps return their results, this call returns at once. A crash neither
   * restarts the sleep nor skips it: the recorded instant stands. A negative or non-finite `ms`,
   * or a call after the attempt ended, is refused (INVALID_INPUT) and nothing is written.
   */
  sleep(ms: number): Promise<void>;
  /** {@link sleep} until an instant (UTC ms, or a Date); one in the past returns at once. */
  sleepUntil(instant: number | Date): Promise<void>;
  /**
   * Wait for `phaseline.signal(jobId, name, payload)` and return its payload. Parks the job as
   * {@link sleep} does (a WAIT event), until the signal comes or `timeout` ms have passed; then
   * the handler runs from the top and this call returns the payload, or throws a
   * {@link SignalTimeoutError}. A signal sent earlier (even before the handler started) is kept
   * and taken by the first wait for its name. Each call's outcome is recorded, so a re-entered
   * handler's k-th wait gets the same answer.
   */
  waitFor<Payload extends Json = Json>(name: string, options?: { timeout?: number }): Promise<Payload>;
  /**
   * Enqueue a child job of a registered type, as a durable step named `spawn:<name>`: the child
   * and the step that records its id are written in one transaction (fenced by this attempt's
   * lease), so a re-entered or recovered handler gets the same child's id back and no crash makes
   * a second child or one the parent does not list (`job.children`). The child's idempotency key is
   * `child:<parentId>:<name>` (`job.parentId`) and it is traced under this attempt's span.
   * Cancelling the parent cancels its unfinished children, unless `cancelWithParent: false`.
   */
  spawn(name: string, type: string | { name: string }, params: Json, options?: SpawnOptions): Promise<number>;
  /**
   * Wait until each child has ended (in the order given) and return how each ended. A child's
   * ending signals its parent in the same transaction, so this parks like `waitFor` (one wait per
   * child still running) and never misses one. `timeout` applies to each wait
   * ({@link SignalTimeoutError}).
   */
  join(ids: readonly number[], options?: { timeout?: number }): Promise<ChildOutcome[]>;
}

/** `ctx.spawn`'s options. */
export interface SpawnOptions {
  /** Cancel the child when its parent is cancelled (its lifecycle's CANCEL, in the parent's cancelling transaction). Default true. */
  cancelWithParent?: boolean;
}

/** How a child job ended, as its parent's `join` returns it. */
export interface ChildOutcome {
  id: number;
  /** The child's wire state (`COMPLETED`, `JOB_STATUS_FAILED`, ...). */
  state: string;
  /** null: the child was deleted before it ended. */
  outcome: 'succeeded' | 'failed' | 'cancelled' | null;
  result: Json | null;
}

/** What the runner gives the context to act with; every call is fenced by the attempt's lease. */
export interface AttemptPort {
  send(event: { type: string } & Record<string, unknown>): Maybe<Job>;
  canAsk(): Maybe<boolean>;
  /** Called once the job has gone to a waiting state or parked (waking at `wakeAt`): the attempt is over. */
  suspend(wakeAt?: number | null): void;
  /** Whether the attempt is still the handler's (false once it ended: its writes are refused). */
  live(): boolean;
  /** The engine's clock (UTC ms): wake instants are on it. */
  clock(): number;
  /**
   * Enqueue a child of a registered type under an idempotency key and record it in the step
   * `stepName` (`{ id, cancelWithParent: false }` when detached, else its id), in one fenced
   * transaction; the child's id.
   */
  spawn(type: string, params: Json, idempotencyKey: string, stepName: string, detached: boolean): Maybe<number>;
  progressIntervalMs: number;
  now(): number;
}

/** The context, plus what the runner needs to finish the attempt. */
export interface AttemptContext<Params extends Json> extends HandlerContext<Params> {
  /** Store the last progress report if it is still held back by the rate limit. */
  flushProgress(): Promise<void>;
}

const NEVER = new Promise<never>(() => {});

export function createHandlerContext<Params extends Json>(
  job: Job<Params>,
  abort: LazyAbort,
  port: AttemptPort,
): AttemptContext<Params> {
  const steps: Record<string, Json> = { ...job.steps };
  const replies = job.replies;
  let asks = 0;
  // The handler's durable waits so far, as stored, and how many this run has made (the k-th call is the k-th record).
  let waits: WaitRecord[] = job.waits;
  let parks = 0;

  const refuseOutside = (what: string): void => {
    if (!port.live()) throw new InvalidInputError(what, 'called outside its handler (the attempt has ended); nothing was written');
  };
  /** Write a park event; the attempt ends when it parked the job, else the record says what happened. */
  const park = async (event: { type: 'SLEEP' | 'WAIT' } & Record<string, unknown>, index: number): Promise<WaitRecord> => {
    await flushProgress();
    const after = await port.send(event);
    waits = after.waits;
    if (after.parked) {
      port.suspend(after.parked.wakeAt);
      return NEVER; // the attempt is over; the handler resumes from the top at the wake instant
    }
    return waits[index]!;
  };
  const mismatch = (index: number, record: WaitRecord, asked: string): never => {
    const was = record.kind === 'sleep' ? 'a sleep' : `a wait for ${JSON.stringify(record.name)}`;
    throw new InvalidInputError('handler', `its durable wait #${index + 1} was ${was} on an earlier run, ${asked} now: a handler must make its sleeps and waits in the same order each run`);
  };
  const sleepUntil = async (until: number): Promise<void> => {
    const index = parks++;
    const record = waits[index];
    if (record && record.kind !== 'sleep') mismatch(index, record, 'a sleep');
    // Recorded already: that instant stands (a restart neither restarts the sleep nor skips it).
    const wakeAt = record?.kind === 'sleep' ? record.until : until;
    if (record && wakeAt <= port.clock()) return;
    await park({ type: 'SLEEP', until: wakeAt, index }, index);
  };
  let held: { type: 'PROGRESS' } & Record<string, unknown> | null = null;
  let lastWrite = -Infinity;
  let timer: NodeJS.Timeout | undefined;

  const flushProgress = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!held) return;
    const event = held;
    held = null;
    lastWrite = port.now();
    await port.send(event);
  };

  return {
    job,
    params: job.params,
    attempt: job.attempt,
    get signal() {
      return abort.signal;
    },
    async progress(value, message) {
      const event: { type: 'PROGRESS' } & Record<string, unknown> =
        typeof value === 'number' ? { type: 'PROGRESS', percent: value } : { type: 'PROGRESS', current: value.current, total: value.total };
      if (message !== undefined) event.message = message;
      held = event;
      const wait = lastWrite + port.progressIntervalMs - port.now();
      if (wait <= 0) await flushProgress();
      else if (!timer) {
        timer = setTimeout(() => {
          flushProgress().catch(() => {
            // The attempt ended meanwhile; its end stored the last figure or the lease is gone.
          });
        }, wait);
        timer.unref();
      }
    },
    async ask<Reply extends Json>(question: Json, message?: string) {
      const index = asks++;
      if (index < replies.length) return replies[index] as Reply;
      if (!(await port.canAsk())) {
        throw new IllegalTransitionError(job.id, job.lifecycle, job.state, 'ASK', `the ${job.lifecycle} lifecycle has no waiting state, so the job cannot ask a question`);
      }
      await flushProgress();
      await port.send({ type: 'ASK', question, ...(message !== undefined ? { message } : {}) });
      port.suspend();
      return NEVER; // the attempt is over; the handler resumes from the top after the reply
    },
    async step<T extends Json>(name: string, fn: () => Promise<T> | T) {
      if (Object.hasOwn(steps, name)) return steps[name] as T;
      // An attempt that lost its lease must not start another side effect.
      abort.throwIfAborted();
      const result = await fn();
      assertJson(result, `result of step ${name}`);
      await port.send({ type: 'STEP', name, result });
      steps[name] = result;
      return result;
    },
    async checkpoint(inside, step) {
      await port.send({ type: 'CHECKPOINT', inside, ...(step !== undefined ? { step } : {}) });
    },
    async sleep(ms) {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new InvalidInputError('ms', 'must be a finite number of milliseconds of at least 0');
      refuseOutside('ctx.sleep');
      return sleepUntil(port.clock() + Math.ceil(ms));
    },
    async sleepUntil(instant) {
      const at = instant instanceof Date ? instant.getTime() : instant;
      if (typeof at !== 'number' || !Number.isFinite(at) || at < 0) throw new InvalidInputError('instant', 'must be an instant (UTC ms or a valid Date)');
      refuseOutside('ctx.sleepUntil');
      return sleepUntil(Math.ceil(at));
    },
    async waitFor<Payload extends Json>(name: string, options: { timeout?: number } = {}) {
      if (typeof name !== 'string' || name.length === 0 || !name.isWellFormed()) throw new InvalidInputError('name', 'must be a non-empty string');
      const { timeout } = options;
      if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0)) {
        throw new InvalidInputError('timeout', 'must be a finite number of milliseconds of at least 0');
      }
      refuseOutside('ctx.waitFor');
      const index = parks++;
      let record = waits[index];
      if (record && (record.kind !== 'signal' || record.name !== name)) mismatch(index, record, `a wait for ${JSON.stringify(name)}`);
      if (!record || (record.kind === 'signal' && record.outcome === 'pending')) {
        const until = record?.kind === 'signal' ? record.until : timeout === undefined ? null : port.clock() + Math.ceil(timeout);
        record = await park({ type: 'WAIT', signal: name, until, index }, index);
      }
      if (record.kind === 'signal' && record.outcome === 'signal') return (record.payload ?? null) as Payload;
      throw new SignalTimeoutError(job.id, name, (record as { until: number | null }).until ?? 0);
    },
    async spawn(name, type, params, options = {}) {
      if (typeof name !== 'string' || name.length === 0) throw new InvalidInputError('name', 'must be a non-empty string');
      const { cancelWithParent = true } = options ?? {};
      if (typeof cancelWithParent !== 'boolean') throw new InvalidInputError('cancelWithParent', 'must be true or false');
      refuseOutside('ctx.spawn');
      const stepName = `${SPAWN_STEP_PREFIX}${name}`;
      if (Object.hasOwn(steps, stepName)) return spawnedChild(steps[stepName])!.id;
      abort.throwIfAborted();
      const typeName = typeof type === 'string' ? type : type?.name;
      const id = await port.spawn(typeName, params, childKey(job.id, name), stepName, !cancelWithParent);
      steps[stepName] = cancelWithParent ? id : { id, cancelWithParent: false };
      return id;
    },
    async join(ids, options = {}) {
      if (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id) && id > 0)) throw new InvalidInputError('ids', 'must be an array of job ids');
      const outcomes: ChildOutcome[] = [];
      for (const id of ids) outcomes.push(await this.waitFor<ChildOutcome & Json>(childSignal(id), options));
      return outcomes;
    },
    flushProgress,
  };
}

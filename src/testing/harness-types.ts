/**
 * The options and handle of {@link createTestHarness}, in a module of their own that names no
 * store or driver type.
 */
import type { Lifecycle } from '../../machines/common.ts';
import type { Job } from '../engine/job-types.ts';
import type { AnyJobType, JobTypeDefinition } from '../jobtypes.ts';
import type { Phaseline } from '../phaseline.ts';
import type { RunnerOptions } from '../runner/options.ts';
import type { ManualClock } from './manual-clock.ts';
import type { EventRecorder } from './recorder.ts';

/** Options of `createTestHarness`. */
export interface HarnessOptions {
  /** Lifecycles of your own, registered beside the built-in ones. */
  lifecycles?: Lifecycle[];
  /** Job types (or their definitions) to register at once; more can be registered on `harness.phaseline`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  types?: ReadonlyArray<AnyJobType | JobTypeDefinition<any, any>>;
  /** The instant the manual clock starts at (UTC ms). Default 2026-01-01T00:00:00Z. */
  start?: number;
  /** Handlers run at once while draining. Default 1: one at a time, in claim order (priority, then id). */
  concurrency?: number;
  /**
   * Passed on to the workers. `random` defaults to a constant 0.5, so retry delays are exact (the
   * middle of the backoff's jitter); the others keep their defaults. Leases, heartbeats, the
   * cancellation grace and the progress rate limit run on the process's real monotonic clock.
   */
  runner?: Pick<RunnerOptions, 'leaseMs' | 'heartbeatMs' | 'cancelGraceMs' | 'progressIntervalMs' | 'sweep' | 'random'>;
  /** How long `drain` and `waitFor` may take, in real milliseconds, unless told otherwise. Default 10,000. */
  timeoutMs?: number;
}

/** Options of `drain` and `waitFor`. */
export interface DrainOptions {
  /** Real milliseconds before giving up with a {@link HarnessTimeoutError}. Default the harness's `timeoutMs`. */
  timeoutMs?: number;
}

/** What one `drain` did. */
export interface DrainReport {
  /** Transitions committed while it ran. */
  transitions: number;
  /** Real milliseconds it took. */
  ms: number;
}

/**
 * A Phaseline on a private in-memory database whose clock moves only when the test moves it, with
 * workers that run only inside `drain` and `waitFor`. See `createTestHarness`.
 */
export interface TestHarness {
  /** The Phaseline under test: enqueue, get, reply, cancel, send, history, replay... through it. Do not call its `start`. */
  readonly phaseline: Phaseline;
  /** The engine's clock: `advance(ms)` and `set(instant)` make retries, delayed jobs and destruction due. */
  readonly clock: ManualClock;
  /** Every job event emitted since the harness was made (or since `events.clear()`). */
  readonly events: EventRecorder;
  /**
   * Run handlers until nothing is due at the clock's current instant: no claimable job of a
   * registered type, no handler running, and the workers' maintenance (destruction, retention,
   * lease recovery) has run again with nothing left to do. Handlers run with the real runner; the
   * workers are stopped again before it resolves, so nothing runs between two calls.
   * @throws HarnessTimeoutError when a handler has not returned within the timeout (its job is released)
   */
  drain(options?: DrainOptions): Promise<DrainReport>;
  /**
   * Run handlers, as `drain` does, until job `id` satisfies `predicate` (checked at once, then after
   * each of its transitions); resolves with the job as it was then. Handlers still running are let
   * finish before it resolves, and no more are started.
   * @throws HarnessError when everything due has run and the job still does not satisfy it (advance the clock?), or it was deleted
   * @throws HarnessTimeoutError when the timeout passes first
   */
  waitFor(id: number, predicate: (job: Job) => boolean, options?: DrainOptions): Promise<Job>;
  /** Stop the workers (if running) and close the database. */
  close(): Promise<void>;
}

/** A harness call that cannot be answered (`waitFor` a job that can no longer get there). */
export class HarnessError extends Error {
  override name = 'HarnessError';
}

/** `drain` or `waitFor` ran out of time: a handler did not return. */
export class HarnessTimeoutError extends HarnessError {
  override name = 'HarnessTimeoutError';
  constructor(
    message: string,
    /** The jobs whose handlers were still running (released when the workers stopped). */
    readonly running: readonly number[],
  ) {
    super(message);
  }
}

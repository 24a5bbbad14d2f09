/**
 * What a handler sees while it runs one attempt of a job. Every write it makes is fenced by the
 * attempt's lease: once the lease is gone (cancelled, timed out, recovered by another worker),
 * writes are refused and the handler's signal has fired.
 */
import type { Json } from '../../machines/common.ts';
import type { Job } from '../engine/job-types.ts';
import { IllegalTransitionError } from '../errors.ts';
import { assertJson } from '../engine/validate.ts';
import type { LazyAbort } from './abort.ts';

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
}

/**
 * What the runner gives the context to act with; every call is fenced by the attempt's lease. Each
 * answers at once or with a promise (port.ts's `Maybe`, spelled out: these declarations are public,
 * through HandlerContext's module, and port.ts's import the engine, the store and Drizzle's types).
 */
export interface AttemptPort {
  send(event: { type: string } & Record<string, unknown>): Job | Promise<Job>;
  canAsk(): boolean | Promise<boolean>;
  /** Called once the job has gone to a waiting state: the attempt is over. */
  suspend(): void;
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
    flushProgress,
  };
}

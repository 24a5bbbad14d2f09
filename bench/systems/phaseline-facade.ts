/**
 * What the two Phaseline adapters (SQLite: phaseline.ts, PostgreSQL: phaseline-pg.ts) share, all
 * through the public facade: a RIME job type with a no-op handler, so each job is four history
 * events (CREATE, ADMIT, CLAIM, SUCCEED) and three transactions (enqueue, claim, succeed), enqueued
 * with `enqueue` / `enqueueMany`, run by `start({ concurrency, pollIntervalMs })`, verified by
 * `replayAll()`. Each adapter adds its store's read-only `busy` and `succeeded` questions.
 */
import { defineJobType, type Json, type Phaseline } from '../../src/index.ts';
import type { Payload, QueueHandle, ReplayFigures, WorkerHandle } from './types.ts';

const TYPE = 'noop';

export abstract class PhaselineFacadeHandle implements QueueHandle {
  protected readonly phaseline: Phaseline;
  readonly #pollMs: number;
  #onStart: ((data: Payload) => void) | undefined;

  constructor(phaseline: Phaseline, pollMs: number) {
    this.phaseline = phaseline;
    this.#pollMs = pollMs;
    phaseline.register(
      defineJobType({
        name: TYPE,
        lifecycle: 'rime',
        attempts: 1,
        handler: async (ctx) => {
          this.#onStart?.(ctx.params as Payload);
          return null;
        },
      }),
    );
    // Phaseline reports what goes wrong outside a job (a failed claim, SQLITE_BUSY) on `error` only.
    phaseline.on('error', ({ error, where }) => console.error(`phaseline error in ${where}:`, error));
  }

  abstract busy(): Promise<boolean>;
  abstract succeeded(): Promise<number>;

  async enqueueOne(data: Payload): Promise<void> {
    await this.phaseline.enqueue(TYPE, data as Json);
  }

  async enqueueMany(items: Payload[]): Promise<void> {
    await this.phaseline.enqueueMany(TYPE, items.map((params) => ({ params: params as Json })));
  }

  async worker(onStart?: (data: Payload) => void, concurrency = 1): Promise<WorkerHandle> {
    this.#onStart = onStart;
    return {
      run: () => void this.phaseline.start({ concurrency, pollIntervalMs: this.#pollMs }),
      stop: () => this.phaseline.stop(),
    };
  }

  async replay(): Promise<ReplayFigures> {
    const { jobs, events, diverged } = await this.phaseline.replayAll();
    return { jobs, events, diverged };
  }

  async close(): Promise<void> {
    await this.phaseline.close();
  }
}

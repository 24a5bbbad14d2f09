/**
 * The scheduler loop that `start()` runs beside the workers: it asks for the due slots to be
 * enqueued, then sleeps until the earliest next slot it knows, or `pollIntervalMs` at most (a
 * schedule made by another process is found by the next look). Its timers are unref'd; the
 * instants it compares come from the Phaseline's clock, so a test's manual clock drives it.
 */
import { MAX_TIMER_MS } from '../runner/timers.ts';

export interface ScheduleLoopOptions {
  /** Enqueue what is due; returns the earliest next slot of any unpaused schedule, or null. */
  tick(): Promise<number | null>;
  clock(): number;
  pollIntervalMs: number;
  report(error: unknown): void;
}

export class ScheduleLoop {
  readonly #options: ScheduleLoopOptions;
  #timer: NodeJS.Timeout | undefined;
  #running = true;
  #ticking: Promise<void> = Promise.resolve();

  constructor(options: ScheduleLoopOptions) {
    this.#options = options;
    this.#arm(0);
  }

  #arm(ms: number): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#ticking = this.#tick();
    }, Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(ms))));
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    let next: number | null = null;
    try {
      next = await this.#options.tick();
    } catch (error) {
      this.#options.report(error);
    }
    const { pollIntervalMs, clock } = this.#options;
    this.#arm(next === null ? pollIntervalMs : Math.min(pollIntervalMs, next - clock()));
  }

  /** Stop looking; resolves once a tick in flight has ended. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#ticking;
  }
}

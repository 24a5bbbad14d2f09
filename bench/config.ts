/**
 * How much work each mode does. Every system gets the same numbers in a row; FULL rows may use
 * fewer jobs than NORMAL rows in quick mode, because there each commit waits for the disk.
 */
import type { Durability } from './systems/types.ts';

export interface Sizes {
  mode: 'quick' | 'medium' | 'full';
  /** Jobs per drain (plainjob's own bench uses 32,000). */
  drainJobs: Record<Durability, number>;
  /** Jobs enqueued one at a time, each awaited. */
  enqueueOneJobs: Record<Durability, number>;
  /** Jobs enqueued in batches of `batch`. */
  enqueueManyJobs: Record<Durability, number>;
  /** Jobs per batch (`enqueueMany`, `addMany`, `addBulk`), also for the untimed inserts before drains. */
  batch: number;
  /** Latency samples per case. */
  latencySamples: number;
  /** Finished jobs in the table before the history drain. */
  historyJobs: number;
  /** Jobs in the peak-RSS run, their batch size, and the settings it runs at. */
  rssJobs: number;
  rssBatch: number;
  rssDurabilities: readonly Durability[];
  /** Poll interval of idle Phaseline and plainjob workers (BullMQ blocks on Redis instead). */
  pollMs: number;
  /**
   * Handlers each worker process runs at once in the drains and the RSS run (Phaseline and BullMQ;
   * plainjob's worker has no such setting and runs one job at a time). One row also drains at 1.
   */
  concurrency: number;
  /** Repetitions of the drains that the goals are about (median kept, systems interleaved). */
  repeats: number;
  /**
   * The PostgreSQL rows' drains and latency samples (the other rows are sized as above). Smaller
   * in full mode: pg-boss works at most `concurrency` jobs per 0.5 s poll per process (64 jobs/s at
   * 32), and every latency sample waits for its poll.
   */
  postgres: { drainJobs: Record<Durability, number>; latencySamples: number };
}

export const QUICK: Sizes = {
  mode: 'quick',
  drainJobs: { NORMAL: 1_000, FULL: 300 },
  enqueueOneJobs: { NORMAL: 500, FULL: 200 },
  enqueueManyJobs: { NORMAL: 2_000, FULL: 2_000 },
  batch: 1_000,
  latencySamples: 20,
  historyJobs: 50_000,
  rssJobs: 2_000,
  rssBatch: 1_000,
  rssDurabilities: ['NORMAL'],
  pollMs: 50,
  concurrency: 32,
  repeats: 1,
  postgres: { drainJobs: { NORMAL: 1_000, FULL: 300 }, latencySamples: 20 },
};

/**
 * A few minutes: sizes large enough that the ratios hold (drains of thousands of jobs, the goal
 * drains repeated three times), without the full run's 1,000,000-job tables.
 */
export const MEDIUM: Sizes = {
  mode: 'medium',
  drainJobs: { NORMAL: 8_000, FULL: 2_000 },
  enqueueOneJobs: { NORMAL: 3_000, FULL: 1_000 },
  enqueueManyJobs: { NORMAL: 20_000, FULL: 20_000 },
  batch: 1_000,
  latencySamples: 100,
  historyJobs: 200_000,
  rssJobs: 100_000,
  rssBatch: 10_000,
  rssDurabilities: ['NORMAL'],
  pollMs: 50,
  concurrency: 32,
  repeats: 3,
  postgres: { drainJobs: { NORMAL: 2_000, FULL: 1_000 }, latencySamples: 50 },
};

export const FULL: Sizes = {
  mode: 'full',
  drainJobs: { NORMAL: 32_000, FULL: 32_000 },
  enqueueOneJobs: { NORMAL: 10_000, FULL: 5_000 },
  enqueueManyJobs: { NORMAL: 100_000, FULL: 100_000 },
  batch: 1_000,
  latencySamples: 300,
  historyJobs: 1_000_000,
  rssJobs: 1_000_000,
  rssBatch: 10_000,
  // At FULL a 1,000,000-job run waits on the disk for over an hour per system, and the setting does
  // not change what a process keeps in memory: peak RSS is measured at NORMAL.
  rssDurabilities: ['NORMAL'],
  pollMs: 50,
  concurrency: 32,
  repeats: 3,
  postgres: { drainJobs: { NORMAL: 4_000, FULL: 4_000 }, latencySamples: 100 },
};

/** Jobs per drain for this system (the PostgreSQL rows have their own size). */
export function drainJobs(sizes: Sizes, postgres: boolean, durability: Durability): number {
  return (postgres ? sizes.postgres.drainJobs : sizes.drainJobs)[durability];
}

/** Latency samples per case for this system. */
export function latencySamples(sizes: Sizes, postgres: boolean): number {
  return postgres ? sizes.postgres.latencySamples : sizes.latencySamples;
}

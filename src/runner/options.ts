/** The workers' public options and handle, apart from the runner so that they name no store type. */

export interface RunnerOptions {
  /** Handlers run at once in this process. Default 1. */
  concurrency?: number;
  /**
   * How often an idle worker looks for work that no wake-up announced (wake-ups come from an
   * enqueue in this process and from other processes' commits): delayed jobs coming due, expired
   * leases, destruction, a missed wake-up. Default 1000 ms; at most 2^31-1 ms, as for every
   * interval here (a longer timer would fire at once).
   */
  pollIntervalMs?: number;
  /**
   * How long a claim holds a job without a heartbeat. Default 30,000 ms. Every worker judges it on
   * its own monotonic clock, never by comparing the stored expiry with its wall clock: a worker
   * whose clock runs ahead takes no live job, and one that starts after a worker died recovers
   * that worker's jobs one lease after it first sees them.
   */
  leaseMs?: number;
  /** How often running jobs' leases are renewed; shorter than `leaseMs`. Default a third of `leaseMs`. */
  heartbeatMs?: number;
  /** Least time between two stored progress reports of one attempt. Default 250 ms. */
  progressIntervalMs?: number;
  /** After a cancellation request, how long a running handler may take to stop before the job is ended anyway. Default 5000 ms. */
  cancelGraceMs?: number;
  /** Names this worker in leases and history. Default a random id. */
  workerId?: string;
  /** Destruction and retention (see sweeper.ts). */
  sweep?: SweepOptions;
  /** Random numbers for backoff jitter (tests pass a fixed one). */
  random?: () => number;
}

/** Destruction and retention, run by every runner's maintenance tick. */
export interface SweepOptions {
  /**
   * Delete finished jobs this long after they ended, except those of lifecycles with
   * `retention: false` (UWS); null keeps them. Default 7 days.
   */
  retentionMs?: number | null;
  /**
   * What destruction does to a job of a lifecycle with an `archiveEvent` (UWS): `archive` (default,
   * UWS 1.1) or `delete` (as Wobbly does). Jobs of other lifecycles are deleted.
   */
  destroy?: 'archive' | 'delete';
  /** Rows handled per tick, so one tick never holds the write lock for long. Default 500. */
  batch?: number;
}

/** What `Phaseline.start` returns: the workers of this process. */
export interface Workers {
  /** Names this process's workers in leases and history. */
  readonly workerId: string;
  /** False once `stop` has begun. */
  readonly running: boolean;
  /** Jobs whose handlers run now. */
  readonly activeJobIds: number[];
}

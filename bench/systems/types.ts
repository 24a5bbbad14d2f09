/**
 * The one interface every benchmarked system implements, so that each scenario (bench/scenarios.ts)
 * runs the same work, the same way, against Phaseline and the anchors.
 */

/**
 * `NORMAL` and `FULL` are SQLite's `synchronous` settings; BullMQ maps them to Redis's AOF fsync
 * (see bullmq.ts), the PostgreSQL systems to `synchronous_commit` off and on (see lib/postgres.ts).
 */
export type Durability = 'NORMAL' | 'FULL';

/** On SQLite or Redis, compared with `phaseline`; on PostgreSQL, compared with `phaseline-pg`. */
export type SystemName = 'phaseline' | 'plainjob' | 'bullmq' | 'phaseline-pg' | 'pgboss' | 'graphile' | 'graphile-batched';

/** What every benchmark job carries: a counter for drains, a send instant for latency samples. */
export interface Payload {
  i?: number;
  /** Epoch milliseconds (fractional) taken just before the enqueue call. */
  t0?: number;
}

export interface OpenOptions {
  durability: Durability;
  /** Start from an empty store (delete the file, obliterate the queue). */
  fresh: boolean;
  /** Poll interval of an idle worker, for the systems that poll (Phaseline, plainjob). */
  pollMs: number;
  /** BullMQ only: the bench's own redis-server. */
  redisPort?: number;
  /** The PostgreSQL systems only: a URL of the bench's server on which databases may be made (lib/postgres.ts). */
  pgUrl?: string;
}

/** One worker with a no-op handler, prepared first and then run. */
export interface WorkerHandle {
  /** Start taking jobs. Everything slow (connections, module loading) is done before this. */
  run(): void;
  /** Stop taking jobs and wait for the loop to end. */
  stop(): Promise<void>;
}

export interface ReplayFigures {
  jobs: number;
  events: number;
  diverged: number;
}

export interface QueueHandle {
  enqueueOne(data: Payload): Promise<void>;
  /** One batch: one transaction (Phaseline `enqueueMany`, plainjob `addMany`, BullMQ `addBulk`). */
  enqueueMany(items: Payload[]): Promise<void>;
  /** True while a job is queued or running. Must be O(1): drains poll it every few ms. */
  busy(): Promise<boolean>;
  /** Jobs that finished successfully (a check after each drain; may be slow). */
  succeeded(): Promise<number>;
  /**
   * Prepare one worker running up to `concurrency` handlers at once (default 1; plainjob has no
   * such setting and always runs one); its handler calls `onStart(data)` at once, then returns nothing.
   */
  worker(onStart?: (data: Payload) => void, concurrency?: number): Promise<WorkerHandle>;
  /**
   * Grow the store to `total` finished jobs by copying the rows of the finished jobs already in it
   * (all jobs in the store must be finished). Systems without a table leave this out.
   */
  seedHistory?(total: number): Promise<void>;
  /** Verify the whole store by replaying its history (Phaseline only). */
  replay?(): Promise<ReplayFigures>;
  close(): Promise<void>;
}

export interface SystemAdapter {
  name: SystemName;
  /** As printed in the table, with its version. */
  label: string;
  /**
   * `target` is a file path; BullMQ uses its base name as the queue name, the PostgreSQL systems as
   * the name of their database.
   */
  open(target: string, options: OpenOptions): Promise<QueueHandle>;
}

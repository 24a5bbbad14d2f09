/** Messages between the bench (bench/run.ts) and its child processes (bench/children/). */
import type { Durability } from '../systems/types.ts';

export type Request =
  | { op: 'open'; target: string; fresh: boolean; durability: Durability }
  | { op: 'close' }
  | { op: 'enqueueOne'; n: number }
  | { op: 'enqueueMany'; n: number; batch: number }
  | { op: 'prepareDrain'; concurrency: number }
  | { op: 'drain' }
  | { op: 'succeeded' }
  | { op: 'latencySame'; samples: number }
  | { op: 'latencyWorkerOn' }
  | { op: 'latencyWorkerOff' }
  | { op: 'enqueueStamped' }
  | { op: 'seedHistory'; total: number }
  | { op: 'replay' }
  | { op: 'exit' };

export type Envelope = Request & { id: number };

/** The servers the bench started, for the systems that need one (passed to each host at its start). */
export interface Services {
  redisPort?: number;
  /** A URL of the bench's PostgreSQL server on which databases may be made. */
  pgUrl?: string;
}

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Unprompted messages from a child. */
export type Notice = { notice: 'ready' } | { notice: 'start'; latency: number } | { notice: 'rss'; result: RssResult };

export interface RssJob {
  system: string;
  target: string;
  durability: Durability;
  jobs: number;
  batch: number;
  pollMs: number;
  concurrency: number;
  redisPort?: number;
}

export interface RssResult {
  maxRssMb: number;
  enqueueMs: number;
  drainMs: number;
  succeeded: number;
}

/**
 * The public shape of cron schedules, in a module that imports no database driver: the published
 * declarations of the facade reach these types and nothing of Drizzle's.
 */
import type { Json } from '../../machines/common.ts';

/** After downtime: skip the slots missed, run only the latest, or run up to `backfill` of them (the latest ones, oldest first). */
export type MissedPolicy = 'skip' | 'latest' | { backfill: number };

export interface ScheduleOptions {
  /** IANA time zone the pattern is read in (`Europe/Paris`); default UTC. */
  timezone?: string | null;
  /** `allow` (default): a slot's job is enqueued even while the previous one runs; `skip`: not then. */
  overlap?: 'allow' | 'skip';
  /** Default `skip`. */
  missed?: MissedPolicy;
}

export interface Schedule {
  name: string;
  cron: string;
  timezone: string | null;
  type: string;
  params: Json;
  overlap: 'allow' | 'skip';
  missed: MissedPolicy;
  paused: boolean;
  /** The next slot a scheduler will handle (UTC ms). */
  nextAt: number;
  /** The schedule's latest job, if any. */
  lastJobId: number | null;
  createdAt: number;
  updatedAt: number;
}

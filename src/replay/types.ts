/**
 * What replay reports, its options, and the exported history format. A module of its own, naming
 * no store or driver type, so that the published declarations never reach them.
 */
import type { Json } from '../../machines/common.ts';
import type { JobEvent, JobFields } from '../engine/job-types.ts';

/**
 * Why a job's replay differs, from the first event where it shows:
 * - `refused`: the machine does not accept the stored event in the state replay reached;
 * - `state`: the event leads to another state;
 * - `tags`: the engine's tags differ (`queued`, `running`, `waiting`, `terminal` and the outcome:
 *   the row's `claimable`, `running`, `waiting` and `outcome`);
 * - `column`: another derived column differs (`snapshot` included), or an identity column of the row;
 * - `lifecycle`: no lifecycle of that name and version is known (the job is not replayed);
 * - `history`: the history itself is malformed (no CREATE first, a gap in the sequence, an UPGRADE
 *   from a version the job was not on);
 * - `threw`: the machine threw on the event;
 * - `job`: no such job.
 */
export type DivergenceCause = 'refused' | 'state' | 'tags' | 'column' | 'lifecycle' | 'history' | 'threw' | 'job';

export interface Divergence {
  /** The first event where it appears; null when the history itself is missing. */
  seq: number | null;
  /** That event's type (`CREATE`, `UPGRADE` or a machine event); null when there is none. */
  event: string | null;
  /** A row column, `snapshot`, `tags`, `history`, `lifecycle`, `job` or `transition` (a refused event). */
  field: string;
  cause: DivergenceCause;
  /** The lifecycle and version that folded the event (`rime@1`); null when none was found. */
  lifecycle: string | null;
  /** The full state replay had reached before the event (`E.killed`); null at creation. */
  state: string | null;
  /**
   * What was expected: what the stored job or history says; before the last event, where a
   * candidate machine replaces the one the history was written with, what that one derived there.
   */
  stored: unknown;
  /** What replaying the history gives. */
  replayed: unknown;
}

export interface JobReplay {
  jobId: number;
  events: number;
  /** Empty when the job replays exactly; else the differences at the first event where any shows. */
  divergences: Divergence[];
}

export interface ReplaySummary {
  jobs: number;
  events: number;
  diverged: number;
  /** Only the jobs that diverged. */
  reports: JobReplay[];
  /** Threads that replayed jobs (see `Phaseline.replayAll`). */
  threads: number;
}

export interface ParallelReplayOptions {
  /**
   * Threads in all, the calling one included. Default: one below 100,000 jobs, else the machine's
   * cores, at most 4.
   */
  threads?: number;
  /**
   * Whether the calling thread replays chunks too (default true). False leaves them all to the
   * workers and keeps the calling thread's event loop free, e.g. in a server.
   */
  useCallingThread?: boolean;
}

// ── The exported history format ──────────────────────────────────────────

/** The version of the history format written by `histories()` and `phaseline export`. */
export const HISTORY_FORMAT = 1;

/**
 * A job's stored row as exported: every column but the lease bookkeeping (`leaseId`,
 * `leaseExpiresAt`, `workerId`), which replay ignores. Instants are UTC milliseconds.
 */
export interface StoredJob extends JobFields {
  /** The persisted snapshot: the state value and the context fields no column holds. */
  snapshot: { value: string | Record<string, unknown>; context: Record<string, unknown> };
  /** The engine's tags of the state: `queued`, `running`, `waiting`. */
  claimable: boolean;
  running: boolean;
  waiting: boolean;
  params: Json;
  result: Json;
  progressPercent: number;
  progressMessage: string | null;
  progressCurrent: number | null;
  progressTotal: number | null;
}

/** One event of a stored history, as exported: without the job's id, which is the history's. */
export type StoredEvent = Omit<JobEvent, 'jobId'>;

/** One job and its whole history: a line of `phaseline export`, an item for {@link replayHistories}. */
export interface StoredHistory {
  /** {@link HISTORY_FORMAT}; absent is taken as the current format. */
  format?: number;
  job: StoredJob;
  events: StoredEvent[];
}

/** Jobs that diverged for one cause, with the first few. */
export interface DivergenceGroup {
  cause: DivergenceCause;
  /** One line saying what differs, the same for every job of the group (`rime@1 refuses SUCCEED in state JOB_STATUS_RUNNING`). */
  description: string;
  jobs: number;
  jobIds: number[];
  /** The first jobs of the group (up to 5), each with its first divergence. */
  first: Array<{ jobId: number; divergence: Divergence }>;
}

/** What {@link replayHistories} found. */
export interface HistoryReplayReport {
  /** Jobs replayed (not those of a lifecycle or version nobody knows: see `notReplayed`). */
  jobs: number;
  events: number;
  diverged: number;
  /** The diverged jobs grouped by cause, most jobs first. */
  causes: DivergenceGroup[];
  /** Every diverged job with its divergences, in the order the histories came. */
  reports: JobReplay[];
  /** Jobs whose lifecycle and version (`note@1`) neither the candidates nor the registered lifecycles have. */
  notReplayed: Array<{ lifecycle: string; jobs: number; jobIds: number[] }>;
}

// ── Upgrades ─────────────────────────────────────────────────────────────

export interface UpgradeOptions {
  /** The lifecycle whose unfinished jobs move. */
  lifecycle: string;
  /** The version they move to: a registered one. */
  to: number;
  /** Check each job, write nothing. */
  dryRun?: boolean;
  /** Recorded on each UPGRADE event. Default `null`. */
  actor?: string | null;
}

/** What `upgrade` did, job by job. */
export interface UpgradeReport {
  lifecycle: string;
  to: number;
  dryRun: boolean;
  /** Jobs moved to `to` (in a dry run: that would be), each with the version it was on. */
  upgraded: Array<{ jobId: number; from: number }>;
  /** Jobs left on their version, with the reason: the first difference, or that the job finished meanwhile. */
  kept: Array<{ jobId: number; from: number; reason: string; divergence: Divergence | null }>;
}

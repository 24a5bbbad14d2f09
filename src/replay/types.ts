/** What replay reports, and its options. */

export interface Divergence {
  /** The first event where it appears; null when the history itself is missing. */
  seq: number | null;
  /** A row column, `snapshot`, `history`, or `transition`. */
  field: string;
  /** What the stored job or history says. */
  stored: unknown;
  /** What replaying the history gives. */
  replayed: unknown;
}

export interface JobReplay {
  jobId: number;
  events: number;
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

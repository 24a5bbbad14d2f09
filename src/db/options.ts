/** How a SQLite database is opened: public, so apart from the driver's types. */

export interface OpenOptions {
  /**
   * `synchronous` pragma. `NORMAL` (default) is durable against process crashes, and against power
   * loss up to the last checkpoint; `FULL` makes every commit durable when its promise resolves.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** Milliseconds a writer waits for another process's lock before SQLITE_BUSY. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * Create the file when it does not exist. Default true; false refuses a missing file with
   * STORE_UNAVAILABLE, so that a reader given a mistyped path leaves no empty database behind.
   */
  create?: boolean;
}

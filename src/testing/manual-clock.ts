/**
 * A clock that moves only when a test moves it: the engine's clock in a test harness, so retries,
 * delayed jobs and destruction come due when the test says, not when the wall clock does.
 */
import { InvalidInputError } from '../errors.ts';

/** The harness's clock: an instant in UTC milliseconds that only `advance` and `set` change. */
export interface ManualClock {
  /** The current instant. */
  now(): number;
  /** Move forward by `ms` (at least 0); returns the new instant. */
  advance(ms: number): number;
  /**
   * Jump to `instant`, also backwards (as a wall clock may step back: stored instants still never
   * decrease along a job's history); returns it.
   */
  set(instant: number): number;
}

/** A manual clock starting at `start` (UTC ms). */
export function createManualClock(start: number): ManualClock {
  let now = checked(start, 'start');
  return {
    now: () => now,
    advance(ms) {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new InvalidInputError('ms', 'must be a finite number of milliseconds of at least 0');
      return (now = checked(Math.round(now + ms), 'instant'));
    },
    set: (instant) => (now = checked(instant, 'instant')),
  };
}

function checked(instant: number, field: string): number {
  if (!Number.isSafeInteger(instant) || instant < 0) throw new InvalidInputError(field, 'must be an instant in UTC milliseconds (a non-negative integer)');
  return instant;
}

/**
 * Timers for delays of any length. Node's setTimeout keeps its delay in 32 bits: a longer one
 * (above about 24.8 days) fires after 1 ms with a TimeoutOverflowWarning.
 */

/** The longest delay setTimeout and setInterval honour. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Timer {
  clear(): void;
}

/**
 * Call `fn` once `ms` have passed on the monotonic clock `now`: re-armed in chunks the 32-bit limit
 * allows, and checked against the deadline on each wake, so it never fires early (a Node timer may
 * wake a millisecond before its time).
 */
export function longTimeout(fn: () => void, ms: number, now: () => number = () => performance.now()): Timer {
  const deadline = now() + ms;
  let handle: NodeJS.Timeout | undefined;
  const arm = (delay: number): void => {
    handle = setTimeout(wake, Math.min(Math.max(0, Math.ceil(delay)), MAX_TIMER_MS));
  };
  const wake = (): void => {
    const left = deadline - now();
    if (left > 0) arm(left);
    else fn();
  };
  arm(ms);
  return { clear: () => clearTimeout(handle) };
}

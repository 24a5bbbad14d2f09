/**
 * A wall clock set by the toolkit for the length of one synchronous call. Machines must be pure:
 * time reaches them on the event (`at`), never from `Date.now()`. To catch a guard or action that
 * reads the clock anyway, the toolkit runs a machine with `Date.now()` and `new Date()` reading an
 * instant of its choosing: the event's own instant when an event is applied, a later one when a
 * history is replayed (as replay runs later in production), or several when a transition is
 * evaluated again to compare. An impure machine then answers differently, and deterministically
 * so for a given seed.
 *
 * Only synchronous code runs inside (a transition, a SQLite transaction), so nothing else in the
 * process sees the clock moved. `performance.now()` is left alone.
 */
const RealDate = Date;

/**
 * Run `fn` with `Date.now()` and an argument-less `new Date()` reading `clock` (an instant, or a
 * function read at each call); the real clock is back afterwards, also when `fn` throws.
 */
export function withWallClock<T>(clock: number | (() => number), fn: () => T): T {
  const now = typeof clock === 'number' ? () => clock : clock;
  const previous = globalThis.Date;
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget === globalThis.Date ? target : newTarget);
    },
    apply() {
      // `Date()` called as a function returns the date as a string.
      return new RealDate(now()).toString();
    },
    get(target, key, receiver) {
      if (key === 'now') return now;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  try {
    return fn();
  } finally {
    globalThis.Date = previous;
  }
}

/** Polling for tests that wait on something asynchronous: never a fixed sleep as an assertion. */

/** Poll `predicate` until it returns a truthy value (returned), or fail after `timeoutMs`. */
export async function waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 3000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`waitFor(${what}) timed out after ${timeoutMs} ms; last: ${String(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

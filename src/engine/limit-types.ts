/**
 * The limits a job type declares (src/engine/limits.ts enforces them), apart from the module that
 * enforces them: these types are public, and name no store type.
 */

export interface RateLimit {
  /** Claims of the type started in one window, across every process. */
  max: number;
  /** The window's length in ms (a fixed window, begun by the first claim after the last one ended). */
  perMs: number;
}

/** One job type's limits, as the claim applies them. */
export interface TypeLimits {
  /** Most running jobs of the type at once; null: no limit. */
  concurrency: number | null;
  rateLimit: RateLimit | null;
  /** Most running jobs of the type with one concurrency key. */
  keyConcurrency: number;
}

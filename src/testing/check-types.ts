/**
 * The options and results of {@link checkLifecycle}, in a module of their own that names no store
 * or driver type.
 */
import type { PayloadVariants } from './vocabulary.ts';

/** Options of `checkLifecycle`. */
export interface CheckOptions {
  /** Random event sequences to run, each on a new job. Default 200. */
  runs?: number;
  /** The random seed; a failure names the seed it used. Default: a new one each call. */
  seed?: number;
  /**
   * With `seed`, run only the counterexample at this fast-check path (a failure names it), for a
   * quick, exact repeat of a failure.
   */
  path?: string;
  /** The most events one sequence sends. Default 25. */
  maxEvents?: number;
  /**
   * What each terminal state may accept, by top-level state or full state path, as event keys:
   * an event type, or a guard variant (`SET` keeps the parameters, `SET+params` edits them). The
   * lifecycle's `archiveEvent` is always allowed. Default: nothing else (EcoTaxa's is
   * `{ E: ['RESTART'] }`).
   */
  terminalAccepts?: Readonly<Record<string, readonly string[]>>;
  /** Payload variants of the lifecycle's own events, for the guards of yours that read them. */
  payloads?: PayloadVariants;
  /**
   * How long to shrink a failing sequence, in ms, before settling on the shortest found so far
   * (repeating it from its seed and path shrinks no further). Default 10,000.
   */
  shrinkMs?: number;
}

/** One event of a sequence, as sent. */
export interface CheckStep {
  /** What was passed to `send` (a malformed one included). */
  event: unknown;
  /** How far the clock moved before it was sent, in ms (negative: it stepped back). */
  clockMove: number;
  /** What happened: `accepted → in_review`, `refused ILLEGAL_TRANSITION`, or the rule it broke. */
  outcome: string;
}

/** What a passing `checkLifecycle` did. */
export interface CheckSummary {
  lifecycle: string;
  version: number;
  /** Sequences run. */
  runs: number;
  /** Events sent, in all. */
  events: number;
  accepted: number;
  refused: number;
  /** Every state path some job was in, sorted. */
  states: string[];
  /** The seed used: pass it back to run the same sequences again. */
  seed: number;
  /** Wall time, in ms. */
  ms: number;
}

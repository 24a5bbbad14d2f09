/**
 * The engine's public option types, in a module of their own so that a consumer's declarations
 * never reach the store's driver types.
 */

/** Milliseconds since the epoch, UTC. */
export type Clock = () => number;

/** Options of `Phaseline.send` (and of `reply` and `cancel`, which send for you). */
export interface SendOptions {
  /** Refuse with {@link StaleVersionError} unless the job is at this version. */
  expectVersion?: number;
  /** Refuse with {@link WrongOwnerError} unless the job belongs to this owner. Omit for system callers. */
  owner?: string | null;
  /** Who sent it, recorded in the history. */
  actor?: string | null;
}

export interface ListFilter {
  /** Top-level states (UWS PHASE, repeatable: the union). */
  states?: string[];
  /** Created strictly after this instant (UWS AFTER). */
  after?: number;
  /** The n most recent by creation, newest first (UWS LAST). */
  last?: number;
  owner?: string | null;
  type?: string;
  lifecycle?: string;
  limit?: number;
}

/** A value, or the promise of one (what an asynchronous store answers). */
export type Maybe<T> = T | Promise<T>;

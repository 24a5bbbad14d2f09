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
  /** At most this many jobs (a positive integer). */
  limit?: number;
  /**
   * Keyset paging, newest first: only jobs with ids below this one (pass the last id of the page
   * before). Implies `order: 'newest'`. Ids follow creation order, so no job is skipped or listed
   * twice while others are created or deleted between pages.
   */
  beforeId?: number;
  /** Only the job with this id (a search by id); nothing when it does not match the other filters. */
  id?: number;
  /**
   * `created` (the default): by creation instant, oldest first (newest first with `last`).
   * `newest`: by id, newest first, the order {@link beforeId} pages in (the dashboard's).
   */
  order?: 'created' | 'newest';
}

/** A filter of {@link Phaseline.countByState}: as a listing's, owner rules included. */
export interface CountFilter {
  owner?: string | null;
  lifecycle?: string;
  type?: string;
}

/** How many jobs of one lifecycle are in one top-level state (its wire spelling). */
export interface StateCount {
  lifecycle: string;
  state: string;
  count: number;
}

/** A value, or the promise of one (what an asynchronous store answers). */
export type Maybe<T> = T | Promise<T>;

/**
 * Concurrency and rate limits, enforced by the claim on every process sharing a store.
 *
 * The claim never counts jobs: it reads counters in `job_slots` (src/db/schema.ts), which every
 * transaction that moves a job keeps right in the same transaction. A job's `running` flag going
 * on or off moves its type's counter (for limited types: those with a row) and its key's; a keyed
 * job entering or leaving the queue makes its key's head (its best queued job) be looked up again.
 * Counters therefore follow the rows whatever moves them: a claim, an end, a retry, a cancellation,
 * a recovery after a crash or an expired lease, a deletion.
 *
 * A claim then reads, per type under its limit, that type's jobs without a key (an index in claim
 * order) and the heads of its keys under `keyConcurrency` (an index of the counter rows in claim
 * order): a saturated key costs one counter row, never a read of its queued jobs, so the claim's
 * work does not grow with a saturated key's or type's backlog.
 */
import type { JobRow } from '../db/schema.ts';
import type { SlotChange } from '../db/store.ts';
import type { TypeLimits } from './limit-types.ts';

export type { RateLimit, TypeLimits } from './limit-types.ts';

export const NO_LIMITS: TypeLimits = { concurrency: null, rateLimit: null, keyConcurrency: 1 };

/** Whether the type's own counter row is needed (its claims take turns on a server). */
export function limitsType(limits: TypeLimits | undefined): boolean {
  return limits !== undefined && (limits.concurrency !== null || limits.rateLimit !== null);
}

/** What a transition from `before` to `after` changes in the counters (pushed onto `into`). */
export function noteTransition(into: SlotChange[], before: Pick<JobRow, 'running' | 'claimable' | 'priority' | 'runAfter'>, after: JobRow): void {
  const key = after.concurrencyKey;
  if (before.running !== after.running) {
    const delta = after.running ? 1 : -1;
    into.push({ type: after.type, key: '', delta });
    if (key !== null) into.push({ type: after.type, key, delta });
  } else if (key !== null && (before.claimable !== after.claimable || (after.claimable && (before.priority !== after.priority || before.runAfter !== after.runAfter)))) {
    into.push({ type: after.type, key, delta: 0 });
  }
}

/** What a new job changes: its key's head, when it is queued with a key. */
export function noteCreation(into: SlotChange[], row: JobRow): void {
  if (row.concurrencyKey !== null && row.claimable) into.push({ type: row.type, key: row.concurrencyKey, delta: 0 });
  if (row.running) noteTransition(into, { running: false, claimable: false, priority: row.priority, runAfter: row.runAfter }, row);
}

/** What deleting a job changes. */
export function noteDeletion(into: SlotChange[], row: Pick<JobRow, 'type' | 'concurrencyKey' | 'running' | 'claimable'>): void {
  if (row.running) into.push({ type: row.type, key: '', delta: -1 });
  if (row.concurrencyKey !== null && (row.running || row.claimable)) into.push({ type: row.type, key: row.concurrencyKey, delta: row.running ? -1 : 0 });
}

/**
 * The changes summed per type and key, type rows first, each group in one order for every
 * transaction (so writers on a server lock the rows in one order).
 */
export function sumChanges(changes: readonly SlotChange[]): SlotChange[] {
  const sums = new Map<string, SlotChange>();
  for (const change of changes) {
    const id = `${change.key === '' ? 0 : 1}\u0000${change.type}\u0000${change.key}`;
    const sum = sums.get(id);
    if (sum) sum.delta += change.delta;
    else sums.set(id, { ...change });
  }
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, change]) => change);
}

/** How many jobs of a type one claim may start now, and the rate window after it. */
export function budgetOf(limits: TypeLimits, slot: { running: number; windowStart: number; windowCount: number } | undefined, now: number): { budget: number; windowStart: number; windowCount: number } {
  let budget = Number.POSITIVE_INFINITY;
  let windowStart = slot?.windowStart ?? 0;
  let windowCount = slot?.windowCount ?? 0;
  if (limits.concurrency !== null) budget = Math.max(0, limits.concurrency - (slot?.running ?? 0));
  if (limits.rateLimit !== null) {
    // A window ends once `perMs` have passed; a clock stepped back by more than a window starts a new one rather than wait for it.
    if (now >= windowStart + limits.rateLimit.perMs || now < windowStart - limits.rateLimit.perMs) {
      windowStart = now;
      windowCount = 0;
    }
    budget = Math.min(budget, Math.max(0, limits.rateLimit.max - windowCount));
  }
  return { budget, windowStart, windowCount };
}

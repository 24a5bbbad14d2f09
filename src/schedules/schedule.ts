/**
 * Cron schedules: what a schedule is (as `phaseline.schedules()` shows it), how its options are
 * checked, and which slots a scheduler enqueues when it finds the schedule due ({@link planSlots},
 * a pure function of the stored row and the instant, so every scheduler on a database decides
 * alike).
 *
 * Exactly one job per slot, across processes and hosts, comes from the enqueue's idempotency key
 * (`schedule:<name>@<slot as ISO 8601>`, unique per job type in the jobs table), not from a lock:
 * two schedulers that find one slot due both enqueue it and get the same job; the one whose guarded
 * update of `next_at` lands first moves the schedule on, the other's changes nothing.
 */
import type { ScheduleRow } from '../db/schema.ts';
import { InvalidInputError } from '../errors.ts';
import type { CronSlots } from './cron.ts';
import type { MissedPolicy, Schedule, ScheduleOptions } from './types.ts';

export type { MissedPolicy, Schedule, ScheduleOptions } from './types.ts';

/** A slot counts as on time (not missed) while no more than this has passed since it. */
export const ON_TIME_MS = 60_000;
/** Slots a backfill may ask for at most. */
export const MAX_BACKFILL = 1000;

export function toSchedule(row: ScheduleRow): Schedule {
  return {
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    type: row.type,
    params: row.params ?? null,
    overlap: row.overlap,
    missed: row.missed === 'backfill' ? { backfill: row.backfill ?? 1 } : row.missed,
    paused: row.paused,
    nextAt: row.nextAt,
    lastJobId: row.lastJobId,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The stored columns of the options; throws INVALID_INPUT for anything else. */
export function scheduleColumns(options: ScheduleOptions): Pick<ScheduleRow, 'timezone' | 'overlap' | 'missed' | 'backfill'> {
  if (typeof options !== 'object' || options === null) throw new InvalidInputError('options', 'must be an object');
  const overlap = options.overlap ?? 'allow';
  if (overlap !== 'allow' && overlap !== 'skip') throw new InvalidInputError('overlap', "must be 'allow' or 'skip'");
  const missed = options.missed ?? 'skip';
  let backfill: number | null = null;
  if (typeof missed === 'object' && missed !== null) {
    backfill = missed.backfill;
    if (!Number.isSafeInteger(backfill) || backfill < 1 || backfill > MAX_BACKFILL) {
      throw new InvalidInputError('missed.backfill', `must be a whole number of slots from 1 to ${MAX_BACKFILL}`);
    }
  } else if (missed !== 'skip' && missed !== 'latest') {
    throw new InvalidInputError('missed', "must be 'skip', 'latest' or { backfill: maxSlots }");
  }
  return { timezone: options.timezone ?? null, overlap, missed: backfill === null ? (missed as 'skip' | 'latest') : 'backfill', backfill };
}

/**
 * The slots to enqueue, oldest first, for a schedule found due at `now` (`row.nextAt` ≤ now): the
 * due slots are those from `next_at` to `now`. The latest of them is on time when it is at most
 * {@link ON_TIME_MS} old; the others were missed (the schedulers were down, or paused). `skip`:
 * the latest slot if on time, else none; `latest`: the latest slot; `{ backfill: n }`: the latest n
 * due slots.
 */
export function planSlots(row: Pick<ScheduleRow, 'nextAt' | 'missed' | 'backfill'>, now: number, slots: CronSlots): number[] {
  const wanted = row.missed === 'backfill' ? (row.backfill ?? 1) : 1;
  const due = slots.latest(wanted, now).filter((slot) => slot >= row.nextAt).reverse();
  if (due.length === 0) return [];
  if (row.missed === 'skip') {
    const latest = due.at(-1)!;
    return now - latest <= ON_TIME_MS ? [latest] : [];
  }
  return due;
}

/** The idempotency key of a schedule's job for one slot. */
export function slotKey(name: string, slot: number): string {
  return `schedule:${name}@${new Date(slot).toISOString()}`;
}

/**
 * Cron patterns through croner: checked once when a schedule is made (a wrong pattern or time
 * zone is refused with INVALID_INPUT, nothing stored), then asked for slots. Slots are instants in
 * UTC ms, whole seconds (croner's resolution), read in the schedule's time zone (UTC without one).
 */
import { Cron } from 'croner';
import { InvalidInputError } from '../errors.ts';

/** A parsed pattern, for slot arithmetic. */
export interface CronSlots {
  /** The first slot strictly after `instant`, or null when the pattern has no more. */
  after(instant: number): number | null;
  /** The latest `n` slots at or before `instant`, newest first. */
  latest(n: number, instant: number): number[];
}

const parsed = new Map<string, CronSlots>();

/** The slots of a pattern in a time zone; throws INVALID_INPUT for a wrong pattern or zone. */
export function cronSlots(pattern: string, timezone: string | null): CronSlots {
  const key = `${pattern}\u0000${timezone ?? ''}`;
  let slots = parsed.get(key);
  if (slots) return slots;
  if (typeof pattern !== 'string' || pattern.trim().length === 0) throw new InvalidInputError('cron', 'must be a cron pattern (five or six fields)');
  if (timezone !== null) {
    if (typeof timezone !== 'string' || timezone.length === 0) throw new InvalidInputError('timezone', 'must be an IANA time zone name');
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      throw new InvalidInputError('timezone', `${JSON.stringify(timezone)} is not an IANA time zone this Node knows`);
    }
  }
  let cron: Cron;
  try {
    cron = new Cron(pattern, { paused: true, ...(timezone !== null ? { timezone } : {}) });
    cron.nextRun(new Date(0));
  } catch (error) {
    const why = error instanceof Error ? error.message.replace(/^CronPattern: /, '') : String(error);
    throw new InvalidInputError('cron', `${JSON.stringify(pattern)} is not a valid cron pattern: ${why}`);
  }
  slots = {
    after: (instant) => cron.nextRun(new Date(instant))?.getTime() ?? null,
    latest: (n, instant) => {
      // croner counts whole seconds, strictly before its reference: the next second takes in `instant`'s.
      const reference = Math.floor(instant / 1000) * 1000 + 1000;
      return cron.previousRuns(n, new Date(reference)).map((d) => d.getTime()).filter((t) => t <= instant);
    },
  };
  if (parsed.size > 1000) parsed.clear();
  parsed.set(key, slots);
  return slots;
}

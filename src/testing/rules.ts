/**
 * The rules the engine promises about every stored job, each under a stable id, and the error
 * that says one was broken. The checks themselves are stored-rules.ts (what holds of any stored
 * job and its history) and step-rules.ts (what one accepted or refused event may change).
 *
 * The types here describe a stored job and a history event structurally, with the fields the
 * rules read, so they name no store or driver type.
 */
import type { JobError } from '../../machines/common.ts';
import type { JobEvent } from '../engine/job-types.ts';

/** What each rule says, by its stable id. */
export const RULES = {
  'state-column': 'the state column is the top-level state of the stored snapshot, one of the machine\'s',
  'timestamps-ordered': 'created ≤ started ≤ ended',
  'updated-latest': 'updated is the last event\'s instant and no timestamp or error instant lies after it',
  'history-version': 'the history has one event per version, seq 1..version, starting with CREATE at the creation instant',
  'history-ordered': 'event instants never decrease and each event starts in the state the one before left',
  'history-append-only': 'older events never change',
  'ended-when-terminal': 'ended is set exactly while the job is in a state tagged terminal',
  'started-when-running': 'started is set on the first entry into a running state and cleared when a terminal job is restarted',
  'ended-when-first-terminal': 'ended is the instant the job first became terminal, kept while it stays terminal',
  'flags-mirror-tags': 'claimable, running, waiting and outcome mirror the state\'s tags (a parked job: not running, claimable from its wake instant)',
  'lease-while-running': 'a lease is held only while the job is running',
  'progress-bounds': 'percent is within 0..100, current and total are ≥ 0 and current ≤ total',
  'progress-monotonic': 'progress never moves backwards within one attempt',
  'attempts-monotonic': 'the attempt count never decreases',
  'success-is-100': 'a succeeded job shows 100 percent',
  'snapshot-columns': 'the stored snapshot leaves out what the row\'s columns hold',
  'version-increment': 'an accepted event adds exactly one history event and raises the version by one',
  'event-recorded': 'the new event records the event as sent: seq = version, its type, payload and the states before and after',
  'clock-stamp': 'an accepted event is stamped with the clock, never earlier than the last one; created never changes',
  'returned-row': 'send returns the row as stored',
  'transition-target': 'an accepted event leads where the lifecycle says',
  'terminal-accepts': 'a terminal state accepts only what the lifecycle allows',
  'accepted-as-expected': 'an event the lifecycle accepts is accepted',
  'refused-as-expected': 'an event the lifecycle refuses (or that is malformed) is refused with the right typed error',
  'refusal-changes-nothing': 'a refused event changes nothing: row and history stay as they were',
  'replay-rebuilds': 'replaying the history through the machine rebuilds the stored row',
  'machine-throws': 'the machine answers every event without throwing',
} as const;

/** A rule's stable id. */
export type RuleId = keyof typeof RULES;

/** A rule was broken. `rule` is the stable id, `detail` what was seen. */
export class RuleViolation extends Error {
  override name = 'RuleViolation';
  constructor(
    readonly rule: RuleId,
    readonly detail: string,
    /** Where it happened (a step of a sequence), when the caller said. */
    readonly where?: string,
  ) {
    super(`${where ? `${where}: ` : ''}${rule} (${RULES[rule]}): ${detail}`);
  }
}

/** Throw a {@link RuleViolation}. */
export function broken(rule: RuleId, detail: string, where?: () => string): never {
  throw new RuleViolation(rule, detail, where?.());
}

/** A stored job, as far as the rules read it (the engine's row has these fields and more). */
export interface StoredJob {
  id: number;
  state: string;
  snapshot: { value: unknown; context: Record<string, unknown> };
  version: number;
  claimable: boolean;
  running: boolean;
  /** Read for parked jobs: one whose cancellation was asked is claimable at once. */
  cancelRequested?: boolean;
  waiting: boolean;
  outcome: string | null;
  errors: readonly Pick<JobError, 'at'>[];
  progressPercent: number;
  progressCurrent: number | null;
  progressTotal: number | null;
  attempt: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  leaseId: string | null;
  leaseExpiresAt: number | null;
  workerId: string | null;
}

/** One stored history event, as far as the rules read it (who sent it is not their business). */
export type StoredEvent = Omit<JobEvent, 'actor'>;

/** A job and its history, read at one moment. */
export interface StoredRecord {
  job: StoredJob;
  history: readonly StoredEvent[];
}

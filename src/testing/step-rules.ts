/**
 * Rules of one event sent to a stored job: what an accepted event writes (one event, version + 1,
 * stamped by the clock, progress and attempts never backwards, started and ended when they should
 * be), what a refused one leaves (nothing), the right answer to each, and replay.
 */
import { isPhaselineError } from '../errors.ts';
import { diffJson, sameJson, show } from './json.ts';
import { statePathOf } from './machine-facts.ts';
import { broken, type RuleId, type StoredJob, type StoredRecord } from './rules.ts';

type Where = (() => string) | undefined;

/** One accepted event: the job before and after, what `send` returned, and what was sent. */
export interface AcceptedStep {
  before: StoredRecord;
  after: StoredRecord;
  /** What the send returned. */
  returned: StoredJob;
  type: string;
  /** The event as sent, without its type and any `at` of its own. */
  payload: Record<string, unknown>;
  /** The instant it must be stamped with: the clock's, or the last event's when the clock stepped back. */
  at: number;
  /** The state path it must lead to; unchecked when null. */
  expectedPath: string | null;
}

/** Throws a {@link RuleViolation} for the first rule an accepted event broke. */
export function checkAcceptedStep(step: AcceptedStep, where?: Where): void {
  const fail = (rule: RuleId, detail: string) => broken(rule, detail, where);
  const { before, after, returned, type, payload, at } = step;
  const prev = before.job;
  const row = after.job;
  const path = statePathOf(row.snapshot.value);
  if (step.expectedPath !== null && path !== step.expectedPath) fail('transition-target', `reached ${path}, expected ${step.expectedPath}`);
  if (!sameJson(returned, row)) fail('returned-row', `returned vs stored: ${diffJson(returned, row)}`);
  if (row.version !== prev.version + 1) fail('version-increment', `version ${prev.version} → ${row.version}`);
  if (after.history.length !== before.history.length + 1) fail('version-increment', `${before.history.length} → ${after.history.length} events`);
  before.history.forEach((event, i) => {
    if (!sameJson(after.history[i], event)) fail('history-append-only', `event ${event.seq}: ${show(event)} became ${show(after.history[i])}`);
  });
  const added = after.history.at(-1)!;
  if (added.seq !== row.version) fail('event-recorded', `seq ${added.seq} at version ${row.version}`);
  if (added.type !== type) fail('event-recorded', `type ${added.type}, sent ${type}`);
  if (added.stateBefore !== prev.state || added.stateAfter !== row.state) {
    fail('event-recorded', `${added.stateBefore} → ${added.stateAfter} recorded, ${prev.state} → ${row.state} happened`);
  }
  if (!sameJson(added.payload, Object.keys(payload).length > 0 ? payload : null)) fail('event-recorded', `payload ${show(added.payload)}, sent ${show(payload)}`);
  if (added.at !== at || row.updatedAt !== at) fail('clock-stamp', `at ${added.at}, updated ${row.updatedAt}, expected ${at}`);
  if (row.updatedAt < prev.updatedAt) fail('clock-stamp', `updated ${prev.updatedAt} → ${row.updatedAt}`);
  if (row.createdAt !== prev.createdAt) fail('clock-stamp', `created ${prev.createdAt} → ${row.createdAt}`);
  if (row.attempt < prev.attempt) fail('attempts-monotonic', `attempt ${prev.attempt} → ${row.attempt}`);
  if (row.attempt === prev.attempt && row.progressPercent < prev.progressPercent) {
    fail('progress-monotonic', `${prev.progressPercent} → ${row.progressPercent} percent in attempt ${row.attempt}`);
  }
}

/**
 * Throws unless a terminal state accepted only what its lifecycle allows.
 * @param allowed the event keys the state may accept (vocabulary.ts: `SET` is a SET that keeps the parameters)
 */
export function checkTerminalAccepts(state: string, key: string, allowed: readonly string[], where?: Where): void {
  if (!allowed.includes(key)) {
    broken('terminal-accepts', `terminal ${state} accepted ${key}${allowed.length > 0 ? ` (it may accept ${allowed.join(', ')})` : ' (it may accept nothing)'}`, where);
  }
}

/**
 * The started and ended instants a job must show, followed from the tags of the states it enters:
 * started on the first entry into a running state (cleared when a terminal job is restarted), ended
 * from the first terminal state on, while it stays terminal.
 */
export class LifeTimes {
  startedAt: number | null = null;
  endedAt: number | null = null;
  #terminal = false;

  /** The job entered (or, on a self-transition, stayed in) a state with these tags at `at`; creation included. */
  enter(tags: readonly string[], at: number): void {
    const terminal = tags.includes('terminal');
    if (this.#terminal && !terminal) this.startedAt = null;
    if (tags.includes('running') && this.startedAt === null) this.startedAt = at;
    this.endedAt = terminal ? (this.#terminal ? this.endedAt : at) : null;
    this.#terminal = terminal;
  }

  /** Throws unless the job shows these instants. */
  check(job: Pick<StoredJob, 'startedAt' | 'endedAt'>, where?: Where): void {
    if (job.startedAt !== this.startedAt) broken('started-when-running', `started ${job.startedAt}, expected ${this.startedAt}`, where);
    if (job.endedAt !== this.endedAt) broken('ended-when-first-terminal', `ended ${job.endedAt}, expected ${this.endedAt}`, where);
  }
}

/** The right answers to one send: a refusal with one of `refuse` (error codes), or, when `accept` is set, acceptance into that state path. */
export interface ExpectedAnswer {
  refuse: readonly string[];
  accept: string | null;
}

/** Throws unless the send's outcome (its error, or the state it led to) is one of the right answers. */
export function checkAnswer(expected: ExpectedAnswer, outcome: { error: unknown } | { path: string }, where?: Where): void {
  if ('error' in outcome) {
    if (expected.refuse.some((code) => isPhaselineError(outcome.error, code as never))) return;
    const got = `got ${outcome.error instanceof Error ? `${outcome.error.name}: ${outcome.error.message}` : show(outcome.error)}`;
    if (expected.accept !== null) {
      broken('accepted-as-expected', `expected acceptance into ${expected.accept}${expected.refuse.length > 0 ? ` or ${expected.refuse.join(' or ')}` : ''}, ${got}`, where);
    }
    broken('refused-as-expected', `expected ${expected.refuse.join(' or ')}, ${got}`, where);
  }
  if (expected.accept === null) broken('refused-as-expected', `expected ${expected.refuse.join(' or ')}, but it was accepted into ${outcome.path}`, where);
}

/** Throws unless a refused event left the job and its history as they were. */
export function checkUnchanged(before: StoredRecord, after: StoredRecord | undefined, where?: Where): void {
  if (!after) return broken('refusal-changes-nothing', 'the job is gone', where);
  if (!sameJson(before.job, after.job)) broken('refusal-changes-nothing', `the row changed: ${diffJson(before.job, after.job)}`, where);
  if (!sameJson(before.history, after.history)) broken('refusal-changes-nothing', `the history changed: ${show(before.history.at(-1))} → ${show(after.history.at(-1))}`, where);
}

/** Throws unless replay found no divergence. */
export function checkReplay(divergences: readonly unknown[], where?: Where): void {
  if (divergences.length > 0) broken('replay-rebuilds', show(divergences), where);
}

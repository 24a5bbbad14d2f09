/**
 * Rules that hold of any stored job and its history, whatever happened before: timestamps in
 * order, one event per version, flags that mirror the state's tags, progress within bounds.
 */
import { show } from './json.ts';
import { statePathOf } from './machine-facts.ts';
import { broken, type StoredRecord } from './rules.ts';

/** Context fields with a column of their own, which the stored snapshot must leave out. */
const MIRRORED_FIELDS = [
  'params', 'result', 'errors', 'progress', 'question', 'reply', 'inside', 'step', 'attempt', 'cancelRequested',
  'priority', 'executionDuration', 'destruction', 'quote',
] as const;

const OUTCOMES: readonly string[] = ['succeeded', 'failed', 'cancelled'];

/** What the rules need to know of the job's state besides the row. */
export interface StateFacts {
  /** The tags of the stored state, exactly (the machine's, or an independently written table's). */
  tags: readonly string[];
  /** The values the state column may hold; unchecked when absent. */
  states?: readonly string[];
}

/** Throws a {@link RuleViolation} for the first rule the stored job or its history breaks. */
export function checkStoredJob({ job, history }: StoredRecord, facts: StateFacts, where?: () => string): void {
  const fail = (rule: Parameters<typeof broken>[0], detail: string) => broken(rule, detail, where);
  const path = statePathOf(job.snapshot.value);
  const { tags } = facts;
  const terminal = tags.includes('terminal');
  if (facts.states && !facts.states.includes(job.state)) fail('state-column', `state ${job.state} is none of ${facts.states.join(', ')}`);
  if (path.split('.')[0] !== job.state) fail('state-column', `${job.state} vs snapshot ${path}`);

  // runAfter, destruction, quote and the lease expiry are instants the job is scheduled against,
  // not times it lived through, so they may lie ahead of `updated`.
  const { createdAt, startedAt, endedAt, updatedAt } = job;
  if (startedAt !== null && startedAt < createdAt) fail('timestamps-ordered', `created ${createdAt} > started ${startedAt}`);
  if (endedAt !== null && endedAt < (startedAt ?? createdAt)) fail('timestamps-ordered', `${startedAt ?? createdAt} > ended ${endedAt}`);
  for (const [what, at] of [['created', createdAt], ['started', startedAt], ['ended', endedAt]] as const) {
    if (at !== null && at > updatedAt) fail('updated-latest', `${what} ${at} > updated ${updatedAt}`);
  }
  for (const error of job.errors) if (error.at > updatedAt) fail('updated-latest', `error at ${error.at} > updated ${updatedAt}`);

  if (history.length !== job.version) fail('history-version', `${history.length} events at version ${job.version}`);
  if (history[0]?.type !== 'CREATE' || history[0].at !== createdAt) fail('history-version', `first event ${show(history[0])}, created ${createdAt}`);
  history.forEach((event, i) => {
    if (event.seq !== i + 1) fail('history-version', `event ${i} has seq ${event.seq}`);
    if (event.jobId !== job.id) fail('history-version', `event ${event.seq} of job ${event.jobId}, not ${job.id}`);
    const before = history[i - 1];
    if (before && event.at < before.at) fail('history-ordered', `seq ${event.seq} at ${event.at} < ${before.at}`);
    if (before && event.stateBefore !== before.stateAfter) fail('history-ordered', `seq ${event.seq} starts in ${event.stateBefore} after ${before.stateAfter}`);
  });
  const last = history.at(-1)!;
  if (last.at !== updatedAt) fail('updated-latest', `updated ${updatedAt}, last event at ${last.at}`);
  if (last.stateAfter !== job.state) fail('history-ordered', `the last event leads to ${last.stateAfter}, the row is in ${job.state}`);

  if ((endedAt !== null) !== terminal) fail('ended-when-terminal', `ended ${endedAt} in ${path} (tags ${tags.join(', ') || 'none'})`);
  // A parked job (asleep, or waiting for a signal) keeps its running state, but no handler holds
  // it: not running, and claimable once it has a wake instant (or its cancellation was asked).
  const parkedValue = job.snapshot.context.parked as { wakeAt: number | null } | null | undefined;
  const parked = tags.includes('running') && parkedValue ? parkedValue : null;
  const claimable = tags.includes('queued') || (parked !== null && (parked.wakeAt !== null || job.cancelRequested === true));
  if (job.claimable !== claimable) fail('flags-mirror-tags', `claimable ${job.claimable} in ${path}${parked ? ' (parked)' : ''}`);
  if (job.running !== (tags.includes('running') && parked === null)) fail('flags-mirror-tags', `running ${job.running} in ${path}${parked ? ' (parked)' : ''}`);
  if (job.waiting !== tags.includes('waiting')) fail('flags-mirror-tags', `waiting ${job.waiting} in ${path}`);
  const outcome = tags.find((t) => OUTCOMES.includes(t)) ?? null;
  if (job.outcome !== (terminal ? outcome : null)) fail('flags-mirror-tags', `outcome ${job.outcome} in ${path}, tagged ${outcome}`);
  if (!job.running && (job.leaseId !== null || job.leaseExpiresAt !== null || job.workerId !== null)) {
    fail('lease-while-running', `lease ${job.leaseId} in ${path}`);
  }

  const { progressPercent: percent, progressCurrent: current, progressTotal: total } = job;
  if (!(percent >= 0 && percent <= 100)) fail('progress-bounds', `percent ${percent}`);
  if (current !== null && !(current >= 0)) fail('progress-bounds', `current ${current}`);
  if (total !== null && !(total >= 0)) fail('progress-bounds', `total ${total}`);
  if (current !== null && total !== null && current > total) fail('progress-bounds', `current ${current} > total ${total}`);
  if (job.outcome === 'succeeded' && percent !== 100) fail('success-is-100', `${percent} percent`);
  for (const key of MIRRORED_FIELDS) if (key in job.snapshot.context) fail('snapshot-columns', `the snapshot holds ${key}`);
}

/**
 * Replay: fold a job's stored events through the machine version it was created with, from the
 * machine's initial snapshot, and compare the result with the stored row and snapshot. Like
 * Temporal's history replay, it catches a machine changed in place: an event it now refuses, or a
 * state it now reaches differently, is reported at the first event where it appears. A row edited
 * behind the engine's back is reported against the last event, which wrote it.
 */
import type { AnyMachineSnapshot } from 'xstate';
import { firstSnapshot, machineEvent, nextSnapshot } from '../engine/transition.ts';
import type { JobEventRow, JobRow } from '../db/schema.ts';
import { deriveRow, normalizeStored, NO_LEASE, type LeaseColumns } from '../engine/derive.ts';
import type { CreatePayload, Engine } from '../engine/engine.ts';
import type { LifecycleRegistry } from '../engine/lifecycles.ts';
import type { Store } from '../db/store.ts';
import { describeState } from '../engine/engine.ts';
import { isPhaselineError } from '../errors.ts';
import type { Divergence, JobReplay, ReplaySummary } from './types.ts';

export type { Divergence, JobReplay, ReplaySummary } from './types.ts';

/** Columns that only claims and heartbeats write: not part of what the history determines. */
const LEASE_FIELDS = new Set<keyof LeaseColumns>(['leaseId', 'leaseExpiresAt', 'workerId']);

export function replayJob(engine: Engine, jobId: number): JobReplay {
  const stored = engine.find(jobId);
  const events = engine.history(jobId);
  const divergences = stored
    ? foldAndCompare(engine, stored, events)
    : [{ seq: null, field: 'job', stored: undefined, replayed: 'a job with this id' }];
  return { jobId, events: events.length, divergences };
}

export function replayAll(engine: Engine, onJob?: (report: JobReplay) => void): ReplaySummary {
  return replayRange(engine, 1, Number.MAX_SAFE_INTEGER, onJob);
}

/** Replay the jobs with ids in `fromId..toId`. */
export function replayRange(engine: Engine, fromId: number, toId: number, onJob?: (report: JobReplay) => void): ReplaySummary {
  const summary: ReplaySummary = { jobs: 0, events: 0, diverged: 0, reports: [], threads: 1 };
  // A page of jobs and all their events in two queries (job_events is clustered on job and
  // sequence), read in one read transaction so that both come from the same moment.
  for (let after = fromId - 1; after < toId; ) {
    const { jobs: page, events } = engine.pageWithHistory(after, PAGE, toId);
    if (page.length === 0) break;
    after = replayPage(engine, page, events, summary, onJob);
  }
  return summary;
}

/** {@link replayJob} on any store, a server's included: its reads are awaited. */
export async function replayJobAsync(engine: Engine<Store>, jobId: number): Promise<JobReplay> {
  const [stored, events] = await Promise.all([engine.find(jobId), engine.history(jobId)]);
  const divergences = stored
    ? foldAndCompare(engine, stored, events)
    : [{ seq: null, field: 'job', stored: undefined, replayed: 'a job with this id' }];
  return { jobId, events: events.length, divergences };
}

/** {@link replayAll} on any store: each page and its events are one read transaction, awaited. */
export async function replayAllAsync(engine: Engine<Store>, onJob?: (report: JobReplay) => void): Promise<ReplaySummary> {
  const summary: ReplaySummary = { jobs: 0, events: 0, diverged: 0, reports: [], threads: 1 };
  for (let after = 0; ; ) {
    const { jobs: page, events } = await engine.pageWithHistory(after, PAGE, Number.MAX_SAFE_INTEGER);
    if (page.length === 0) return summary;
    after = replayPage(engine, page, events, summary, onJob);
  }
}

const PAGE = 500;

/** Fold and compare each job of a page (events by job then sequence); returns the page's last id. */
function replayPage(
  engine: Pick<Engine<Store>, 'lifecycles'>,
  page: readonly JobRow[],
  events: readonly JobEventRow[],
  summary: ReplaySummary,
  onJob?: (report: JobReplay) => void,
): number {
  let e = 0;
  for (const stored of page) {
    while (e < events.length && events[e]!.jobId < stored.id) e++;
    const start = e;
    while (e < events.length && events[e]!.jobId === stored.id) e++;
    const history = events.slice(start, e);
    const report: JobReplay = { jobId: stored.id, events: history.length, divergences: foldAndCompare(engine, stored, history) };
    summary.jobs++;
    summary.events += report.events;
    if (report.divergences.length > 0) {
      summary.diverged++;
      summary.reports.push(report);
    }
    onJob?.(report);
  }
  return page.at(-1)!.id;
}

function foldAndCompare(engine: { lifecycles: LifecycleRegistry }, stored: JobRow, events: JobEventRow[]): Divergence[] {
  const first = events[0];
  if (!first || first.type !== 'CREATE' || first.seq !== 1) {
    return [{ seq: first?.seq ?? null, field: 'history', stored: first?.type ?? 'no events', replayed: 'CREATE at seq 1' }];
  }
  const creation = first.payload as unknown as CreatePayload;
  let lifecycle;
  try {
    lifecycle = engine.lifecycles.get(creation.lifecycle, creation.lifecycleVersion);
  } catch (error) {
    if (!isPhaselineError(error, 'UNKNOWN_LIFECYCLE')) throw error;
    return [{ seq: 1, field: 'lifecycle', stored: `${creation.lifecycle}@${creation.lifecycleVersion}`, replayed: 'not registered' }];
  }
  const identity = {
    id: stored.id,
    lifecycle: creation.lifecycle,
    lifecycleVersion: creation.lifecycleVersion,
    type: creation.type,
    owner: creation.owner,
    runId: creation.runId,
    idempotencyKey: creation.idempotencyKey,
  };
  const initial = firstSnapshot(lifecycle.machine, creation.input);
  let snapshot: AnyMachineSnapshot = initial;
  let row = deriveRow(null, identity, snapshot, first.at, NO_LEASE);
  const checkStep = (event: JobEventRow): Divergence | null => {
    if (event.seq !== row.version) return { seq: event.seq, field: 'history', stored: `seq ${event.seq}`, replayed: `seq ${row.version}` };
    if (event.stateAfter !== row.state) return { seq: event.seq, field: 'state', stored: event.stateAfter, replayed: row.state };
    return null;
  };
  const firstProblem = checkStep(first);
  if (firstProblem) return [firstProblem];
  for (let i = 1; i < events.length; i++) {
    const event = events[i]!;
    const next = nextSnapshot(lifecycle.machine, snapshot, machineEvent(event.type, event.at, event.payload));
    if (next === snapshot) {
      return [{ seq: event.seq, field: 'transition', stored: `${event.stateBefore} → ${event.stateAfter} on ${event.type}`, replayed: `${describeState(snapshot)} refuses ${event.type}` }];
    }
    snapshot = next;
    row = deriveRow(row, identity, snapshot, event.at, NO_LEASE);
    const problem = checkStep(event);
    if (problem) return [problem];
  }
  const lastSeq = events.at(-1)!.seq;
  const divergences: Divergence[] = [];
  for (const key of Object.keys(row) as (keyof JobRow)[]) {
    if (LEASE_FIELDS.has(key as keyof LeaseColumns)) continue;
    const value = key === 'snapshot' ? normalizeStored(stored.snapshot) : stored[key];
    if (!sameValue(value, row[key])) divergences.push({ seq: lastSeq, field: key, stored: stored[key], replayed: row[key] });
  }
  return divergences;
}

/** Equal as stored: primitives by value, JSON values by their serialization. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

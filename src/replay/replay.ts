/**
 * Replay: fold a job's stored events through the machine version it was created with (and, after
 * an UPGRADE event, the version it moved to), from the machine's initial snapshot, and compare the
 * result with the stored row and snapshot (src/replay/fold.ts). Like
 * Temporal's history replay, it catches a machine changed in place: an event it now refuses, or a
 * state it now reaches differently, is reported at the first event where it appears. A row edited
 * behind the engine's back is reported against the last event, which wrote it.
 */
import type { JobEventRow, JobRow } from '../db/schema.ts';
import type { Engine } from '../engine/engine.ts';
import type { LifecycleRegistry } from '../engine/lifecycles.ts';
import type { Store } from '../db/store.ts';
import { fold, resolverOf } from './fold.ts';
import type { Divergence, JobReplay, ReplaySummary } from './types.ts';

export type { Divergence, JobReplay, ReplaySummary } from './types.ts';

export function replayJob(engine: Engine, jobId: number): JobReplay {
  const stored = engine.find(jobId);
  const events = engine.history(jobId);
  const divergences = stored
    ? foldAndCompare(engine, stored, events)
    : [MISSING_JOB];
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
    : [MISSING_JOB];
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

/** Jobs per page read (with all their events, in one read transaction). */
export const PAGE = 500;

const MISSING_JOB: Divergence = { seq: null, event: null, field: 'job', cause: 'job', lifecycle: null, state: null, stored: undefined, replayed: 'a job with this id' };

/** Each job of a page with its own events (the page's events come by job, then sequence). */
export function* jobsOfPage(page: readonly JobRow[], events: readonly JobEventRow[]): Generator<{ row: JobRow; events: JobEventRow[] }> {
  let e = 0;
  for (const row of page) {
    while (e < events.length && events[e]!.jobId < row.id) e++;
    const start = e;
    while (e < events.length && events[e]!.jobId === row.id) e++;
    yield { row, events: events.slice(start, e) };
  }
}

/** Fold and compare each job of a page; returns the page's last id. */
function replayPage(
  engine: Pick<Engine<Store>, 'lifecycles' | 'compiledLifecycles'>,
  page: readonly JobRow[],
  events: readonly JobEventRow[],
  summary: ReplaySummary,
  onJob?: (report: JobReplay) => void,
): number {
  for (const { row: stored, events: history } of jobsOfPage(page, events)) {
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

function foldAndCompare(engine: { lifecycles: LifecycleRegistry; compiledLifecycles?: boolean }, stored: JobRow, events: JobEventRow[]): Divergence[] {
  return fold(stored, events, resolverOf(engine.lifecycles), { compiled: engine.compiledLifecycles !== false }).divergences;
}

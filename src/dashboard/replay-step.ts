/**
 * The job as it was after its N-th event: the stored history's first N events folded through the
 * machine versions the job was on (src/replay/fold.ts, the fold replay itself uses), and the row
 * derived after the last of them. Never guessed from the current row.
 */
import type { Lifecycle } from '../../machines/common.ts';
import { toJob } from '../engine/job.ts';
import type { Job } from '../engine/job-types.ts';
import type { Phaseline } from '../phaseline.ts';
import { fold, type Resolve } from '../replay/fold.ts';
import { fromStoredHistory } from '../replay/stored.ts';
import type { Divergence, StoredHistory } from '../replay/types.ts';

export interface JobAtStep {
  /** The event number shown (1 is CREATE). */
  step: number;
  /** The job after that event; null when the fold could not get there. */
  job: Job | null;
  /** Where the fold stopped short of `step`: the history does not replay up to it. */
  divergence: Divergence | null;
}

const resolvers = new WeakMap<Phaseline, Resolve>();

/** The registered lifecycles by name and version. */
export function resolverFor(phaseline: Phaseline): Resolve {
  let resolve = resolvers.get(phaseline);
  if (!resolve) {
    const byKey = new Map<string, Lifecycle>(phaseline.lifecycles().map((l) => [`${l.name}@${l.version}`, l]));
    resolve = (name, version) => byKey.get(`${name}@${version}`) ?? null;
    resolvers.set(phaseline, resolve);
  }
  return resolve;
}

/** The events shown are numbered 1..n; `step` is clamped to that range. */
export function clampStep(step: number | undefined, events: number): number {
  if (step === undefined || !Number.isFinite(step)) return events;
  return Math.min(events, Math.max(1, Math.trunc(step)));
}

export function jobAtStep(phaseline: Phaseline, history: StoredHistory, step: number): JobAtStep {
  const { row, events } = fromStoredHistory(history);
  const upTo = events.slice(0, step);
  const { steps, divergences } = fold(row, upTo, resolverFor(phaseline), { record: true });
  const reached = steps[step - 1];
  if (!reached) return { step, job: null, divergence: divergences[0] ?? null };
  return { step, job: toJob(reached.row), divergence: null };
}

/**
 * `replayHistories`: stored histories outside the database, in the exported format (one
 * `{ job, events }` per job, a line of `phaseline export`; src/replay/stored.ts), folded through
 * candidate lifecycles, so that a changed machine can be tried on production's histories before
 * it is deployed.
 */
import { builtInLifecycles } from '../../machines/index.ts';
import type { Lifecycle } from '../../machines/common.ts';
import { validateLifecycle } from '../engine/lifecycles.ts';
import { InvalidInputError } from '../errors.ts';
import { groupByCause } from './causes.ts';
import { compareWith, type Resolve } from './fold.ts';
import { fromStoredHistory, parseHistory } from './stored.ts';
import type { Divergence, HistoryReplayReport, JobReplay, StoredHistory } from './types.ts';

export interface ReplayHistoriesOptions {
  /**
   * The lifecycles the histories were written with (default: the five built-in ones). Each
   * candidate replaces the one of its name and version; the others stay. Where a candidate replaces
   * one, each step of a job's replay is also compared with that one's, so a changed tag or derived
   * column shows at the event where it appears, even at a state the job has left.
   */
  registered?: readonly Lifecycle[];
}

const key = (name: string, version: number) => `${name}@${version}`;

/** The candidates over the registered lifecycles, and the registered ones alone. */
function machinesOf(candidates: readonly Lifecycle[], registered: readonly Lifecycle[]): { candidate: Resolve; written: Resolve } {
  const written = new Map<string, Lifecycle>();
  for (const lifecycle of registered) written.set(key(lifecycle.name, lifecycle.version), lifecycle);
  const mine = new Map<string, Lifecycle>();
  for (const lifecycle of candidates) {
    validateLifecycle(lifecycle);
    const k = key(lifecycle.name, lifecycle.version);
    const taken = mine.get(k);
    if (taken && taken !== lifecycle) throw new InvalidInputError(`lifecycle ${lifecycle.name}`, `two candidates for version ${lifecycle.version}`);
    mine.set(k, lifecycle);
  }
  return {
    candidate: (name, version) => mine.get(key(name, version)) ?? written.get(key(name, version)) ?? null,
    written: (name, version) => written.get(key(name, version)) ?? null,
  };
}

/** `name@version` when the job could not be replayed for want of its machine, else null. */
export function missingLifecycle(divergences: readonly Divergence[]): string | null {
  const [only] = divergences;
  return divergences.length === 1 && only!.cause === 'lifecycle' ? String(only!.stored) : null;
}

/**
 * Fold stored histories (in the exported format: `phaseline export`, `Phaseline.histories()`)
 * through candidate lifecycles, which replace the registered ones of the same name and version,
 * and report, per job, the first event where the result differs from the stored history, grouped
 * by cause. A machine changed in place (same name and version, other transitions) is caught there.
 * Jobs whose lifecycle version nobody has are listed in `notReplayed`, not counted as diverged.
 * Invalid histories are refused with INVALID_INPUT, naming the item.
 */
export async function replayHistories(
  histories: Iterable<StoredHistory> | AsyncIterable<StoredHistory>,
  lifecycles: readonly Lifecycle[] = [],
  options: ReplayHistoriesOptions = {},
): Promise<HistoryReplayReport> {
  const { candidate, written } = machinesOf(lifecycles, options.registered ?? Object.values(builtInLifecycles));
  const reports: JobReplay[] = [];
  const unknown = new Map<string, number[]>();
  let jobs = 0;
  let events = 0;
  let n = 0;
  for await (const item of histories) {
    const { row, events: history } = fromStoredHistory(parseHistory(item, `history ${++n}`));
    const divergences = compareWith(row, history, candidate, written);
    const missing = missingLifecycle(divergences);
    if (missing !== null) {
      let ids = unknown.get(missing);
      if (!ids) unknown.set(missing, (ids = []));
      ids.push(row.id);
      continue;
    }
    jobs++;
    events += history.length;
    if (divergences.length > 0) reports.push({ jobId: row.id, events: history.length, divergences });
  }
  return {
    jobs,
    events,
    diverged: reports.length,
    causes: groupByCause(reports),
    reports,
    notReplayed: [...unknown].map(([lifecycle, jobIds]) => ({ lifecycle, jobs: jobIds.length, jobIds })),
  };
}

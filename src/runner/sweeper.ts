/**
 * Destruction and retention, run by every worker's maintenance tick (the work is idempotent). What
 * each does to a job is its lifecycle's to say (machines/common.ts `Lifecycle`):
 *
 * - A job whose destruction instant has come is cancelled if it is still active, then, once ended,
 *   sent its lifecycle's `archiveEvent` (UWS ARCHIVE: results dropped, record kept) or, without
 *   one or with `destroy: 'delete'`, deleted.
 * - Finished jobs are deleted, history with them, `retentionMs` after they ended, except those of
 *   lifecycles with `retention: false` (UWS keeps its records until destruction).
 */
import type { Store } from '../db/store.ts';
import type { Engine } from '../engine/engine.ts';
import { isPhaselineError } from '../errors.ts';
import type { SweepOptions } from './options.ts';

export type { SweepOptions } from './options.ts';

const ACTOR = 'sweeper';

/** Awaited on either kind of store (a synchronous one's values are awaited as they are). */
export async function sweep(engine: Engine<Store>, now: number, options: SweepOptions, report: (error: unknown, where: string) => void): Promise<void> {
  const batch = options.batch ?? 500;
  const remove: number[] = [];
  for (const due of await engine.dueForDestruction(now, batch)) {
    try {
      let ended = due.endedAt !== null;
      if (!ended && !due.cancelRequested) {
        await engine.send(due.id, { type: 'CANCEL', reason: 'destruction' }, { actor: ACTOR });
        ended = (await engine.get(due.id)).endedAt !== null;
      }
      const archiveEvent = archiveEventOf(engine, due.lifecycle, due.lifecycleVersion);
      if (archiveEvent !== undefined && (options.destroy ?? 'archive') === 'archive') {
        if (ended) await engine.send(due.id, { type: archiveEvent }, { actor: ACTOR });
      } else if (ended) {
        remove.push(due.id);
      }
    } catch (error) {
      // A job that changed under us is picked up again on the next tick.
      if (!isPhaselineError(error, 'ILLEGAL_TRANSITION') && !isPhaselineError(error, 'STALE_VERSION')) report(error, `destruction of job ${due.id}`);
    }
  }
  const retention = options.retentionMs === undefined ? 7 * 24 * 3600_000 : options.retentionMs;
  if (retention !== null) {
    const kept = new Set(engine.lifecycles.all().filter((l) => l.retention === false).map((l) => l.name));
    remove.push(...(await engine.endedBefore(now - retention, [...kept], batch)));
  }
  await engine.deleteJobs(remove);
}

/** The lifecycle's archive event; none for a lifecycle no longer registered, whose ended jobs are deleted as before. */
function archiveEventOf(engine: Engine<Store>, name: string, version: number): string | undefined {
  try {
    return engine.lifecycles.get(name, version).archiveEvent;
  } catch (error) {
    if (isPhaselineError(error, 'UNKNOWN_LIFECYCLE')) return undefined;
    throw error;
  }
}

/**
 * Destruction and retention, run by every worker's maintenance tick (the work is idempotent).
 *
 * - A job whose destruction instant has come is cancelled if it is still active (UWS: ABORT), then
 *   a UWS job is archived (ARCHIVED: results dropped, record kept) or, with `destroy: 'delete'`,
 *   deleted; a job of another lifecycle is deleted once it has ended.
 * - Finished jobs of lifecycles other than UWS are deleted, history with them, `retentionMs` after
 *   they ended (UWS keeps its records until destruction).
 */
import type { Engine } from '../engine/engine.ts';
import { isPhaselineError } from '../errors.ts';
import type { SweepOptions } from './options.ts';

export type { SweepOptions } from './options.ts';

const ACTOR = 'sweeper';

export function sweep(engine: Engine, now: number, options: SweepOptions, report: (error: unknown, where: string) => void): void {
  const batch = options.batch ?? 500;
  const remove: number[] = [];
  for (const due of engine.dueForDestruction(now, batch)) {
    try {
      let ended = due.endedAt !== null;
      if (!ended && !due.cancelRequested) {
        engine.send(due.id, { type: 'CANCEL', reason: 'destruction' }, { actor: ACTOR });
        ended = engine.get(due.id).endedAt !== null;
      }
      if (due.lifecycle === 'uws' && (options.destroy ?? 'archive') === 'archive') {
        if (ended) engine.send(due.id, { type: 'ARCHIVE' }, { actor: ACTOR });
      } else if (ended) {
        remove.push(due.id);
      }
    } catch (error) {
      // A job that changed under us is picked up again on the next tick.
      if (!isPhaselineError(error, 'ILLEGAL_TRANSITION') && !isPhaselineError(error, 'STALE_VERSION')) report(error, `destruction of job ${due.id}`);
    }
  }
  const retention = options.retentionMs === undefined ? 7 * 24 * 3600_000 : options.retentionMs;
  if (retention !== null) remove.push(...engine.endedBefore(now - retention, ['uws'], batch));
  engine.deleteJobs(remove);
}

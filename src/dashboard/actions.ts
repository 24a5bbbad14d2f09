/**
 * The actions a job page offers, and doing them. What is offered is asked of the job's machine
 * (its current snapshot, restored from the stored row, and `snapshot.can`), never decided here by
 * state names; doing one goes through the facade with the caller's owner, as the HTTP API does,
 * so a refusal is the engine's typed error and changes nothing.
 */
import type { Json, Lifecycle } from '../../machines/common.ts';
import { restoreSnapshot } from '../engine/derive.ts';
import { machineEvent } from '../engine/transition.ts';
import type { Job } from '../engine/job-types.ts';
import { InvalidInputError } from '../errors.ts';
import type { Caller } from '../http/app.ts';
import type { Phaseline } from '../phaseline.ts';
import { fromStoredHistory } from '../replay/stored.ts';
import type { StoredHistory } from '../replay/types.ts';
import { resolverFor } from './replay-step.ts';

export type ActionName = 'run' | 'cancel' | 'reply' | 'restart' | 'delete';

export const ACTION_LABELS: Record<ActionName, string> = {
  run: 'Run',
  cancel: 'Cancel',
  reply: 'Send reply',
  restart: 'Restart',
  delete: 'Delete',
};

/** The machine event each action sends (delete sends none: it removes the job). */
const EVENT_OF: Record<Exclude<ActionName, 'delete'>, string> = { run: 'RUN', cancel: 'CANCEL', reply: 'REPLY', restart: 'RESTART' };

export function isActionName(value: string): value is ActionName {
  return value in ACTION_LABELS;
}

/** The actions the job's machine accepts now, in a fixed order. */
export function actionsFor(phaseline: Phaseline, history: StoredHistory, now: number = Date.now()): ActionName[] {
  const { row } = fromStoredHistory(history);
  const lifecycle: Lifecycle | null = resolverFor(phaseline)(row.lifecycle, row.lifecycleVersion);
  const actions: ActionName[] = [];
  if (lifecycle) {
    const snapshot = restoreSnapshot(lifecycle.machine, row.snapshot, row);
    const accepts = (type: string, payload: Record<string, unknown> | null = null) => snapshot.can(machineEvent(type, now, payload));
    if (accepts('RUN')) actions.push('run');
    if (row.waiting && accepts('REPLY', { reply: null })) actions.push('reply');
    if (accepts('RESTART')) actions.push('restart');
    // A cancellation already asked for is not offered again.
    if (!row.cancelRequested && row.endedAt === null && accepts('CANCEL')) actions.push('cancel');
  }
  if (row.endedAt !== null) actions.push('delete');
  return actions;
}

/** Do one action as the caller. Throws the facade's typed error when it is refused. */
export async function performAction(phaseline: Phaseline, caller: Caller, id: number, action: ActionName, reply?: Json): Promise<Job | null> {
  const owner = caller.admin ? {} : { owner: caller.owner };
  const actor = caller.owner ?? null;
  switch (action) {
    case 'cancel':
      return phaseline.cancel(id, owner);
    case 'reply':
      if (reply === undefined) throw new InvalidInputError('reply', 'is missing');
      return phaseline.reply(id, reply, owner);
    case 'run':
    case 'restart':
      return phaseline.send(id, { type: EVENT_OF[action] }, { ...owner, actor });
    case 'delete':
      await phaseline.delete(id, owner);
      return null;
  }
}

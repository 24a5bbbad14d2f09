/**
 * Which wire state a view shows for a job: the one mapping every view uses.
 *
 * A job of any lifecycle can be shown in any view. When the job's own lifecycle is the view's
 * (a UWS job in the UWS view), the view shows `job.state` as stored. Otherwise it reads the
 * job's engine tags (never its state names) into a {@link CorePhase}, and {@link VIEW_STATES}
 * turns that into the view's enum.
 */
import { ECOTAXA_STATES, type EcotaxaState } from '../../machines/ecotaxa.ts';
import { QISKIT_STATUSES, type QiskitStatus } from '../../machines/qiskit.ts';
import { RIME_STATUSES, type RimeStatus } from '../../machines/rime.ts';
import { SYNAPSE_STATES, type SynapseJobState } from '../../machines/synapse.ts';
import { UWS_PHASES, type UwsPhase } from '../../machines/uws.ts';
import type { Job } from '../engine/job-types.ts';
import { InvalidInputError } from '../errors.ts';

export type ViewName = 'ecotaxa' | 'rime' | 'synapse' | 'uws' | 'qiskit';
export const VIEW_NAMES = ['ecotaxa', 'rime', 'synapse', 'uws', 'qiskit'] as const satisfies readonly ViewName[];

/**
 * Where a job stands, read from its tags (machines/common.ts):
 * - `draft`: not terminal, and neither queued, running nor waiting: nobody may claim it yet
 *   (UWS PENDING, RIME REQUESTED, Qiskit INITIALIZING);
 * - `queued`: claimable;
 * - `running`: a handler runs it, or it is parked in its running state (a sleep, a signal wait);
 * - `paused`: waiting *and* claimable: paused by the server, resumes by itself (UWS SUSPENDED);
 * - `waiting`: waiting and not claimable: needs a reply or a client's RUN (EcoTaxa A, UWS HELD);
 * - `succeeded`, `failed`, `cancelled`: terminal, by outcome.
 */
export type CorePhase = 'draft' | 'queued' | 'running' | 'paused' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';

export function corePhase(job: Pick<Job, 'id' | 'terminal' | 'outcome' | 'running' | 'waiting' | 'queued'> & { parked?: Job['parked'] }): CorePhase {
  if (job.terminal) {
    if (job.outcome === null) throw new InvalidInputError(`job ${job.id}`, 'is terminal but has no outcome (tag contract broken)');
    return job.outcome;
  }
  // A parked job (asleep, or waiting for a signal) is in its lifecycle's running state: so it shows.
  if (job.running || job.parked) return 'running';
  if (job.waiting) return job.queued ? 'paused' : 'waiting';
  return job.queued ? 'queued' : 'draft';
}

/** The wire state type of each view. */
export interface ViewStates {
  ecotaxa: EcotaxaState;
  rime: RimeStatus;
  synapse: SynapseJobState;
  uws: UwsPhase;
  qiskit: QiskitStatus;
}

/**
 * A foreign job's core phase in each view's enum. Rules, one per column:
 * - not claimable and not terminal (`draft`, and `waiting` where the API has no waiting state) is the
 *   API's "accepted, not yet admitted" value: RIME REQUESTED, Qiskit INITIALIZING;
 * - `paused` (resumes by itself) shows as queued: EcoTaxa P, RIME PENDING, Qiskit QUEUED;
 * - EcoTaxa shows a cancelled job as `E` (its "Killed"), Synapse every non-terminal job as
 *   PROCESSING and a cancelled one as FAILED (Synapse has no cancelled state);
 * - UWS has a phase for each: PENDING, QUEUED, EXECUTING, SUSPENDED, HELD, COMPLETED, ERROR, ABORTED.
 * UWS UNKNOWN and RIME UNSPECIFIED ("no information") are never produced.
 */
export const VIEW_STATES = {
  ecotaxa: { draft: 'P', queued: 'P', running: 'R', paused: 'P', waiting: 'A', succeeded: 'F', failed: 'E', cancelled: 'E' },
  rime: {
    draft: 'JOB_STATUS_REQUESTED',
    queued: 'JOB_STATUS_PENDING',
    running: 'JOB_STATUS_RUNNING',
    paused: 'JOB_STATUS_PENDING',
    waiting: 'JOB_STATUS_REQUESTED',
    succeeded: 'JOB_STATUS_SUCCEEDED',
    failed: 'JOB_STATUS_FAILED',
    cancelled: 'JOB_STATUS_CANCELLED',
  },
  synapse: {
    draft: 'PROCESSING',
    queued: 'PROCESSING',
    running: 'PROCESSING',
    paused: 'PROCESSING',
    waiting: 'PROCESSING',
    succeeded: 'COMPLETE',
    failed: 'FAILED',
    cancelled: 'FAILED',
  },
  uws: {
    draft: 'PENDING',
    queued: 'QUEUED',
    running: 'EXECUTING',
    paused: 'SUSPENDED',
    waiting: 'HELD',
    succeeded: 'COMPLETED',
    failed: 'ERROR',
    cancelled: 'ABORTED',
  },
  qiskit: {
    draft: 'INITIALIZING',
    queued: 'QUEUED',
    running: 'RUNNING',
    paused: 'QUEUED',
    waiting: 'INITIALIZING',
    succeeded: 'DONE',
    failed: 'ERROR',
    cancelled: 'CANCELLED',
  },
} as const satisfies { [V in ViewName]: Record<CorePhase, ViewStates[V]> };

/** The values a stored job of the view's own lifecycle may show as they are. */
const OWN_STATES: { [V in ViewName]: readonly ViewStates[V][] } = {
  ecotaxa: ECOTAXA_STATES,
  rime: RIME_STATUSES.filter((s) => s !== 'JOB_STATUS_UNSPECIFIED'),
  synapse: SYNAPSE_STATES,
  uws: UWS_PHASES.filter((p) => p !== 'UNKNOWN'),
  qiskit: QISKIT_STATUSES,
};

/** True when the view shows the job's own `state` (same lifecycle, and a state the view knows). */
export function isOwnLifecycle(job: Pick<Job, 'lifecycle' | 'state'>, view: ViewName): boolean {
  return job.lifecycle === view && (OWN_STATES[view] as readonly string[]).includes(job.state);
}

/**
 * The job's state in the view's enum: `job.state` itself for a job of the view's own lifecycle,
 * else its core phase through {@link VIEW_STATES}.
 */
export function viewState<V extends ViewName>(
  job: Pick<Job, 'id' | 'lifecycle' | 'state' | 'terminal' | 'outcome' | 'running' | 'waiting' | 'queued'>,
  view: V,
): ViewStates[V] {
  if (isOwnLifecycle(job, view)) return job.state as ViewStates[V];
  const table = VIEW_STATES[view] as Record<CorePhase, ViewStates[V]>;
  return table[corePhase(job)];
}

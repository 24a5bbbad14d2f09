/**
 * Views: pure functions from a stored {@link Job} to each public job API's wire model, and back
 * (parsing) where the API's model defines `from_dict` / `from_json`. See each file's header for
 * its mapping decisions, and phase.ts for how a job of one lifecycle shows in another's enum.
 */
import type { AnyJob } from '../engine/job-types.ts';
import { InvalidInputError } from '../errors.ts';
import { toEcotaxaJobModel, type EcotaxaJobModel } from './ecotaxa.ts';
import { toQiskitDict, type QiskitJobStatusDict, type QiskitViewOptions } from './qiskit.ts';
import { toRimeJobMetadata, type RimeJobMetadata, type RimeViewOptions } from './rime.ts';
import { toSynapseJobStatus, type SynapseAsynchronousJobStatus } from './synapse.ts';
import { toSafirJob, type SafirJob, type UwsViewOptions } from './uws.ts';
import type { ViewName } from './phase.ts';

export * from './phase.ts';
export * from './ecotaxa.ts';
export * from './rime.ts';
export * from './synapse.ts';
export * from './uws.ts';
export * from './qiskit.ts';
export { ownerAsUserId, isoInstant, isIsoInstant, toPhaselineJob, withoutPaths } from './wire.ts';
// The types the wire models and views are written in, so `phaseline/views` is usable on its own.
export type { Json, JobError } from '../../machines/common.ts';
export type { AnyJob, Job } from '../engine/job-types.ts';

/** The wire model each view returns (UWS: Safir's JSON `Job`; its XML has its own functions). */
export interface ViewModels {
  ecotaxa: EcotaxaJobModel;
  rime: RimeJobMetadata;
  synapse: SynapseAsynchronousJobStatus;
  uws: SafirJob;
  qiskit: QiskitJobStatusDict;
}

/** The options each view takes. RIME needs `now` (its running time is live); UWS needs the base URL. */
export interface ViewOptions {
  ecotaxa: Record<string, never> | undefined;
  rime: RimeViewOptions;
  synapse: Record<string, never> | undefined;
  uws: UwsViewOptions;
  qiskit: QiskitViewOptions | undefined;
}

/** Views whose options may be left out. */
type OptionalOptionsView = { [V in ViewName]: undefined extends ViewOptions[V] ? V : never }[ViewName];

/**
 * The job as the named API shows it.
 * @param job a stored job, of any lifecycle
 * @param view which API's model
 * @param options that view's options
 * @returns the view's wire model (plain JSON-safe data)
 */
export function toView<V extends OptionalOptionsView>(job: AnyJob, view: V, options?: ViewOptions[V]): ViewModels[V];
export function toView<V extends ViewName>(job: AnyJob, view: V, options: ViewOptions[V]): ViewModels[V];
export function toView(job: AnyJob, view: ViewName, options?: ViewOptions[ViewName]): ViewModels[ViewName] {
  switch (view) {
    case 'ecotaxa':
      return toEcotaxaJobModel(job);
    case 'rime':
      if (typeof (options as RimeViewOptions | undefined)?.now !== 'number') throw new InvalidInputError('rime view options.now', 'is required (the instant a running job is measured to)');
      return toRimeJobMetadata(job, options as RimeViewOptions);
    case 'synapse':
      return toSynapseJobStatus(job);
    case 'uws':
      if (typeof (options as UwsViewOptions | undefined)?.baseUrl !== 'string') throw new InvalidInputError('uws view options.baseUrl', 'is required (result URLs hang below it)');
      return toSafirJob(job, options as UwsViewOptions);
    case 'qiskit':
      return toQiskitDict(job, options as QiskitViewOptions | undefined);
  }
}

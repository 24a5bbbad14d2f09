/**
 * Synapse `AsynchronousJobStatus` (the Synapse-Repository-Services JSON schema of an asynchronous
 * job's status, whose jobState is PROCESSING, FAILED or COMPLETE).
 * JSON keys are the schema's camelCase (`runtimeMS`, not the Python client's `runtimeMs`).
 *
 * Mapping decisions:
 * - `jobId` is the job id as a string; `startedByUserId` is the owner as a user id (numeric owners
 *   become numbers, others stay strings; see `ownerAsUserId`), absent for an anonymous job.
 * - `startedOn` is the creation instant (Synapse's `startedOn` is the submission time) and
 *   `changedOn` the job's last update.
 * - `etag` changes exactly when the job's state changes: a UUID (version 5) derived from the job id
 *   and `job.stateVersion`, so the same stored job always gives the same etag. Progress, the cancel
 *   flag and moves inside PROCESSING (queued → running) leave it alone, as in Synapse.
 * - `runtimeMS` is what Synapse would have stored: `changedOn - startedOn` while PROCESSING (Synapse
 *   recomputes it on each progress write), `end - startedOn` once terminal. No clock is read.
 * - `requestBody` is the job's params and `responseBody` its result once COMPLETE (Phaseline has
 *   no `concreteType`; the bodies are the stored JSON as it is).
 * - A FAILED job carries its last error: `exception` (the error's class name), `errorMessage`,
 *   `errorDetails` (the stack, as Synapse's field holds; server file paths cut to file names, as
 *   in the message: `withoutPaths`). A cancelled job of another lifecycle, which ends FAILED here, gets
 *   Synapse-lifecycle wording: exception `JobCanceledException`, "The job was cancelled"; one that
 *   succeeded gets progressMessage "Complete".
 * - `callersContext` is always null in Synapse's answers, so it is left out, like every field
 *   without a value (Synapse's JSON writer omits nulls).
 * No parser: the seed defines none (no `from_dict` / `from_json`).
 */
import { createHash } from 'node:crypto';
import type { Json } from '../../machines/common.ts';
import type { SynapseJobState } from '../../machines/synapse.ts';
import type { AnyJob, Job } from '../engine/job-types.ts';
import { viewState } from './phase.ts';
import { compact, isoInstant, lastError, ownerAsUserId } from './wire.ts';

export interface SynapseAsynchronousJobStatus {
  jobState?: SynapseJobState;
  jobCanceling?: boolean;
  requestBody?: Json;
  responseBody?: Json;
  etag?: string;
  jobId?: string;
  startedByUserId?: number | string;
  startedOn?: string;
  changedOn?: string;
  progressMessage?: string;
  progressCurrent?: number;
  progressTotal?: number;
  exception?: string;
  errorMessage?: string;
  errorDetails?: string;
  runtimeMS?: number;
  callersContext?: Json;
}

/** The namespace of Phaseline etags (a fixed, random UUID). */
export const SYNAPSE_ETAG_NAMESPACE = '3f6c1a52-8d0e-4b6e-9f43-7a1c2e5d9b80';

/** RFC 9562 UUID version 5 (SHA-1, name-based): deterministic, and shaped like Synapse's etags. */
export function uuidV5(name: string, namespace: string = SYNAPSE_ETAG_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The Synapse etag of a job: changes with `stateVersion`, i.e. on state changes only. */
export function synapseEtag(job: Pick<Job, 'id' | 'stateVersion'>): string {
  return uuidV5(`job:${job.id}:state-version:${job.stateVersion}`);
}

export function toSynapseJobStatus(job: AnyJob): SynapseAsynchronousJobStatus {
  const jobState = viewState(job, 'synapse');
  const foreign = job.lifecycle !== 'synapse';
  const error = jobState === 'FAILED' ? lastError(job) : undefined;
  const cancelledHere = foreign && job.outcome === 'cancelled';
  const { message, current, total } = job.progress;
  return compact<SynapseAsynchronousJobStatus>({
    jobState,
    jobCanceling: job.cancelRequested,
    requestBody: job.params,
    responseBody: jobState === 'COMPLETE' && job.result !== null ? job.result : undefined,
    etag: synapseEtag(job),
    jobId: String(job.id),
    startedByUserId: ownerAsUserId(job.owner) ?? undefined,
    startedOn: isoInstant(job.createdAt, 'startedOn'),
    changedOn: isoInstant(job.updatedAt, 'changedOn'),
    progressMessage: (foreign && jobState === 'COMPLETE' ? 'Complete' : message) ?? undefined,
    progressCurrent: current ?? undefined,
    progressTotal: total ?? undefined,
    exception: cancelledHere ? 'JobCanceledException' : error?.name,
    errorMessage: cancelledHere ? 'The job was cancelled' : error?.message,
    errorDetails: cancelledHere ? undefined : error?.stack,
    runtimeMS: Math.max(0, (job.endedAt ?? job.updatedAt) - job.createdAt),
  });
}

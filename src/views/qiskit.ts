/**
 * Qiskit `qiskit.providers.models.JobStatus` (a provider's job status model): `to_dict()` is
 * `{ job_id, status, status_msg, **extras }` and `from_dict(d)` is `JobStatus(**d)`.
 *
 * Mapping decisions:
 * - `job_id` is the job id as a string; `status` is the `JobStatus` member's NAME (`DONE`), since
 *   its value is prose; `status_msg` is that prose (`QISKIT_STATUS_MESSAGES`).
 * - Extras are whatever the caller passes in `options.extras` (Qiskit keeps any extra keyword);
 *   Phaseline adds none of its own.
 * - Parsing is stricter than Qiskit, which checks nothing: `job_id`, `status` and `status_msg` must
 *   be present and strings, `status` one of the member names, and extras JSON values.
 *   `status_msg` may be any text (a provider may word it its own way).
 */
import type { Json } from '../../machines/common.ts';
import { QISKIT_STATUSES, QISKIT_STATUS_MESSAGES, type QiskitStatus } from '../../machines/qiskit.ts';
import type { AnyJob } from '../engine/job-types.ts';
import { InvalidInputError } from '../errors.ts';
import { viewState } from './phase.ts';
import { WireReader } from './wire.ts';

export type QiskitJobStatusDict = {
  job_id: string;
  /** The `JobStatus` member name. */
  status: QiskitStatus;
  /** Human-readable status. */
  status_msg: string;
} & { [extra: string]: Json };

export interface QiskitViewOptions {
  /** Extra keys for the dict (`JobStatus(**kwargs)`); must not be `job_id`, `status` or `status_msg`. */
  extras?: { [key: string]: Json };
}

const CORE_KEYS = ['job_id', 'status', 'status_msg'] as const;

export function toQiskitDict(job: AnyJob, options: QiskitViewOptions = {}): QiskitJobStatusDict {
  const status = viewState(job, 'qiskit');
  const extras = options.extras ?? {};
  for (const key of CORE_KEYS) {
    if (Object.prototype.hasOwnProperty.call(extras, key)) throw new InvalidInputError(`Qiskit extras.${key}`, 'would overwrite a JobStatus field');
  }
  return { job_id: String(job.id), status, status_msg: QISKIT_STATUS_MESSAGES[status], ...extras };
}

/** `JobStatus.from_dict`. Throws InvalidInputError naming the field on malformed input. */
export function fromQiskitDict(data: unknown): QiskitJobStatusDict {
  const r = new WireReader('Qiskit JobStatus', data);
  const core = {
    job_id: r.required('job_id', r.string),
    status: r.required('status', r.oneOf(QISKIT_STATUSES)),
    status_msg: r.required('status_msg', r.string),
  };
  const out: QiskitJobStatusDict = { ...core };
  for (const key of r.rest()) {
    // defineProperty, not assignment: an extra named `__proto__` is data, not a prototype.
    Object.defineProperty(out, key, { value: r.json(r.raw(key), key), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

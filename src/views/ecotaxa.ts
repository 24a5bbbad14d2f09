/**
 * EcoTaxa `JobModel` (ecotaxa_py_client `docs/JobModel.md`: a job's state is P pending,
 * R running, A asking, E error or F finished), snake_case keys.
 *
 * Mapping decisions:
 * - `owner_id` is an integer in EcoTaxa; Phaseline owners are strings. A canonical decimal owner
 *   (`"42"`) becomes the number 42; any other owner stays its string, and an anonymous job has
 *   `null` (see {@link ownerAsUserId}). EcoTaxa clients that insist on an integer reject the last two.
 * - `params`, `result`, `question`, `reply` and `inside` default to `{}` when the job has none, as
 *   EcoTaxa's API model does; any other JSON value is passed as it is.
 * - `errors` (EcoTaxa's "errors seen during last step") are the messages of the errors of the job's
 *   latest attempt.
 * - `progress_pct` is an integer: the job's percentage rounded down, so 100 means done.
 * - A job of another lifecycle shown here gets EcoTaxa's wording for its end: `progress_msg` is
 *   "Done" when it succeeded, "Killed" when it was cancelled, and the last error's message when it
 *   failed (EcoTaxa's own jobs already carry that wording).
 * - `creation_date` / `updated_on` are ISO 8601 UTC with `Z`. Optional fields with no value are
 *   left out, as the generated client's `to_dict()` does.
 */
import type { Json } from '../../machines/common.ts';
import { ECOTAXA_STATES, type EcotaxaState } from '../../machines/ecotaxa.ts';
import type { AnyJob } from '../engine/job-types.ts';
import { viewState } from './phase.ts';
import { WireReader, compact, isoInstant, lastAttemptErrors, lastError, ownerAsUserId, parseJsonText } from './wire.ts';

export interface EcotaxaJobModel {
  /** Creation parameters. */
  params?: Json;
  /** Final result of the run. */
  result?: Json;
  /** The errors seen during the last step. */
  errors?: string[];
  /** The data that moved the job to Asking. */
  question?: Json;
  /** The data provided as a reply to the question. */
  reply?: Json;
  /** Internal state of the job. */
  inside?: Json;
  id: number;
  /** The owner's user id: a number for numeric owners, else the owner string; null when anonymous. */
  owner_id: number | string | null;
  type: string;
  /** P Pending, R Running, A Asking, E Error (or killed), F Finished. */
  state?: EcotaxaState;
  step?: number;
  progress_pct?: number;
  progress_msg?: string;
  creation_date: string;
  updated_on: string;
}

export function toEcotaxaJobModel(job: AnyJob): EcotaxaJobModel {
  const state = viewState(job, 'ecotaxa');
  let message = job.progress.message;
  if (job.lifecycle !== 'ecotaxa' && job.terminal) {
    if (job.outcome === 'succeeded') message = 'Done';
    else if (job.outcome === 'cancelled') message = 'Killed';
    else message = lastError(job)?.message ?? message;
  }
  return compact<EcotaxaJobModel>({
    params: job.params ?? {},
    result: job.result ?? {},
    errors: lastAttemptErrors(job).map((e) => e.message),
    question: job.question ?? {},
    reply: job.reply ?? {},
    inside: job.inside ?? {},
    id: job.id,
    owner_id: ownerAsUserId(job.owner),
    type: job.type,
    state,
    step: job.step ?? undefined,
    progress_pct: Math.max(0, Math.min(100, Math.floor(job.progress.percent))),
    progress_msg: message ?? undefined,
    creation_date: isoInstant(job.createdAt, 'creation_date'),
    updated_on: isoInstant(job.updatedAt, 'updated_on'),
  });
}

/**
 * `JobModel.from_dict`: checks a wire object and returns it typed. Throws InvalidInputError
 * naming the field on a missing required field, a wrong type, an unknown state, a malformed
 * instant or a key the model does not define. `null` in an optional field reads as absent.
 */
export function fromEcotaxaJobModel(data: unknown): EcotaxaJobModel {
  const r = new WireReader('EcoTaxa JobModel', data);
  const ownerId = (v: unknown, key: string): number | string | null =>
    v === null ? null : typeof v === 'string' ? v : r.integer(v, key);
  const model = compact<EcotaxaJobModel>({
    params: r.optional('params', r.json),
    result: r.optional('result', r.json),
    errors: r.optional('errors', r.arrayOf(r.string)),
    question: r.optional('question', r.json),
    reply: r.optional('reply', r.json),
    inside: r.optional('inside', r.json),
    id: r.required('id', r.integer),
    owner_id: r.required('owner_id', ownerId),
    type: r.required('type', r.string),
    state: r.optional('state', r.oneOf(ECOTAXA_STATES)),
    step: r.optional('step', r.integer),
    progress_pct: r.optional('progress_pct', (v, key) => {
      const pct = r.integer(v, key);
      return pct >= 0 && pct <= 100 ? pct : r.fail(key, `expected 0..100, got ${pct}`);
    }),
    progress_msg: r.optional('progress_msg', r.string),
    creation_date: r.required('creation_date', r.instant),
    updated_on: r.required('updated_on', r.instant),
  });
  r.done();
  return model;
}

/** `JobModel.from_json`. */
export function fromEcotaxaJson(text: string): EcotaxaJobModel {
  return fromEcotaxaJobModel(parseJsonText('EcoTaxa JobModel', text));
}

/** `JobModel.to_json`. */
export function ecotaxaToJson(model: EcotaxaJobModel): string {
  return JSON.stringify(model);
}

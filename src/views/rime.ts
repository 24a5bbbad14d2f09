/**
 * Robust Intelligence RIME `JobMetadata` (the generated `ri.apiclient` model of a job's metadata,
 * whose status runs REQUESTED → PENDING → RUNNING → SUCCEEDED | FAILED | CANCELLED). JSON keys are
 * camelCase.
 *
 * Mapping decisions:
 * - `jobId` is the job id as a string. `jobType` is the job's type when it is one of RIME's
 *   `JOB_TYPE_*` values, else `JOB_TYPE_UNSPECIFIED` (Phaseline types are free strings).
 * - `startTime` is when the job first ran, `completionTime` when it became terminal (set iff terminal).
 * - `runningTimeSecs` is `completionTime - startTime` for a terminal job and `now - startTime` for
 *   one still in progress (live, so the caller passes `now`: the function stays pure); 0 for a job
 *   that never ran; never negative.
 * - `jobData` (RIME: per-type progress) is `{ params, result?, progress }` from the job.
 * - `jobProgressStr` is filled only in the `JOB_VIEW_FULL` view, e.g. `"40% (2/5): Loading"`;
 *   RIME documents it as unstable, and so is this.
 * - `agentId` is `{ uuid: workerId }` of the worker holding the lease while the job runs.
 * - `errorMsg` is the last error's message when the job failed. `archivedJobLogs` is never
 *   produced (Phaseline keeps no log archive) but is parsed.
 * - Optional fields with no value are left out, as the generated client's `to_dict()` does.
 */
import type { Json } from '../../machines/common.ts';
import { RIME_STATUSES, type RimeStatus } from '../../machines/rime.ts';
import type { AnyJob, Job } from '../engine/job-types.ts';
import { viewState } from './phase.ts';
import { WireReader, compact, isoInstant, lastError, parseJsonText } from './wire.ts';

/** `JobType` (ri/apiclient/models/job_type.py). */
export const RIME_JOB_TYPES = [
  'JOB_TYPE_MODEL_STRESS_TEST',
  'JOB_TYPE_IMAGE_BUILDER',
  'JOB_TYPE_FIREWALL_BATCH_TEST',
  'JOB_TYPE_FILE_SCAN',
  'JOB_TYPE_CROSS_PLANE_TASK',
  'JOB_TYPE_GENERATIVE_MODEL_TEST',
  'JOB_TYPE_UNSPECIFIED',
] as const;
export type RimeJobType = (typeof RIME_JOB_TYPES)[number];

/** `JobView`: BASIC (the default) leaves out `jobProgressStr`. */
export type RimeJobView = 'JOB_VIEW_BASIC' | 'JOB_VIEW_FULL';

export interface RimeJobMetadata {
  jobId?: string;
  jobType?: RimeJobType;
  status?: RimeStatus;
  startTime?: string;
  creationTime?: string;
  completionTime?: string;
  runningTimeSecs?: number;
  jobData?: { [key: string]: Json };
  jobProgressStr?: string;
  cancellationRequested?: boolean;
  /** `RimeUUID`. */
  agentId?: { uuid?: string };
  /** `ArchivedJobLogs`: `url` is a `SafeURL`. */
  archivedJobLogs?: { url?: { url?: string }; expirationTime?: string };
  errorMsg?: string;
}

export interface RimeViewOptions {
  /** The instant (UTC ms) a running job's `runningTimeSecs` is measured to. */
  now: number;
  /** Default `JOB_VIEW_BASIC`. */
  view?: RimeJobView;
}

export function toRimeJobMetadata(job: AnyJob, options: RimeViewOptions): RimeJobMetadata {
  const full = (options.view ?? 'JOB_VIEW_BASIC') === 'JOB_VIEW_FULL';
  const status = viewState(job, 'rime');
  const { percent, current, total, message } = job.progress;
  // endedAt is set exactly while the job is terminal: the final figure then, the live one before.
  const running = job.startedAt === null ? 0 : Math.max(0, (job.endedAt ?? options.now) - job.startedAt) / 1000;
  return compact<RimeJobMetadata>({
    jobId: String(job.id),
    jobType: (RIME_JOB_TYPES as readonly string[]).includes(job.type) ? (job.type as RimeJobType) : 'JOB_TYPE_UNSPECIFIED',
    status,
    startTime: job.startedAt === null ? undefined : isoInstant(job.startedAt, 'startTime'),
    creationTime: isoInstant(job.createdAt, 'creationTime'),
    completionTime: job.endedAt === null ? undefined : isoInstant(job.endedAt, 'completionTime'),
    runningTimeSecs: running,
    jobData: {
      params: job.params,
      ...(job.result === null ? {} : { result: job.result }),
      progress: { percent, current, total, message },
    },
    jobProgressStr: full ? progressString(job.progress) : undefined,
    cancellationRequested: job.cancelRequested,
    agentId: job.running && job.lease?.workerId ? { uuid: job.lease.workerId } : undefined,
    errorMsg: job.outcome === 'failed' ? lastError(job)?.message : undefined,
  });
}

function progressString(p: Job['progress']): string {
  let s = `${Math.floor(p.percent)}%`;
  if (p.current !== null && p.total !== null) s += ` (${p.current}/${p.total})`;
  if (p.message) s += `: ${p.message}`;
  return s;
}

/**
 * `JobMetadata.from_dict`: checks a camelCase wire object and returns it typed. Throws
 * InvalidInputError naming the field on a wrong type, an unknown enum value (status, jobType),
 * a malformed instant or a key the model does not define (a snake_case key is one).
 */
export function fromRimeJobMetadata(data: unknown): RimeJobMetadata {
  const r = new WireReader('RIME JobMetadata', data);
  const model = compact<RimeJobMetadata>({
    jobId: r.optional('jobId', r.string),
    jobType: r.optional('jobType', r.oneOf(RIME_JOB_TYPES)),
    status: r.optional('status', r.oneOf(RIME_STATUSES)),
    startTime: r.optional('startTime', r.instant),
    creationTime: r.optional('creationTime', r.instant),
    completionTime: r.optional('completionTime', r.instant),
    runningTimeSecs: r.optional('runningTimeSecs', (v, key) => {
      const n = r.number(v, key);
      return n >= 0 ? n : r.fail(key, `expected a duration of 0 or more seconds, got ${n}`);
    }),
    jobData: r.optional('jobData', r.jsonObject),
    jobProgressStr: r.optional('jobProgressStr', r.string),
    cancellationRequested: r.optional('cancellationRequested', r.boolean),
    agentId: r.optional('agentId', r.nested((a) => compact({ uuid: a.optional('uuid', a.string) }))),
    archivedJobLogs: r.optional(
      'archivedJobLogs',
      r.nested((a) =>
        compact({
          url: a.optional('url', a.nested((u) => compact({ url: u.optional('url', u.string) }))),
          expirationTime: a.optional('expirationTime', a.instant),
        }),
      ),
    ),
    errorMsg: r.optional('errorMsg', r.string),
  });
  r.done();
  return model;
}

/** `JobMetadata.from_json`. */
export function fromRimeJson(text: string): RimeJobMetadata {
  return fromRimeJobMetadata(parseJsonText('RIME JobMetadata', text));
}

export function rimeToJson(model: RimeJobMetadata): string {
  return JSON.stringify(model);
}

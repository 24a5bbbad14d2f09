/**
 * What the dashboard's pages read, through the facade only, with the caller's owner applied: a page
 * of jobs (newest first, keyset paging by id), the counts per state, and one job with its history.
 */
import type { Job } from '../engine/job-types.ts';
import type { ListFilter, StateCount } from '../engine/types.ts';
import { JobNotFoundError } from '../errors.ts';
import type { Caller } from '../http/app.ts';
import type { Phaseline } from '../phaseline.ts';
import { fromStoredHistory } from '../replay/stored.ts';
import type { StoredHistory } from '../replay/types.ts';
import { toJob } from '../engine/job.ts';

/** Rows on one list page. */
export const PAGE_SIZE = 25;

export interface ListQuery {
  lifecycle?: string;
  type?: string;
  state?: string;
  /** Admins only; ignored for other callers, who see their own jobs. */
  owner?: string;
  /** Created strictly after this instant (UTC ms). */
  after?: number;
  /** Search: this job id only. */
  id?: number;
  /** Keyset: jobs with ids below this one. */
  beforeId?: number;
}

export interface JobPage {
  jobs: Job[];
  /** The `beforeId` of the next (older) page, or null at the oldest. */
  older: number | null;
}

/** The owner a caller's reads are limited to: undefined for admins (everyone's, or the one asked for). */
export function ownerScope(caller: Caller, asked?: string): string | null | undefined {
  if (!caller.admin) return caller.owner;
  return asked === undefined || asked === '' ? undefined : asked;
}

/** The facade's filter for a query, the caller's owner applied. */
export function filterOf(caller: Caller, query: ListQuery): ListFilter {
  const owner = ownerScope(caller, query.owner);
  return {
    ...(query.lifecycle ? { lifecycle: query.lifecycle } : {}),
    ...(query.type ? { type: query.type } : {}),
    ...(query.state ? { states: [query.state] } : {}),
    ...(query.after !== undefined ? { after: query.after } : {}),
    ...(owner !== undefined ? { owner } : {}),
  };
}

/** One page of jobs, newest first by id: keyset paging, as fast on the millionth job as on the first. */
export async function listPage(phaseline: Phaseline, caller: Caller, query: ListQuery): Promise<JobPage> {
  const found = await phaseline.list({
    ...filterOf(caller, query),
    order: 'newest',
    ...(query.beforeId !== undefined ? { beforeId: query.beforeId } : {}),
    ...(query.id !== undefined ? { id: query.id } : {}),
    limit: PAGE_SIZE + 1,
  });
  const jobs = found.slice(0, PAGE_SIZE);
  return { jobs, older: found.length > PAGE_SIZE ? jobs.at(-1)!.id : null };
}

/** Jobs per lifecycle and state the caller may see (the list's lifecycle, type and owner filters applied). */
export async function countByState(phaseline: Phaseline, caller: Caller, query: Pick<ListQuery, 'lifecycle' | 'type' | 'owner'> = {}): Promise<StateCount[]> {
  const owner = ownerScope(caller, query.owner);
  return phaseline.countByState({
    ...(query.lifecycle ? { lifecycle: query.lifecycle } : {}),
    ...(query.type ? { type: query.type } : {}),
    ...(owner !== undefined ? { owner } : {}),
  });
}

/** A job the caller may see, or the same JOB_NOT_FOUND as for a job that does not exist. */
export async function jobFor(phaseline: Phaseline, caller: Caller, id: number): Promise<Job> {
  return phaseline.get(id, caller.admin ? {} : { owner: caller.owner });
}

/**
 * The job (after the owner check) with its stored row and whole history, read together: the job
 * shown is the row that history leads to.
 */
export async function jobWithHistory(phaseline: Phaseline, caller: Caller, id: number): Promise<{ job: Job; history: StoredHistory }> {
  await jobFor(phaseline, caller, id);
  for await (const history of phaseline.histories({ id })) return { job: toJob(fromStoredHistory(history).row), history };
  throw new JobNotFoundError(id); // deleted meanwhile
}

/** A job id from a form or query: a positive integer, else undefined. */
export function idParam(text: string | undefined): number | undefined {
  if (text === undefined || !/^[1-9][0-9]{0,15}$/.test(text.trim())) return undefined;
  const id = Number(text.trim());
  return Number.isSafeInteger(id) ? id : undefined;
}

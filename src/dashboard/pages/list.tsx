/** The jobs list: counts per state of each lifecycle, the filters, one page of jobs (newest first) and its pager. */
import type { Job } from '../../engine/job-types.ts';
import type { StateCount } from '../../engine/types.ts';
import type { ListQuery } from '../data.ts';
import { Instant, Layout } from './layout.tsx';

export interface ListPageProps {
  base: string;
  admin: boolean;
  query: ListQuery;
  /** The query string of the current filters (no paging), for links. */
  filterQuery: string;
  jobs: Job[];
  counts: StateCount[];
  lifecycles: string[];
  types: string[];
  /** Links to the newer and older pages, or null. */
  newer: string | null;
  older: string | null;
  /** A filter that could not be read. */
  problem: string | null;
  signedIn?: boolean;
}

export function stateClass(job: Pick<Job, 'outcome'>): string {
  return job.outcome ? `state ${job.outcome}` : 'state';
}

export function ProgressCell({ job }: { job: Pick<Job, 'progress' | 'id'> }) {
  const percent = Math.round(job.progress.percent);
  return (
    <>
      <progress max={100} value={percent} data-field="progress" aria-label={`Progress of job ${job.id}`}>
        {`${percent}%`}
      </progress>{' '}
      <span data-field="percent">{`${percent}%`}</span>
      <span class="msg" data-field="message">
        {job.progress.message ?? ''}
      </span>
    </>
  );
}

function Counts({ base, counts, admin, query }: { base: string; counts: StateCount[]; admin: boolean; query: ListQuery }) {
  const byLifecycle = new Map<string, StateCount[]>();
  for (const count of counts) {
    const list = byLifecycle.get(count.lifecycle) ?? [];
    list.push(count);
    byLifecycle.set(count.lifecycle, list);
  }
  const extra = new URLSearchParams();
  if (query.type) extra.set('type', query.type);
  if (admin && query.owner) extra.set('owner', query.owner);
  const link = (lifecycle: string, state: string) => {
    const q = new URLSearchParams(extra);
    q.set('lifecycle', lifecycle);
    q.set('state', state);
    return `${base}/?${q}`;
  };
  return (
    <div class="counts" id="counts" aria-label="Jobs per state">
      {[...byLifecycle].sort(([a], [b]) => a.localeCompare(b)).map(([lifecycle, list]) => (
        <section data-lifecycle={lifecycle}>
          <h3>{lifecycle}</h3>
          <ul>
            {list.sort((a, b) => a.state.localeCompare(b.state)).map((c) => (
              <li>
                <a href={link(lifecycle, c.state)} data-count-state={c.state}>
                  <span class="state">{c.state}</span> <span data-count="">{String(c.count)}</span>
                </a>
              </li>
            ))}
          </ul>
        </section>
      ))}
      {byLifecycle.size === 0 ? <p>No jobs yet.</p> : null}
    </div>
  );
}

function Filters({ base, query, admin, lifecycles, types }: Pick<ListPageProps, 'base' | 'query' | 'admin' | 'lifecycles' | 'types'>) {
  const after = query.after !== undefined ? new Date(query.after).toISOString().slice(0, 16) : '';
  return (
    <form class="filters" method="get" action={`${base}/`} role="search" aria-label="Filter jobs">
      <label>
        Lifecycle
        <select name="lifecycle">
          <option value="">any</option>
          {lifecycles.map((l) => (
            <option value={l} selected={query.lifecycle === l}>
              {l}
            </option>
          ))}
        </select>
      </label>
      <label>
        Type
        <select name="type">
          <option value="">any</option>
          {types.map((t) => (
            <option value={t} selected={query.type === t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <label>
        State
        <input name="state" value={query.state ?? ''} size={14} placeholder="e.g. EXECUTING" />
      </label>
      {admin ? (
        <label>
          Owner
          <input name="owner" value={query.owner ?? ''} size={10} />
        </label>
      ) : null}
      <label>
        Created after (UTC)
        <input type="datetime-local" name="after" value={after} />
      </label>
      <label>
        Job id
        <input type="search" name="id" inputmode="numeric" value={query.id !== undefined ? String(query.id) : ''} size={7} />
      </label>
      <button type="submit" class="primary">
        Apply
      </button>
      <a href={`${base}/`}>Clear</a>
    </form>
  );
}

export function ListPage(props: ListPageProps) {
  const { base, jobs, query } = props;
  return (
    <Layout title="Jobs" base={base} page="list" signedIn={props.signedIn}>
      <h1>Jobs</h1>
      <Counts base={base} counts={props.counts} admin={props.admin} query={query} />
      <Filters {...props} />
      {props.problem ? (
        <p class="notice error" role="alert">
          {props.problem}
        </p>
      ) : null}
      <p id="live-status" class="msg" aria-live="polite"></p>
      <div class="scroll">
        <table
          id="jobs"
          data-filter-lifecycle={query.lifecycle ?? ''}
          data-filter-type={query.type ?? ''}
          data-filter-state={query.state ?? ''}
          data-filter-owner={query.owner ?? ''}
          data-first-page={query.beforeId === undefined && query.id === undefined && query.after === undefined ? 'true' : 'false'}
        >
          <caption class="visually-hidden">Jobs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Lifecycle</th>
              <th scope="col">Type</th>
              <th scope="col">State</th>
              <th scope="col">Owner</th>
              <th scope="col">Created</th>
              <th scope="col">Progress</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <tr data-job-id={String(job.id)} data-lifecycle={job.lifecycle} data-version={String(job.version)}>
                <td class="num" data-label="Id">
                  <a href={`${base}/jobs/${job.id}`}>{String(job.id)}</a>
                </td>
                <td data-label="Lifecycle">{job.lifecycle}</td>
                <td data-label="Type">{job.type}</td>
                <td data-label="State">
                  <span class={stateClass(job)} data-field="state">
                    {job.state}
                  </span>
                </td>
                <td data-label="Owner">{job.owner ?? '—'}</td>
                <td data-label="Created">
                  <Instant at={job.createdAt} />
                </td>
                <td data-label="Progress">
                  <ProgressCell job={job} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {jobs.length === 0 ? <p>No jobs match.</p> : null}
      <nav class="pager" aria-label="Pages">
        {props.newer !== null ? <a href={props.newer} rel="prev">← Newer</a> : <span aria-disabled="true">← Newer</span>}
        {props.older !== null ? <a href={props.older} rel="next">Older →</a> : <span aria-disabled="true">Older →</span>}
      </nav>
    </Layout>
  );
}

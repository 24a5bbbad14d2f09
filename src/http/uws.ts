/**
 * The IVOA UWS 1.1 REST binding (UWS.html §2.2) over Phaseline jobs of the `uws` lifecycle.
 *
 * /{jobs}                         GET list (PHASE repeatable, AFTER, LAST; ARCHIVED only on request), POST create (303)
 * /{jobs}/{id}                    GET job (WAIT, PHASE guard), DELETE or POST ACTION=DELETE (303 to the list)
 * /{jobs}/{id}/phase              GET text; POST PHASE=RUN|ABORT (303; 403 when the phase forbids it)
 * /{jobs}/{id}/executionduration  GET text; POST EXECUTIONDURATION=seconds (303)
 * /{jobs}/{id}/destruction        GET text; POST DESTRUCTION=ISO 8601 (303)
 * /{jobs}/{id}/quote, /error, /owner                GET text
 * /{jobs}/{id}/parameters         GET XML; POST name=value... while PENDING (303; 403 otherwise)
 * /{jobs}/{id}/parameters/{name}  GET one parameter's value (for byReference parameters)
 * /{jobs}/{id}/results            GET XML
 * /{jobs}/{id}/results/{rid}      GET: 303 to the result's href, or the result as JSON
 *
 * Parameter names are case-insensitive (§2.2.3), values come from the query or a form body.
 */
import { Hono, type Context } from 'hono';
import type { Json } from '../../machines/common.ts';
import { UWS_PHASES } from '../../machines/uws.ts';
import type { Job } from '../engine/job-types.ts';
import { InvalidInputError, JobNotFoundError, UnknownJobTypeError } from '../errors.ts';
import {
  toUwsJobListXml, toUwsJobXml, toUwsParametersXml, toUwsResultsXml, uwsJsonParameters, uwsPhase, uwsResults,
  uwsTextResource, type UwsTextResource,
} from '../views/uws.ts';
import type { AppEnv, HttpContext } from './app.ts';
import { formPairs, queryPairs } from './form.ts';

/** Phases in which a WAIT may block (§2.2.1.2); in any other the server answers at once. */
const WAITABLE = new Set(['PENDING', 'QUEUED', 'EXECUTING']);
const RESERVED = new Set(['PHASE', 'RUNID', 'EXECUTIONDURATION', 'DESTRUCTION', 'ACTION', 'QUOTE']);

/** Request parameters with upper-cased names; a name may repeat. */
type Params = Map<string, string[]>;

/** Query and (for POST) form parameters; `original` keeps the spelling last sent for each name. */
async function readParams(c: Context<AppEnv>): Promise<{ params: Params; original: Map<string, string> }> {
  const params: Params = new Map();
  const original = new Map<string, string>();
  const pairs = [...queryPairs(c), ...(c.req.method === 'POST' ? await formPairs(c) : [])];
  for (const [name, value] of pairs) {
    const key = name.toUpperCase();
    original.set(key, name);
    params.set(key, [...(params.get(key) ?? []), value]);
  }
  return { params, original };
}

/** Sets `name` as an own data property, so `__proto__` is stored as the parameter it is. */
function put<T>(target: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

const one = (params: Params, name: string): string | undefined => params.get(name)?.at(-1);

function parseInstant(text: string, field: string): number {
  // ISO 8601 with a date and a time; a zone is required so the instant is not ambiguous.
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/.exec(text);
  if (!m) throw new InvalidInputError(field, `${JSON.stringify(text)} is not an ISO 8601 instant with a time zone`);
  const [year, month, day, hour, minute, second = 0, , zoneHour = 0, zoneMinute = 0] = m.slice(1).map((v) => (v === undefined || v === '+' || v === '-' ? undefined : Number(v)));
  // Date.parse rolls 2099-02-30 over into March: check every field is in its range first.
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth || hour! > 23 || minute! > 59 || second > 59 || zoneHour > 23 || zoneMinute > 59) {
    throw new InvalidInputError(field, `${JSON.stringify(text)} is not a valid instant`);
  }
  const t = Date.parse(text);
  if (Number.isNaN(t) || t < 0) throw new InvalidInputError(field, `${JSON.stringify(text)} is not a valid instant`);
  return t;
}

function parseSeconds(text: string, field: string): number {
  if (!/^[0-9]{1,10}$/.test(text.trim())) throw new InvalidInputError(field, `${JSON.stringify(text)} is not a non-negative whole number of seconds`);
  return Number(text.trim());
}

export function uwsRoutes(http: HttpContext): Hono<AppEnv> {
  const { phaseline } = http;
  const app = new Hono<AppEnv>({ strict: false });
  const baseUrl = (c: Context<AppEnv>) => `${c.get('base')}/uws`;
  const jobUrl = (c: Context<AppEnv>, id: number) => `${baseUrl(c)}/${id}`;
  const uwsJob = async (c: Context<AppEnv>): Promise<Job> => {
    const job = await http.jobFor(c.get('caller'), c.req.param('id')!);
    // A job of another lifecycle is not in the UWS job list, so it is not found here either.
    if (job.lifecycle !== 'uws') throw new JobNotFoundError(job.id);
    return job;
  };
  const xml = (c: Context<AppEnv>, body: string) => c.body(body, 200, { 'Content-Type': 'text/xml; charset=utf-8' });
  const text = (c: Context<AppEnv>, body: string) => c.text(body, 200);
  const uwsType = () => {
    const name = http.options.uwsJobType ?? phaseline.jobTypes().find((t) => t.lifecycle === 'uws')?.name;
    if (!name) throw new UnknownJobTypeError('(a job type of the uws lifecycle)');
    return name;
  };

  app.get('/', async (c) => {
    const { params } = await readParams(c);
    const phases = params.get('PHASE') ?? [];
    for (const phase of phases) {
      if (!(UWS_PHASES as readonly string[]).includes(phase)) throw new InvalidInputError('PHASE', `${phase} is not a UWS phase`);
    }
    const after = one(params, 'AFTER');
    const last = one(params, 'LAST');
    if (last !== undefined && !/^[1-9][0-9]{0,8}$/.test(last)) throw new InvalidInputError('LAST', `${last} is not a positive integer`);
    const caller = c.get('caller');
    const owner = http.ownerOf(caller);
    const jobs = await phaseline.list({
      lifecycle: 'uws',
      ...(owner !== undefined ? { owner } : {}),
      // ARCHIVED jobs are listed only when asked for (§2.2.2.1); filtered in the query, so LAST counts listed jobs only.
      states: phases.length ? phases : UWS_PHASES.filter((p) => p !== 'ARCHIVED'),
      ...(after !== undefined ? { after: parseInstant(after, 'AFTER') } : {}),
      ...(last !== undefined ? { last: Number(last) } : {}),
    });
    return xml(c, toUwsJobListXml(jobs, { baseUrl: baseUrl(c) }));
  });

  app.post('/', async (c) => {
    const { params, original } = await readParams(c);
    const values: Record<string, string | string[]> = {};
    for (const [key, list] of params) {
      if (RESERVED.has(key)) continue;
      put(values, original.get(key)!, list.length === 1 ? list[0]! : list);
    }
    const phase = one(params, 'PHASE');
    if (phase !== undefined && phase !== 'RUN') throw new InvalidInputError('PHASE', 'only PHASE=RUN may be given at creation');
    const duration = one(params, 'EXECUTIONDURATION');
    const destruction = one(params, 'DESTRUCTION');
    const caller = c.get('caller');
    const id = await phaseline.enqueue(uwsType(), values, {
      owner: caller.owner,
      runId: one(params, 'RUNID') ?? null,
      start: phase === 'RUN',
      ...(duration !== undefined ? { executionDuration: parseSeconds(duration, 'EXECUTIONDURATION') } : {}),
      ...(destruction !== undefined ? { destruction: parseInstant(destruction, 'DESTRUCTION') } : {}),
    });
    return c.redirect(jobUrl(c, id), 303);
  });

  app.get('/:id', async (c) => {
    let job = await uwsJob(c);
    const { params } = await readParams(c);
    const wait = one(params, 'WAIT');
    if (wait !== undefined) {
      if (!/^-?[0-9]{1,9}$/.test(wait) || Number(wait) < -1) throw new InvalidInputError('WAIT', `${wait} is not a number of seconds or -1`);
      const guard = one(params, 'PHASE');
      if (guard !== undefined && !(UWS_PHASES as readonly string[]).includes(guard)) throw new InvalidInputError('PHASE', `${guard} is not a UWS phase`);
      const phase = uwsPhase(job);
      const seconds = Number(wait) === -1 ? http.options.maxWaitSeconds : Math.min(Number(wait), http.options.maxWaitSeconds);
      if (seconds > 0 && WAITABLE.has(phase) && (guard === undefined || guard === phase)) {
        await http.waits.wait(job.id, seconds * 1000, c.req.raw.signal);
        job = await uwsJob(c);
      }
    }
    return xml(c, toUwsJobXml(job, { baseUrl: baseUrl(c) }));
  });

  const destroy = async (c: Context<AppEnv>) => {
    const job = await uwsJob(c);
    await phaseline.delete(job.id, { owner: http.ownerOf(c.get('caller')) });
    return c.redirect(baseUrl(c), 303);
  };
  app.delete('/:id', destroy);
  app.post('/:id', async (c) => {
    const { params } = await readParams(c);
    const action = one(params, 'ACTION');
    if (action !== 'DELETE') throw new InvalidInputError('ACTION', 'the only action on a job is ACTION=DELETE');
    return destroy(c);
  });

  app.post('/:id/phase', async (c) => {
    const job = await uwsJob(c);
    const { params } = await readParams(c);
    const phase = one(params, 'PHASE');
    if (phase !== 'RUN' && phase !== 'ABORT') throw new InvalidInputError('PHASE', 'must be RUN or ABORT');
    await phaseline.send(job.id, { type: phase }, { owner: http.ownerOf(c.get('caller')), actor: c.get('caller').owner });
    return c.redirect(jobUrl(c, job.id), 303);
  });

  /** POST of one job-control value (§2.2.3): parse it, SET it (the machine decides if it may change), 303 to the job. */
  const control = (resource: string, name: string, set: (value: string) => Record<string, number>) =>
    app.post(`/:id/${resource}`, async (c) => {
      const job = await uwsJob(c);
      const value = one((await readParams(c)).params, name);
      if (value === undefined) throw new InvalidInputError(name, 'is required');
      await phaseline.send(job.id, { type: 'SET', ...set(value) }, { owner: http.ownerOf(c.get('caller')) });
      return c.redirect(jobUrl(c, job.id), 303);
    });
  control('executionduration', 'EXECUTIONDURATION', (v) => ({ executionDuration: parseSeconds(v, 'EXECUTIONDURATION') }));
  control('destruction', 'DESTRUCTION', (v) => ({ destruction: parseInstant(v, 'DESTRUCTION') }));

  app.post('/:id/parameters', async (c) => {
    const job = await uwsJob(c);
    const { params, original } = await readParams(c);
    const next: Record<string, Json> = { ...uwsJsonParameters(job) };
    // Names are case-insensitive: a posted name replaces the existing parameter of the same name.
    const existing = new Map(Object.keys(next).map((name) => [name.toUpperCase(), name]));
    for (const [key, list] of params) put(next, existing.get(key) ?? original.get(key)!, list.length === 1 ? list[0]! : list);
    // Only a PENDING job's parameters may change: the machine refuses SET with params elsewhere (403).
    const validated = phaseline.validateParams(job.type, next);
    await phaseline.send(job.id, { type: 'SET', params: validated }, { owner: http.ownerOf(c.get('caller')) });
    return c.redirect(jobUrl(c, job.id), 303);
  });

  for (const resource of ['phase', 'executionduration', 'destruction', 'quote', 'error', 'owner'] as UwsTextResource[]) {
    app.get(`/:id/${resource}`, async (c) => text(c, uwsTextResource(await uwsJob(c), resource)));
  }
  app.get('/:id/parameters', async (c) => xml(c, toUwsParametersXml(await uwsJob(c), { baseUrl: baseUrl(c) })));
  app.get('/:id/parameters/:name', async (c) => {
    const job = await uwsJob(c);
    const params = uwsJsonParameters(job);
    const name = c.req.param('name');
    if (!Object.hasOwn(params, name)) return c.text('No such parameter\n', 404);
    const value = params[name];
    return text(c, typeof value === 'string' ? value : JSON.stringify(value));
  });
  app.get('/:id/results', async (c) => xml(c, toUwsResultsXml(await uwsJob(c), { baseUrl: baseUrl(c) })));
  app.get('/:id/results/:rid', async (c) => {
    const job = await uwsJob(c);
    const result = uwsResults(job, { baseUrl: baseUrl(c) }).find((r) => r.id === c.req.param('rid'));
    if (!result) return c.text('No such result\n', 404);
    const own = `${jobUrl(c, job.id)}/results/${encodeURIComponent(result.id)}`;
    // Redirect only to a well-formed absolute URL; anything else is served here, as the XML points here.
    if (result.href !== own && URL.canParse(result.href)) return c.redirect(result.href, 303);
    return c.json(job.result);
  });
  return app;
}

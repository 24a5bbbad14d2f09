/**
 * The HTTP layer a host app mounts: a Hono app, so `app.fetch(request)` serves web-standard
 * Request/Response under node:http (@hono/node-server), Hono itself, Fastify or Express.
 *
 * - `/uws`: the IVOA UWS 1.1 REST binding (uws.ts);
 * - `/api/jobs`: an EcoTaxa-style JSON job API (ecotaxa.ts);
 * - `/jobs/{id}?view=rime|synapse|qiskit|ecotaxa|uws`: any job in any seed's JSON view.
 *
 * Owners are kept apart: a job is visible and changeable only by its owner or an admin; anybody
 * else gets 404, as if it did not exist. With `authenticate` configured, a request it does not
 * recognise gets 401.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Job } from '../engine/job.ts';
import type { Phaseline } from '../phaseline.ts';
import { VIEW_NAMES, toView, type ViewName } from '../views/index.ts';
import { ecotaxaRoutes } from './ecotaxa.ts';
import { problem, statusOf } from './errors.ts';
import { uwsRoutes } from './uws.ts';
import { WaitHub } from './wait.ts';

/** Who is calling: an owner identity, and whether it may see every job. */
export interface Caller {
  owner: string | null;
  admin: boolean;
}

export interface HttpOptions {
  /**
   * Request → caller, or null when the request carries no credentials Phaseline accepts (401).
   * Without it every caller is an anonymous admin (a single-user service).
   */
  authenticate?: (request: Request) => Caller | null | Promise<Caller | null>;
  /** The job type that `POST /uws` creates. Default: the first registered type of the `uws` lifecycle. */
  uwsJobType?: string;
  /** Longest blocking WAIT in seconds; WAIT=-1 and anything longer become this. Default 60. */
  maxWaitSeconds?: number;
  /** Largest request body in bytes. Default 64 KiB. */
  maxBodyBytes?: number;
}

export type AppEnv = { Variables: { caller: Caller } };

export interface HttpContext {
  phaseline: Phaseline;
  options: Required<Pick<HttpOptions, 'maxWaitSeconds'>> & HttpOptions;
  waits: WaitHub;
  /** A job the caller may see, or a 404/403-mapped error. */
  jobFor(caller: Caller, id: string): Promise<Job>;
  /** The owner to enforce on writes: undefined for admins. */
  ownerOf(caller: Caller): string | null | undefined;
}

export function createHttpApp(phaseline: Phaseline, options: HttpOptions = {}): Hono<AppEnv> {
  const waits = new WaitHub(phaseline);
  const context: HttpContext = {
    phaseline,
    options: { maxWaitSeconds: 60, ...options },
    waits,
    async jobFor(caller, id) {
      return phaseline.get(parseJobId(id), { owner: context.ownerOf(caller) });
    },
    ownerOf: (caller) => (caller.admin ? undefined : caller.owner),
  };
  const app = new Hono<AppEnv>({ strict: false });
  app.use(bodyLimit({ maxSize: options.maxBodyBytes ?? 64 * 1024, onError: (c) => c.text('Request body too large\n', 413) }));
  app.use(async (c, next) => {
    if (!options.authenticate) {
      c.set('caller', { owner: null, admin: true });
      return next();
    }
    const caller = await options.authenticate(c.req.raw);
    if (!caller) return c.text('Authentication required\n', 401, { 'WWW-Authenticate': 'Bearer' });
    c.set('caller', caller);
    return next();
  });
  app.onError((error, c) => {
    const status = statusOf(error);
    if (status === 500) console.error('phaseline http:', error);
    return problem(c, status, error);
  });
  app.route('/uws', uwsRoutes(context));
  app.route('/api/jobs', ecotaxaRoutes(context));
  app.get('/jobs/:id', async (c) => {
    const job = await context.jobFor(c.get('caller'), c.req.param('id'));
    const view = (c.req.query('view') ?? job.lifecycle) as ViewName;
    if (!(VIEW_NAMES as readonly string[]).includes(view)) {
      return c.text(`Unknown view ${view}; one of ${VIEW_NAMES.join(', ')}\n`, 400);
    }
    const base = new URL('/uws', c.req.url).toString();
    return c.json(toView(job, view, view === 'rime' ? { now: Date.now() } : view === 'uws' ? { baseUrl: base } : undefined as never));
  });
  return app;
}

export function parseJobId(text: string): number {
  const id = Number(text);
  // A malformed id names no job: 404, as for any job the caller cannot see.
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(id)) return -1;
  return id;
}

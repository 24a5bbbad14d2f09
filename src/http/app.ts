/**
 * The HTTP layer a host app mounts: a Hono app, so `app.fetch(request)` serves web-standard
 * Request/Response under node:http (@hono/node-server); node.ts adapts it to Express/connect and
 * fastify.ts to Fastify. Below a prefix, give `basePath` (a Hono host: `host.all('/x/*', (c) =>
 * app.fetch(c.req.raw))` with `basePath: '/x'`), or let an adapter pass its mount path (mount.ts).
 *
 * - `/uws`: the IVOA UWS 1.1 REST binding (uws.ts);
 * - `/api/jobs`: an EcoTaxa-style JSON job API (ecotaxa.ts);
 * - `/jobs/{id}?view=rime|synapse|qiskit|ecotaxa|uws`: any job in any seed's JSON view;
 * - `/dashboard`: the web dashboard, with `dashboard: true` (src/dashboard/).
 *
 * Owners are kept apart: a job is visible and changeable only by its owner or an admin; anybody
 * else gets the same 404 as for a job that does not exist. With `authenticate` configured, a
 * request it does not recognise gets 401.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getPathNoStrict } from 'hono/utils/url';
import type { Job } from '../engine/job-types.ts';
import { InvalidInputError, isPhaselineError } from '../errors.ts';
import { errorField, safeLog, type Logger } from '../logger.ts';
import type { Phaseline } from '../phaseline.ts';
import { VIEW_NAMES, toPhaselineJob, toView, type ViewName } from '../views/index.ts';
import { ecotaxaRoutes } from './ecotaxa.ts';
import { problem, statusOf } from './errors.ts';
import { mountPathOf, normalizeBasePath } from './mount.ts';
import { createDashboard, type DashboardOptions } from '../dashboard/app.ts';
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
  /**
   * The path the routes hang below, e.g. `/jobs-api`: requests to `/jobs-api/uws/...` are served
   * and every `Location` and link carries the prefix; other paths are 404. Default: none. A host
   * adapter (node.ts, fastify.ts) adds its own mount path in front of it.
   */
  basePath?: string;
  /**
   * Serve the web dashboard at `/dashboard` (below `basePath`), with the same `authenticate` and
   * owner rules (src/dashboard/app.ts); `signIn: true` lets browsers sign in there with a bearer
   * token (kept in a cookie the API's routes never read). Default false.
   */
  dashboard?: boolean | Pick<DashboardOptions, 'keepAliveMs' | 'signIn'>;
  /** Where a 500 (and a lifecycle missing from the configuration) is logged. Default: the Phaseline instance's logger. */
  logger?: Logger;
}

export type AppEnv = {
  Variables: {
    caller: Caller;
    /** Absolute URL the routes hang below (origin, mount path and basePath), without a trailing slash. */
    base: string;
  };
};

export interface HttpContext {
  phaseline: Phaseline;
  options: Required<Pick<HttpOptions, 'maxWaitSeconds'>> & HttpOptions;
  waits: WaitHub;
  /** A job the caller may see, or the 404 of a job that does not exist. */
  jobFor(caller: Caller, id: string): Promise<Job>;
  /** The owner to enforce on writes: undefined for admins. */
  ownerOf(caller: Caller): string | null | undefined;
}

/** Routing path for a request to nothing below the prefix: matches no route, so 404. */
const UNMOUNTED = '/\u0000unmounted';

export function createHttpApp(phaseline: Phaseline, options: HttpOptions = {}): Hono<AppEnv> {
  const basePath = normalizeBasePath(options.basePath ?? '', 'basePath');
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
  const prefixOf = (env: unknown) => mountPathOf(env) + basePath;
  const app = new Hono<AppEnv>({
    // Routes are matched below the prefix; a trailing slash is ignored (Hono's non-strict path).
    getPath: (request, { env } = {}) => {
      const path = getPathNoStrict(request);
      const prefix = prefixOf(env);
      if (prefix === '' || path === prefix) return path.slice(prefix.length) || '/';
      return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : UNMOUNTED;
    },
  });
  if (options.dashboard) {
    // Before the API's middleware: the dashboard authenticates, limits and reads bodies itself.
    const dashboard = createDashboard(phaseline, {
      ...(typeof options.dashboard === 'object' ? options.dashboard : {}),
      ...(options.authenticate ? { authenticate: options.authenticate } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      basePath: `${basePath}/dashboard`,
    });
    const toDashboard = (c: { req: { raw: Request }; env: unknown }) => dashboard.fetch(c.req.raw, c.env);
    app.all('/dashboard', toDashboard);
    app.all('/dashboard/*', toDashboard);
  }
  app.use(async (c, next) => {
    c.set('base', `${new URL(c.req.url).origin}${prefixOf(c.env)}`);
    return next();
  });
  app.use(
    bodyLimit({
      maxSize: options.maxBodyBytes ?? 64 * 1024,
      // The rest of the body is not read, so the connection cannot carry another request: say so.
      onError: (c) => c.text('Request body too large\n', 413, { Connection: 'close' }),
    }),
  );
  // Read the whole (bounded) body before any handler answers: a response sent while the client is
  // still sending would leave unread bytes on a keep-alive connection.
  app.use(async (c, next) => {
    if (c.req.raw.body) await c.req.arrayBuffer();
    return next();
  });
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
    // A 500, or a lifecycle missing from the server's configuration: the operator must see it.
    if (status === 500 || isPhaselineError(error, 'UNKNOWN_LIFECYCLE')) {
      safeLog(options.logger ?? phaseline.logger, 'error', { err: errorField(error), method: c.req.method, path: c.req.path, status }, 'phaseline http: request failed');
    }
    return problem(c, status, error);
  });
  app.route('/uws', uwsRoutes(context));
  app.route('/api/jobs', ecotaxaRoutes(context));
  app.get('/jobs/:id', async (c) => {
    const job = await context.jobFor(c.get('caller'), c.req.param('id'));
    const asked = c.req.query('view');
    // A lifecycle of the app's own has no seed view: by default it is shown as Phaseline's job.
    if (asked === undefined && !(VIEW_NAMES as readonly string[]).includes(job.lifecycle)) return c.json(toPhaselineJob(job));
    const view = (asked ?? job.lifecycle) as ViewName;
    if (!(VIEW_NAMES as readonly string[]).includes(view)) {
      return c.text(`Unknown view ${JSON.stringify(view.slice(0, 40))}; one of ${VIEW_NAMES.join(', ')}\n`, 400);
    }
    const baseUrl = `${c.get('base')}/uws`;
    return c.json(toView(job, view, view === 'rime' ? { now: Date.now() } : view === 'uws' ? { baseUrl } : undefined as never));
  });
  return app;
}

/**
 * A job id from a path: a positive decimal integer without sign or leading zeros. Anything else
 * names no job whoever asks, so it is refused as malformed (400) without looking anything up.
 */
export function parseJobId(text: string): number {
  const id = Number(text);
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(id)) {
    throw new InvalidInputError('job id', 'malformed, expected a positive decimal integer');
  }
  return id;
}

/**
 * The dashboard: server-rendered HTML pages over the facade (a Hono app, as the HTTP API), with a
 * small browser script for live updates (Server-Sent Events fed by the engine's committed
 * transitions) and for stepping through a job's history without a reload. Every page works
 * without the script.
 *
 * - `/`: jobs, newest first: counts per state of each lifecycle, filters, search by id, paging;
 * - `/jobs/{id}`: one job, its actions, its diagram and history, `?step=N` as it was after event N;
 * - `/lifecycles`: every registered lifecycle as a diagram with its jobs per state;
 * - `/events`: the live stream; `/assets/client.js`: the browser script.
 *
 * Owners are kept apart as in the API: with `authenticate`, a non-admin sees, streams and acts on
 * their own jobs only, and another owner's job is the same 404 as a missing one. Actions are
 * plain form posts, accepted only from the dashboard's own origin (Sec-Fetch-Site, else Origin).
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { getPathNoStrict } from 'hono/utils/url';
import type { Json } from '../../machines/common.ts';
import { isPhaselineError } from '../errors.ts';
import type { Caller } from '../http/app.ts';
import { statusOf } from '../http/errors.ts';
import { mountPathOf, normalizeBasePath } from '../http/mount.ts';
import type { Phaseline } from '../phaseline.ts';
import { errorField, safeLog, type Logger } from '../logger.ts';
import { actionsFor, isActionName, performAction } from './actions.ts';
import { clientScript } from './assets.ts';
import { countByState, idParam, jobFor, jobWithHistory, listPage, type ListQuery } from './data.ts';
import { diagramOf, pathOf, renderDiagramSvg } from './diagram.ts';
import { LiveFeed, toLiveJob, type LiveMessage } from './live.ts';
import { JobLive, JobPage, StepView, type JobPageProps } from './pages/job.tsx';
import { SignInPage } from './pages/layout.tsx';
import { ErrorPage, LifecyclesPage } from './pages/lifecycles.tsx';
import { ListPage } from './pages/list.tsx';
import { answerFrom, replyShapeOf } from './reply-form.ts';
import { clampStep, jobAtStep, resolverFor } from './replay-step.ts';
import { callerOf, forgetToken, keepToken, tokenAccepted } from './sign-in.ts';

export interface DashboardOptions {
  /**
   * Request → caller, or null when the request carries no credentials Phaseline accepts (401), as
   * for `createHttpApp`. Without it every caller is an anonymous admin (a single-user service).
   */
  authenticate?: (request: Request) => Caller | null | Promise<Caller | null>;
  /** The path the pages hang below, e.g. `/dashboard`. Default: none. A host adapter's mount path goes in front of it. */
  basePath?: string;
  /** Milliseconds between keep-alive comments on an open event stream. Default 15,000. */
  keepAliveMs?: number;
  /**
   * For bearer-token `authenticate` functions: offer browsers a sign-in form (`/sign-in`) that
   * checks a token with `authenticate` and keeps it in an HttpOnly, SameSite=Strict cookie for the
   * dashboard's pages only (src/dashboard/sign-in.ts). A page opened without credentials then
   * leads there instead of a bare 401. Default false.
   */
  signIn?: boolean;
  /** Where a failed request (a 500) is logged. Default: the Phaseline instance's logger. */
  logger?: Logger;
}

type DashEnv = { Variables: { caller: Caller; base: string; signedIn: boolean } };

const UNMOUNTED = '/\u0000unmounted';
/** Most job ids a stream may name as shown (a page holds fewer). */
const MAX_SHOWN = 200;

export function createDashboard(phaseline: Phaseline, options: DashboardOptions = {}): Hono<DashEnv> {
  const basePath = normalizeBasePath(options.basePath ?? '', 'basePath');
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const feed = new LiveFeed(phaseline);
  const prefixOf = (env: unknown) => mountPathOf(env) + basePath;
  const app = new Hono<DashEnv>({
    getPath: (request, { env } = {}) => {
      const path = getPathNoStrict(request);
      const prefix = prefixOf(env);
      if (prefix === '' || path === prefix) return path.slice(prefix.length) || '/';
      return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : UNMOUNTED;
    },
  });
  Object.defineProperty(app, 'liveStreams', { get: () => feed.size });

  const signIn = options.signIn === true && options.authenticate !== undefined;
  app.use(async (c, next) => {
    c.set('base', prefixOf(c.env));
    c.set('signedIn', false);
    if (!options.authenticate) {
      c.set('caller', { owner: null, admin: true });
      return next();
    }
    // c.req.path is the routing path, below the prefix.
    if (signIn && c.req.path === '/sign-in') return next();
    const { caller, signedIn } = await callerOf(c, options.authenticate, signIn);
    if (!caller) {
      // A browser opening a page is shown the way in; anything else gets the API's answer.
      if (signIn && c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html')) return c.redirect(`${c.get('base')}/sign-in`, 303);
      return c.text('Authentication required\n', 401, { 'WWW-Authenticate': 'Bearer' });
    }
    c.set('caller', caller);
    c.set('signedIn', signedIn);
    return next();
  });
  app.use(async (c, next) => {
    // Pages link the browser script by its version: loaded (in development, bundled) before the first page.
    if (c.req.method === 'GET') await clientScript().catch(() => {});
    await next();
    // The pages are the caller's own view of their jobs: not for shared caches, not for framing.
    if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store');
    c.header('X-Frame-Options', 'DENY');
    c.header('X-Content-Type-Options', 'nosniff');
    // Only the dashboard's own script runs and only its own origin is reached: injected markup could do nothing.
    c.header('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
  });
  app.use(bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.text('Request body too large\n', 413, { Connection: 'close' }) }));

  app.onError((error, c) => {
    const status = statusOf(error);
    if (status === 500) safeLog(options.logger ?? phaseline.logger, 'error', { err: errorField(error), method: c.req.method, path: c.req.path }, 'phaseline dashboard: request failed');
    return c.html(ErrorPage({ base: c.get('base') ?? '', ...problemOf(error) }), status);
  });
  app.notFound((c) => c.html(ErrorPage({ base: c.get('base') ?? '', title: 'Not found', message: 'There is no such page.' }), 404));

  // ── Signing in (browsers with a bearer token) ──────────────────────────
  if (signIn) {
    const authenticate = options.authenticate!;
    app.get('/sign-in', (c) => c.html(SignInPage({ base: c.get('base'), problem: null })));
    app.post('/sign-in', async (c) => {
      const base = c.get('base');
      if (!sameOrigin(c)) return c.html(ErrorPage({ base, title: 'Refused', message: 'Sign in from the dashboard’s own page (a cross-site form post was refused).' }), 403);
      const form = await c.req.parseBody();
      const token = typeof form.token === 'string' ? form.token.trim() : '';
      if (!(await tokenAccepted(c, authenticate, token))) return c.html(SignInPage({ base, problem: 'That token was not accepted.' }), 401);
      keepToken(c, token, base);
      return c.redirect(`${base}/`, 303);
    });
    app.post('/sign-out', (c) => {
      const base = c.get('base');
      if (!sameOrigin(c)) return c.html(ErrorPage({ base, title: 'Refused', message: 'A cross-site form post was refused.' }), 403);
      forgetToken(c, base);
      return c.redirect(`${base}/sign-in`, 303);
    });
  }

  // ── Jobs list ──────────────────────────────────────────────────────────
  app.get('/', async (c) => {
    const caller = c.get('caller');
    const base = c.get('base');
    const { query, problem } = readListQuery(c, caller);
    const [page, counts] = await Promise.all([
      listPage(phaseline, caller, query),
      countByState(phaseline, caller, query),
    ]);
    const filters = filterParams(query, caller);
    const trail = (c.req.query('trail') ?? '').split(',').filter((t) => /^[0-9]+$/.test(t)).slice(-50);
    const link = (before: number | undefined, nextTrail: string[]) => {
      const q = new URLSearchParams(filters);
      if (before !== undefined) q.set('before', String(before));
      if (nextTrail.length > 0) q.set('trail', nextTrail.join(','));
      const text = q.toString();
      return `${base}/${text ? `?${text}` : ''}`;
    };
    const here = query.beforeId ?? 0;
    const older = page.older !== null ? link(page.older, [...trail, String(here)]) : null;
    let newer: string | null = null;
    if (query.beforeId !== undefined) {
      const back = trail.at(-1);
      const before = back === undefined || back === '0' ? undefined : Number(back);
      newer = link(before, trail.slice(0, -1));
    }
    const lifecycles = [...new Set(phaseline.lifecycles().map((l) => l.name))].sort();
    const types = phaseline.jobTypes().map((t) => t.name).sort();
    return c.html(
      ListPage({
        base,
        admin: caller.admin,
        query,
        filterQuery: filters.toString(),
        jobs: page.jobs,
        counts,
        lifecycles,
        types,
        newer,
        older,
        problem,
        signedIn: c.get('signedIn'),
      }),
    );
  });

  // ── One job ────────────────────────────────────────────────────────────
  async function jobPageProps(c: Context<DashEnv>, id: number, problem: string | null): Promise<JobPageProps> {
    const caller = c.get('caller');
    const { job, history } = await jobWithHistory(phaseline, caller, id);
    const events = history.events;
    const asked = c.req.query('step');
    let step = clampStep(asked !== undefined && /^-?[0-9]+$/.test(asked) ? Number(asked) : undefined, events.length);
    switch (c.req.query('go')) {
      case 'first': step = 1; break;
      case 'prev': step = Math.max(1, step - 1); break;
      case 'next': step = Math.min(events.length, step + 1); break;
      case 'last': step = events.length; break;
    }
    const replayed = step === events.length ? { job, divergence: null } : jobAtStep(phaseline, history, step);
    const shownLifecycle = replayed.job ?? job;
    const lifecycle = resolverFor(phaseline)(shownLifecycle.lifecycle, shownLifecycle.lifecycleVersion);
    const diagramSvg = lifecycle
      ? renderDiagramSvg(diagramOf(lifecycle), {
          path: pathOf(events.slice(0, step).map((event) => ({ jobId: id, ...event }))),
          ...(events[step - 1] ? { current: events[step - 1]!.stateAfter } : {}),
          idPrefix: `job-${id}-`,
        })
      : `<p class="notice">Lifecycle ${escapeText(`${shownLifecycle.lifecycle}@${shownLifecycle.lifecycleVersion}`)} is not registered here: no diagram.</p>`;
    return {
      base: c.get('base'),
      jobId: id,
      job,
      events,
      step,
      atStep: replayed.job,
      divergence: replayed.divergence,
      diagramSvg,
      actions: actionsFor(phaseline, history),
      replyShape: replyShapeOf(job.question),
      problem,
      signedIn: c.get('signedIn'),
    };
  }

  app.get('/jobs/:id', async (c) => {
    const id = jobIdOf(c.req.param('id'));
    const props = await jobPageProps(c, id, null);
    // The browser script swaps parts of the page in place.
    const fragment = c.req.query('fragment');
    if (fragment === 'step') return c.html(StepView(props));
    if (fragment === 'live') return c.html(JobLive(props));
    return c.html(JobPage(props));
  });

  app.post('/jobs/:id/actions/:action', async (c) => {
    const base = c.get('base');
    if (!sameOrigin(c)) {
      return c.html(ErrorPage({ base, title: 'Refused', message: "Actions are accepted only from the dashboard's own pages (a cross-site form post was refused)." }), 403);
    }
    const caller = c.get('caller');
    const id = jobIdOf(c.req.param('id'));
    const action = c.req.param('action');
    if (!isActionName(action)) return c.notFound();
    const job = await jobFor(phaseline, caller, id); // another owner's job: the 404 of a missing one
    try {
      let reply: Json | undefined;
      if (action === 'reply') {
        const form = await c.req.parseBody();
        const fields: Record<string, string> = {};
        for (const [k, v] of Object.entries(form)) if (typeof v === 'string') fields[k] = v;
        reply = answerFrom(replyShapeOf(job.question), fields);
      }
      await performAction(phaseline, caller, id, action, reply);
    } catch (error) {
      if (!isPhaselineError(error) || isPhaselineError(error, 'JOB_NOT_FOUND') || isPhaselineError(error, 'WRONG_OWNER')) throw error;
      // Refused: the engine's own message on the job's page, nothing changed.
      return c.html(JobPage(await jobPageProps(c, id, `${error.code}: ${error.message}`)), statusOf(error));
    }
    return c.redirect(action === 'delete' ? `${base}/` : `${base}/jobs/${id}`, 303);
  });

  // ── Lifecycles ─────────────────────────────────────────────────────────
  app.get('/lifecycles', async (c) => {
    const caller = c.get('caller');
    const counts = await countByState(phaseline, caller);
    const views = phaseline.lifecycles().map((lifecycle) => {
      const diagram = diagramOf(lifecycle);
      const mine = counts.filter((n) => n.lifecycle === lifecycle.name);
      const byState: Record<string, number> = {};
      for (const n of mine) byState[n.state] = n.count;
      const states = diagram.nodes.map(({ id }) => ({ state: id, count: byState[id] ?? 0 }));
      return {
        name: lifecycle.name,
        version: lifecycle.version,
        diagramSvg: renderDiagramSvg(diagram, { counts: byState, idPrefix: `lc-${lifecycle.name}-${lifecycle.version}-` }),
        counts: states,
      };
    });
    return c.html(LifecyclesPage({ base: c.get('base'), lifecycles: views, signedIn: c.get('signedIn') }));
  });

  // ── Live updates ───────────────────────────────────────────────────────
  app.get('/events', async (c) => {
    const caller = c.get('caller');
    // `ids=7:12,8:3`: the jobs the page shows, each with the version it shows.
    const named = new Map<number, number | null>();
    for (const item of (c.req.query('ids') ?? '').split(',').slice(0, MAX_SHOWN)) {
      const [idText, versionText] = item.split(':');
      const id = idParam(idText);
      if (id !== undefined) named.set(id, versionText !== undefined && /^[0-9]{1,15}$/.test(versionText) ? Number(versionText) : null);
    }
    return streamSSE(c, async (stream) => {
      let open = true;
      const send = (message: LiveMessage) => {
        if (!open) return;
        const data = JSON.stringify(message.kind === 'job' ? message.job : { id: message.id });
        stream.writeSSE({ event: message.kind, data }).catch(() => {});
      };
      // Subscribed first, then caught up: a change made after the page was rendered and before the
      // stream opened is sent now; one made since is sent by the feed (a duplicate is harmless).
      const subscription = feed.subscribe(caller, send);
      const keepAlive = setInterval(() => {
        stream.write(': keep-alive\n\n').catch(() => {});
      }, keepAliveMs);
      const closed = new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        c.req.raw.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      try {
        await stream.write('retry: 2000\n: connected\n\n');
        for (const [id, version] of named) {
          const job = await jobFor(phaseline, caller, id).catch((error: unknown) => {
            if (isPhaselineError(error, 'JOB_NOT_FOUND') || isPhaselineError(error, 'WRONG_OWNER')) return null;
            throw error;
          });
          if (!job) continue; // gone, or not the caller's: nothing to say

          subscription.know(id);
          if (version !== null && job.version !== version) send({ kind: 'job', job: toLiveJob(job, { type: 'CATCH_UP', stateBefore: null }) });
        }
        await closed;
      } finally {
        open = false;
        clearInterval(keepAlive);
        subscription.close();
      }
    });
  });

  app.get('/assets/client.js', async (c) => {
    const script = await clientScript();
    // Linked with its version: that URL's content never changes, so browsers keep it.
    const cache = c.req.query('v') === script.version ? 'public, max-age=31536000, immutable' : 'no-cache';
    return c.body(script.text, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': cache });
  });

  return app;
}

/** Open event streams of a dashboard (for tests: a client gone must leave none). */
export function liveStreamsOf(dashboard: Hono<DashEnv>): number {
  return (dashboard as unknown as { liveStreams: number }).liveStreams;
}

/** A form post from the dashboard's own origin: the browser's Sec-Fetch-Site, else the Origin header. */
function sameOrigin(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin';
  const origin = c.req.header('origin');
  return origin !== undefined && origin === new URL(c.req.url).origin;
}

function jobIdOf(text: string): number {
  const id = idParam(text);
  if (id === undefined || String(id) !== text) throw new NotFound();
  return id;
}

/** A path naming no job (a malformed id): a plain 404, as a missing job. */
class NotFound extends Error {}

function problemOf(error: unknown): { title: string; message: string } {
  if (error instanceof NotFound || isPhaselineError(error, 'JOB_NOT_FOUND') || isPhaselineError(error, 'WRONG_OWNER')) {
    return { title: 'Not found', message: 'JOB_NOT_FOUND: No such job' };
  }
  const status = statusOf(error);
  if (status >= 500 || !isPhaselineError(error)) return { title: 'Unavailable', message: 'The service could not answer; try again later.' };
  return { title: 'Refused', message: `${error.code}: ${error.message}` };
}

/** The list's query from the URL; a value that cannot be read is dropped and said. */
function readListQuery(c: Context<DashEnv>, caller: Caller): { query: ListQuery; problem: string | null } {
  const q = (name: string) => {
    const v = c.req.query(name)?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const problems: string[] = [];
  const query: ListQuery = {};
  const lifecycle = q('lifecycle');
  if (lifecycle) query.lifecycle = lifecycle;
  const type = q('type');
  if (type) query.type = type;
  const state = q('state');
  if (state) query.state = state;
  const owner = q('owner');
  if (owner && caller.admin) query.owner = owner;
  const after = q('after');
  if (after) {
    const at = Date.parse(/Z$|[+-][0-9]{2}:[0-9]{2}$/.test(after) ? after : `${after}Z`);
    if (Number.isFinite(at)) query.after = at;
    else problems.push(`"Created after" is not a date and time: ${after.slice(0, 40)}`);
  }
  const id = q('id');
  if (id) {
    const n = idParam(id);
    if (n !== undefined) query.id = n;
    else problems.push(`"Job id" must be a positive integer: ${id.slice(0, 40)}`);
  }
  const before = idParam(q('before'));
  if (before !== undefined) query.beforeId = before;
  return { query, problem: problems.length > 0 ? problems.join('; ') : null };
}

/** The filters as query parameters (no paging), for the pager's and the counts' links. */
function filterParams(query: ListQuery, caller: Caller): URLSearchParams {
  const q = new URLSearchParams();
  if (query.lifecycle) q.set('lifecycle', query.lifecycle);
  if (query.type) q.set('type', query.type);
  if (query.state) q.set('state', query.state);
  if (query.owner && caller.admin) q.set('owner', query.owner);
  if (query.after !== undefined) q.set('after', new Date(query.after).toISOString());
  if (query.id !== undefined) q.set('id', String(query.id));
  return q;
}

const escapeText = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);


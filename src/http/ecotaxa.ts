/**
 * An EcoTaxa-style JSON job API (ecotaxa_py_client `JobsApi`), answering `JobModel`:
 *
 * GET    /jobs/?job_type=T&job_status=S   the caller's jobs (all jobs for an admin with `for_admin`)
 * GET    /jobs/{id}/                      one job
 * POST   /jobs/{id}/answer                reply to a job in `A` (JSON object body)
 * GET    /jobs/{id}/restart               restart a job in `E` (a GET that changes state, as EcoTaxa)
 * DELETE /jobs/{id}                       kill an active job (→ `E` "Killed"); delete a finished one
 *
 * Unlike EcoTaxa, answer and restart in the wrong state are refused (403), not silently ignored.
 */
import { Hono } from 'hono';
import { ECOTAXA_STATES } from '../../machines/ecotaxa.ts';
import type { Json } from '../../machines/common.ts';
import { InvalidInputError } from '../errors.ts';
import { toEcotaxaJobModel } from '../views/ecotaxa.ts';
import { viewState } from '../views/phase.ts';
import type { AppEnv, HttpContext } from './app.ts';

export function ecotaxaRoutes(http: HttpContext): Hono<AppEnv> {
  const { phaseline } = http;
  const app = new Hono<AppEnv>({ strict: false });

  app.get('/', async (c) => {
    const caller = c.get('caller');
    const status = c.req.query('job_status');
    if (status !== undefined && !(ECOTAXA_STATES as readonly string[]).includes(status)) {
      throw new InvalidInputError('job_status', `${status} is not one of ${ECOTAXA_STATES.join(', ')}`);
    }
    const type = c.req.query('job_type');
    const forAdmin = c.req.query('for_admin') === 'true' && caller.admin;
    const owner = forAdmin ? undefined : caller.admin && !caller.owner ? undefined : caller.owner;
    const jobs = await phaseline.list({ ...(owner !== undefined ? { owner } : {}), ...(type ? { type } : {}) });
    return c.json(
      jobs.filter((j) => status === undefined || viewState(j, 'ecotaxa') === status).map(toEcotaxaJobModel),
    );
  });

  app.get('/:id', async (c) => c.json(toEcotaxaJobModel(await http.jobFor(c.get('caller'), c.req.param('id')))));

  app.post('/:id/answer', async (c) => {
    const job = await http.jobFor(c.get('caller'), c.req.param('id'));
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new InvalidInputError('body', 'must be a JSON object');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInputError('body', 'must be a JSON object');
    const caller = c.get('caller');
    return c.json(toEcotaxaJobModel(await phaseline.reply(job.id, body as Json, { owner: http.ownerOf(caller) })));
  });

  app.get('/:id/restart', async (c) => {
    const job = await http.jobFor(c.get('caller'), c.req.param('id'));
    const caller = c.get('caller');
    return c.json(toEcotaxaJobModel(await phaseline.send(job.id, { type: 'RESTART' }, { owner: http.ownerOf(caller), actor: caller.owner })));
  });

  app.delete('/:id', async (c) => {
    const job = await http.jobFor(c.get('caller'), c.req.param('id'));
    const owner = http.ownerOf(c.get('caller'));
    if (!job.terminal) return c.json(toEcotaxaJobModel(await phaseline.cancel(job.id, { owner })));
    await phaseline.delete(job.id, { owner });
    return c.body(null, 204);
  });
  return app;
}

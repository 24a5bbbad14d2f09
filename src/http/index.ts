/**
 * `phaseline/http`: the HTTP layer (a Hono app; `app.fetch` takes web-standard Requests) and the
 * adapters that mount it in node:http, Express/connect and Fastify.
 */
export { createHttpApp, parseJobId, type AppEnv, type Caller, type HttpOptions } from './app.ts';
export { HttpProblem, NO_SUCH_JOB } from './errors.ts';
export { MOUNT_PATH } from './mount.ts';
export {
  createNodeHandler, keepRawBody, mountPath, toNodeHandler, writeResponse,
  type FetchApp, type NodeHandler, type NodeHandlerOptions, type NodeRequestLike, type NodeResponseLike,
} from './node.ts';
export {
  fastifyPhaseline,
  type FastifyInstanceLike, type FastifyPhaselineOptions, type FastifyReplyLike, type FastifyRequestLike,
} from './fastify.ts';

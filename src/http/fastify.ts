/**
 * The app as a Fastify plugin:
 *
 *     fastify.register(fastifyPhaseline, { prefix: '/jobs-api', phaseline, ...httpOptions });
 *
 * Inside the plugin's own (encapsulated) scope every content type is kept as the raw bytes, so the
 * app parses forms and JSON itself, and every path below the prefix is forwarded to `app.fetch`
 * with the prefix as its mount path (links carry it). Parsers of the rest of the host are untouched.
 *
 * Typed structurally, so nothing here needs Fastify installed.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Phaseline } from '../phaseline.ts';
import { createHttpApp, type HttpOptions } from './app.ts';
import { copyResponseHeaders, MOUNT_PATH, requestHeaders } from './mount.ts';
import type { FetchApp } from './node.ts';

export type FastifyPhaselineOptions = HttpOptions & {
  /** The Phaseline to serve (a new app is made with the HTTP options), or... */
  phaseline?: Phaseline;
  /** ...an app made already by createHttpApp. */
  app?: FetchApp;
  /** Fastify's own register option: the path the routes hang below. */
  prefix?: string;
};

/** The parts of a Fastify request the plugin reads. */
export interface FastifyRequestLike {
  method: string;
  /** The URL as received, prefix and query included. */
  url: string;
  headers: IncomingHttpHeaders;
  protocol?: string;
  body?: unknown;
  raw: { once(event: 'close', listener: () => void): unknown };
}

/** The parts of a Fastify reply the plugin writes. */
export interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  header(name: string, value: string | string[]): FastifyReplyLike;
  send(payload?: unknown): FastifyReplyLike;
  raw: { writableFinished?: boolean; once(event: 'close', listener: () => void): unknown };
}

/** The parts of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  readonly prefix: string;
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    contentType: string,
    options: { parseAs: 'buffer' },
    parser: (request: unknown, body: Buffer, done: (error: Error | null, body?: unknown) => void) => void,
  ): unknown;
  route(options: { method: string[]; url: string; handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown> }): unknown;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

export async function fastifyPhaseline(fastify: FastifyInstanceLike, options: FastifyPhaselineOptions): Promise<void> {
  const { phaseline, app: given, prefix: _prefix, ...http } = options;
  if (!given && !phaseline) throw new TypeError('fastifyPhaseline: pass { phaseline } or { app }');
  const app = given ?? createHttpApp(phaseline!, http);
  // Encapsulated: only this plugin's routes see raw bodies.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  const mount = fastify.prefix;
  const handler = async (request: FastifyRequestLike, reply: FastifyReplyLike): Promise<unknown> => {
    const controller = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const host = typeof request.headers.host === 'string' && request.headers.host !== '' ? request.headers.host : 'localhost';
    const headers = requestHeaders(request.headers);
    const method = request.method.toUpperCase();
    const body = method === 'GET' || method === 'HEAD' ? undefined : rawBody(request.body);
    if (body !== undefined) headers.delete('transfer-encoding');
    let fetchRequest: Request;
    try {
      fetchRequest = new Request(new URL(request.url, `${request.protocol ?? 'http'}://${host}`), { method, headers, signal: controller.signal, ...(body ? { body } : {}) });
    } catch {
      return reply.code(400).header('content-type', 'text/plain; charset=utf-8').send('Malformed request\n');
    }
    const response = await app.fetch(fetchRequest, { [MOUNT_PATH]: mount });
    reply.code(response.status);
    copyResponseHeaders(response.headers, (name, value) => reply.header(name, value));
    return reply.send(Buffer.from(await response.arrayBuffer()));
  };
  fastify.route({ method: METHODS, url: '/', handler });
  fastify.route({ method: METHODS, url: '/*', handler });
}

/** The bytes the plugin's parser kept; a body some other parser produced, as text or JSON. */
function rawBody(body: unknown): Uint8Array | string | undefined {
  if (body === undefined || body === null) return undefined;
  if (body instanceof Uint8Array) return new Uint8Array(body);
  return typeof body === 'string' ? body : JSON.stringify(body);
}

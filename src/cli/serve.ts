/**
 * `phaseline serve`: the HTTP layer and the dashboard (at /dashboard) with the demo job types and workers, on node:http. It listens
 * on loopback unless told otherwise, and says at start-up who can reach it and whether it asks
 * for a token.
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { demoJobTypes } from '../demo/jobtypes.ts';
import { createHttpApp } from '../http/app.ts';
import { stderrLogger } from '../logger.ts';
import type { Phaseline } from '../phaseline.ts';
import { CliError } from './errors.ts';
import { bearerAuthenticator } from './token.ts';

export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Bearer token every request must carry; null serves everyone as an admin. */
  token: string | null;
}

/**
 * Serves until SIGINT or SIGTERM, then stops taking requests and closes Phaseline. The port comes
 * first and the database second: a server that cannot listen creates no database and runs no jobs.
 */
export async function serve(open: () => Promise<Phaseline>, options: ServeOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  // Handlers before anything else: a signal that arrives while the server starts still stops it cleanly.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  let fetch: (request: Request) => Response | Promise<Response> = () => new Response('Starting\n', { status: 503, headers: { 'Retry-After': '1' } });
  const server = createAdaptorServer({ fetch: (request: Request) => fetch(request) }) as Server;
  const address = await listen(server, options.host, options.port);
  let phaseline: Phaseline;
  try {
    phaseline = await open();
  } catch (error) {
    server.close();
    throw error;
  }
  try {
    for (const type of demoJobTypes) phaseline.register(type);
    const app = createHttpApp(phaseline, {
      uwsJobType: 'uws.cutout',
      // A browser cannot send the bearer token itself: the dashboard's sign-in form keeps it in a cookie.
      dashboard: { signIn: true },
      // The operator sees a failed request on stderr (the message only: no stack reaches anyone).
      logger: stderrLogger(),
      ...(options.token !== null ? { authenticate: bearerAuthenticator(options.token) } : {}),
    });
    fetch = (request) => app.fetch(request);
    phaseline.start({ concurrency: 4 });
    out.write(`phaseline: listening on ${urlOf(address)} (${access(address, options.token !== null)}); UWS at /uws, EcoTaxa at /api/jobs, views at /jobs/{id}?view=..., dashboard at /dashboard\n`);
    await stopped;
    server.close();
    server.closeAllConnections(); // blocking WAITs and keep-alive sockets would hold the process open
  } finally {
    await phaseline.close();
  }
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(new CliError(listenProblem(error, host, port)));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function listenProblem(error: NodeJS.ErrnoException, host: string, port: number): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${host}:${port}: the port is already in use (choose another with --port)`;
    case 'EACCES':
      return `cannot listen on ${host}:${port}: permission denied (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${host}: it is not an address of this machine`;
    default:
      return `cannot listen on ${host}:${port}: ${error.message}`;
  }
}

function isLoopback(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

function urlOf({ address, family, port }: AddressInfo): string {
  return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
}

function access({ address }: AddressInfo, token: boolean): string {
  if (isLoopback(address)) return `loopback only, ${token ? 'bearer token required' : 'no authentication'}`;
  return token
    ? 'reachable from other hosts, bearer token required'
    : 'WARNING: reachable from other hosts with no authentication; set --token-file or PHASELINE_TOKEN';
}

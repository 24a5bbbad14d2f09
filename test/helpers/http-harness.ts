/**
 * Shared by the HTTP tests: a Phaseline on a fresh database of the project's store
 * (test/support/stores.ts) with test job types whose handlers the test controls (a job in `hold`
 * mode stays running until the test releases it), workers with short poll intervals, and the HTTP
 * app served by @hono/node-server on a real port.
 */
import { waitFor as pollUntil } from './wait.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Json } from '../../machines/common.ts';
import { createHttpApp, type HttpOptions } from '../../src/http/app.ts';
import { defineJobType } from '../../src/jobtypes.ts';
import { createPhaseline, type Phaseline } from '../../src/phaseline.ts';
import type { RunnerOptions } from '../../src/runner/runner.ts';
import { freshDatabase } from '../support/stores.ts';

/** What a test job does when it runs (its `mode` parameter). */
export type Mode = 'quick' | 'plain' | 'hold' | 'fail' | 'ask' | 'failOnce';

interface Gate {
  promise: Promise<void>;
  release: () => void;
  fail: (message: string) => void;
}

/** One gate per job id: a `hold` job's handler waits on its gate until the test opens it. */
export class Gates {
  readonly #gates = new Map<number, Gate>();
  /** Job ids whose handler is waiting on its gate right now. */
  readonly waiting = new Set<number>();

  #gate(id: number): Gate {
    let gate = this.#gates.get(id);
    if (!gate) {
      let release!: () => void;
      let fail!: (message: string) => void;
      const promise = new Promise<void>((resolve, reject) => {
        release = resolve;
        fail = (message) => reject(new Error(message));
      });
      promise.catch(() => {});
      gate = { promise, release, fail };
      this.#gates.set(id, gate);
    }
    return gate;
  }

  /** Wait for the test to open the gate, or for the handler's signal. */
  async wait(id: number, signal: AbortSignal): Promise<void> {
    const gate = this.#gate(id);
    this.waiting.add(id);
    try {
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        gate.promise.then(
          () => (signal.removeEventListener('abort', onAbort), resolve()),
          (error: unknown) => (signal.removeEventListener('abort', onAbort), reject(error)),
        );
      });
    } finally {
      this.waiting.delete(id);
    }
  }

  release(id: number): void {
    this.#gate(id).release();
  }

  fail(id: number, message: string): void {
    this.#gate(id).fail(message);
  }

  releaseAll(): void {
    for (const gate of this.#gates.values()) gate.release();
  }
}

function modeOf(params: Json): Mode {
  const mode = typeof params === 'object' && params !== null && !Array.isArray(params) ? params.mode : undefined;
  return (typeof mode === 'string' ? mode : 'quick') as Mode;
}

const MODES: readonly string[] = ['quick', 'plain', 'hold', 'fail', 'ask', 'failOnce'];

/** UWS form parameters: strings (or repeated strings); `mode` one of {@link MODES}; `n` numeric text. */
function validateUwsParams(value: unknown): Record<string, Json> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('params must be an object');
  const params = value as Record<string, Json>;
  for (const [key, v] of Object.entries(params)) {
    const ok = typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
    if (!ok) throw new Error(`${key} must be text`);
  }
  if (params.mode !== undefined && !MODES.includes(params.mode as string)) throw new Error(`mode must be one of ${MODES.join(', ')}`);
  if (params.n !== undefined && !(typeof params.n === 'string' && /^-?[0-9]+(\.[0-9]+)?$/.test(params.n))) throw new Error('n must be a number');
  return params;
}

export interface Harness {
  phaseline: Phaseline;
  gates: Gates;
  /** Origin of the served app, e.g. `http://127.0.0.1:41234`. */
  origin: string;
  /** Absolute URL of a path on the server. */
  url(path: string): string;
  /** Serve another app on the same Phaseline (other options); closed with the harness. */
  serveAnother(options: HttpOptions): Promise<string>;
  close(): Promise<void>;
}

/** Job ids handlers of `failOnce` jobs have already failed once. */
const failedOnce = new Set<string>();

export async function startHarness(options: { http?: HttpOptions; runner?: RunnerOptions } = {}): Promise<Harness> {
  const dbKey = await freshDatabase();
  const phaseline = createPhaseline({ db: dbKey });
  await phaseline.ready();
  const gates = new Gates();

  const run = async (mode: Mode, ctx: { job: { id: number }; signal: AbortSignal; ask: (q: Json, m?: string) => Promise<Json> }): Promise<Json> => {
    const id = ctx.job.id;
    switch (mode) {
      case 'fail':
        throw new Error(`kaboom in job ${id}`);
      case 'failOnce':
        if (!failedOnce.has(`${dbKey}:${id}`)) {
          failedOnce.add(`${dbKey}:${id}`);
          throw new Error(`first run of job ${id} fails`);
        }
        return { ok: true };
      case 'hold':
        await gates.wait(id, ctx.signal);
        break;
      case 'ask': {
        const answer = await ctx.ask({ unknownTaxa: ['copepoda sp.'] }, 'Please map 1 unknown taxon');
        return { answer };
      }
      case 'plain':
        return { answer: 42 };
      case 'quick':
        break;
    }
    return { results: [{ id: 'image', href: `https://example.org/results/${id}.fits`, mimeType: 'application/fits', size: 2880 }] };
  };

  phaseline.register({
    name: 'test.uws',
    lifecycle: 'uws',
    attempts: 1,
    validate: validateUwsParams,
    handler: (ctx) => run(modeOf(ctx.params), ctx),
  });
  phaseline.register({
    name: 'test.ecotaxa',
    lifecycle: 'ecotaxa',
    attempts: 1,
    handler: (ctx) => run(modeOf(ctx.params), ctx),
  });
  for (const lifecycle of ['rime', 'synapse', 'qiskit'] as const) {
    phaseline.register(defineJobType({ name: `test.${lifecycle}`, lifecycle, attempts: 1, handler: (ctx) => run(modeOf(ctx.params), ctx) }));
  }
  phaseline.start({ concurrency: 8, pollIntervalMs: 50, progressIntervalMs: 0, cancelGraceMs: 500, ...options.runner });

  const servers: Server[] = [];
  const listen = async (http: HttpOptions): Promise<string> => {
    const app = createHttpApp(phaseline, { uwsJobType: 'test.uws', ...http });
    const { server, port } = await new Promise<{ server: Server; port: number }>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve({ server: s as Server, port: info.port }));
    });
    servers.push(server);
    return `http://127.0.0.1:${port}`;
  };
  const origin = await listen(options.http ?? {});

  return {
    phaseline,
    gates,
    origin,
    url: (path) => `${origin}${path}`,
    serveAnother: listen,
    async close() {
      gates.releaseAll();
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await phaseline.close(0);
    },
  };
}

/** The shared poller, with the longer default these HTTP round trips want. */
export function waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
  return pollUntil(predicate, timeoutMs, what);
}

export function waitForState(p: Phaseline, id: number, state: string, timeoutMs = 5000) {
  return waitFor(async () => {
    const job = await p.get(id);
    return job.state === state ? job : null;
  }, timeoutMs, `job ${id} in ${state}`);
}

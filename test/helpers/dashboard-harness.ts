/**
 * Shared by the dashboard tests: a Phaseline on a SQLite file in a temp folder (or the database a
 * conformance test gives), job types whose
 * handlers the test steers (progress, then a wait on a gate the test opens; a question with
 * fields; a long run that only cancellation ends), workers, and the HTTP app with the dashboard
 * mounted at /dashboard (or the dashboard alone), served by node:http on a free port. Callers are
 * named by `Authorization: Bearer <name>`; `root` is an admin.
 */
import { createAdaptorServer } from '@hono/node-server';
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createDashboard, liveStreamsOf } from '../../src/dashboard/app.ts';
import { createHttpApp, type Caller } from '../../src/http/app.ts';
import { defineJobType } from '../../src/jobtypes.ts';
import { createPhaseline, type Phaseline } from '../../src/phaseline.ts';
import { defineLifecycle } from '../../machines/define.ts';
import { tempDir } from '../support/sqlite.ts';
import { waitFor } from './wait.ts';

export function authenticate(request: Request): Caller | null {
  const match = /^Bearer ([a-z]+)$/.exec(request.headers.get('authorization') ?? '');
  if (!match) return null;
  return match[1] === 'root' ? { owner: 'root', admin: true } : { owner: match[1]!, admin: false };
}

/** Gates by name (`7:half`): a handler waits on one until the test opens it. */
export class Gates {
  readonly #gates = new Map<string, { promise: Promise<void>; open: () => void }>();
  readonly waiting = new Set<string>();

  #gate(name: string) {
    let gate = this.#gates.get(name);
    if (!gate) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      this.#gates.set(name, (gate = { promise, open }));
    }
    return gate;
  }

  async wait(name: string, signal: AbortSignal): Promise<void> {
    this.waiting.add(name);
    try {
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        this.#gate(name).promise.then(resolve);
      });
    } finally {
      this.waiting.delete(name);
    }
  }

  open(name: string): void {
    this.#gate(name).open();
  }

  openAll(): void {
    for (const gate of this.#gates.values()) gate.open();
  }
}

/** A lifecycle of the app's own, to show that the dashboard draws those too. */
export const reviewLifecycle = defineLifecycle({
  name: 'review',
  version: 1,
  initial: 'queued',
  states: {
    queued: { tags: ['queued'], on: { CLAIM: { target: 'in_review', actions: 'apply' }, CANCEL: { target: 'withdrawn', actions: 'apply' } } },
    in_review: {
      tags: ['running'],
      on: {
        PROGRESS: { actions: 'apply' },
        SUCCEED: { target: 'approved', actions: 'apply' },
        FAIL: { target: 'rejected', actions: 'apply' },
        TIMEOUT: { target: 'rejected', actions: 'apply' },
        LEASE_LOST: { target: 'rejected', actions: 'apply' },
        RELEASE: { target: 'queued', actions: 'apply' },
        CANCEL: { target: 'withdrawn', actions: 'apply' },
      },
    },
    approved: { type: 'final', tags: ['terminal', 'succeeded'] },
    rejected: { type: 'final', tags: ['terminal', 'failed'] },
    withdrawn: { type: 'final', tags: ['terminal', 'cancelled'] },
  },
});

export interface DashboardHarness {
  phaseline: Phaseline;
  gates: Gates;
  origin: string;
  /** Open event streams of the dashboard (only when served alone: `mount: 'alone'`). */
  liveStreams(): number;
  close(): Promise<void>;
}

export interface DashboardHarnessOptions {
  /** The HTTP app with the dashboard at /dashboard (default), or the dashboard alone at that path. */
  mount?: 'http' | 'alone';
  keepAliveMs?: number;
  signIn?: boolean;
  /** The database (a conformance test's `freshDatabase()`); default a SQLite file in a new temp folder. */
  db?: string;
}

export async function startDashboard(options: DashboardHarnessOptions = {}): Promise<DashboardHarness> {
  const dir = options.db === undefined ? tempDir('dashboard') : null;
  const phaseline = createPhaseline({ db: options.db ?? join(dir!, 'jobs.db'), lifecycles: [reviewLifecycle] });
  await phaseline.ready();
  const gates = new Gates();
  // Progress, then a wait the test ends, twice; then success.
  phaseline.register(defineJobType({
    name: 'test.steps',
    lifecycle: 'rime',
    attempts: 1,
    async handler(ctx) {
      await ctx.progress(10, 'started');
      await gates.wait(`${ctx.job.id}:half`, ctx.signal);
      await ctx.progress(60, 'half way');
      await gates.wait(`${ctx.job.id}:end`, ctx.signal);
      return { done: true };
    },
  }));
  // Asks for a taxon (a question with fields), then imports with it.
  phaseline.register(defineJobType({
    name: 'test.ask',
    lifecycle: 'ecotaxa',
    attempts: 1,
    async handler(ctx) {
      const answer = await ctx.ask<{ taxa: string; count: number }>(
        { fields: [{ name: 'taxa', label: 'Taxon', options: ['copepoda', 'diatoms'] }, { name: 'count', label: 'Count', type: 'number' }] },
        'Map 1 taxon',
      );
      return { mapped: answer.taxa, count: answer.count };
    },
  }));
  // Asks a question that describes no answer (a JSON text area).
  phaseline.register(defineJobType({
    name: 'test.askjson',
    lifecycle: 'ecotaxa',
    attempts: 1,
    async handler(ctx) {
      const answer = await ctx.ask({ unknownTaxa: ['copepoda sp.'] }, 'Please map 1 unknown taxon');
      return { answer };
    },
  }));
  // Runs until cancelled.
  phaseline.register(defineJobType({
    name: 'test.long',
    lifecycle: 'rime',
    attempts: 1,
    async handler(ctx) {
      await ctx.progress(5, 'running');
      await gates.wait(`${ctx.job.id}:never`, ctx.signal);
      return null;
    },
  }));
  // A long history: 300 progress reports.
  phaseline.register(defineJobType({
    name: 'test.chatty',
    lifecycle: 'synapse',
    attempts: 1,
    async handler(ctx) {
      for (let i = 1; i <= 300; i++) await ctx.progress({ current: i, total: 300 }, `report ${i}`);
      return null;
    },
  }));
  phaseline.register(defineJobType({ name: 'test.quick', lifecycle: 'uws', attempts: 1, handler: async () => ({ ok: true }) }));
  phaseline.register(defineJobType({ name: 'test.review', lifecycle: 'review', attempts: 1, handler: async () => ({ approved: true }) }));

  const dashboard = options.mount === 'alone' ? createDashboard(phaseline, { authenticate, basePath: '/dashboard', keepAliveMs: options.keepAliveMs ?? 15_000, signIn: options.signIn ?? false }) : null;
  const app = dashboard ?? createHttpApp(phaseline, { authenticate, dashboard: { keepAliveMs: options.keepAliveMs ?? 15_000, signIn: options.signIn ?? false } });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  phaseline.start({ concurrency: 4, pollIntervalMs: 20, progressIntervalMs: 0, cancelGraceMs: 2000 });
  return {
    phaseline,
    gates,
    origin: `http://127.0.0.1:${port}`,
    liveStreams: () => (dashboard ? liveStreamsOf(dashboard) : -1),
    async close() {
      gates.openAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await phaseline.close(1000);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function waitForState(phaseline: Phaseline, id: number, state: string, ms = 10_000): Promise<void> {
  await waitFor(async () => (await phaseline.get(id)).state === state, ms, `job ${id} in ${state}`);
}

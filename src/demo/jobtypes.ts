/**
 * The demo's job types, one or more per lifecycle, used by `phaseline demo` and `phaseline serve`.
 * Handlers sleep a little between steps so that progress is visible; they honour their signal.
 */
import type { Json } from '../../machines/common.ts';
import { defineJobType, type AnyJobType } from '../jobtypes.ts';
import type { HandlerContext } from '../runner/context.ts';

/** Resolves after `ms`, or rejects when the signal fires. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function work<P extends Json>(ctx: HandlerContext<P>, steps: number, stepMs: number, label: string): Promise<void> {
  for (let i = 1; i <= steps; i++) {
    await pause(stepMs, ctx.signal);
    await ctx.progress({ current: i, total: steps }, `${label} ${i}/${steps}`);
  }
}

const objectParams = (value: unknown): Record<string, Json> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('params must be an object');
  return value as Record<string, Json>;
};

export const ecotaxaImport = defineJobType<{ project: number; file: string }, { imported: number }>({
  name: 'ecotaxa.import',
  lifecycle: 'ecotaxa',
  validate: (value) => {
    const p = objectParams(value);
    if (typeof p.project !== 'number' || typeof p.file !== 'string') throw new Error('expected { project: number, file: string }');
    return { project: p.project, file: p.file };
  },
  async handler(ctx) {
    const rows = await ctx.step('validate', async () => {
      await work(ctx, 5, 80, 'Validating');
      return 1200;
    });
    const mapping = await ctx.ask<{ taxa: string }>({ unknownTaxa: ['copepoda sp.'] }, 'Please map 1 unknown taxon');
    await ctx.checkpoint({ mapping }, 2);
    await work(ctx, 5, 80, `Importing as ${mapping.taxa}`);
    return { imported: rows };
  },
});

export const uwsCutout = defineJobType<{ ra: number; dec: number; radius?: number }, Json>({
  name: 'uws.cutout',
  lifecycle: 'uws',
  // UWS clients post form fields, so numbers may arrive as text.
  validate: (value) => {
    const p = objectParams(value);
    const num = (v: Json | undefined, name: string) => {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`${name} must be a number`);
      return n;
    };
    return { ra: num(p.ra, 'ra'), dec: num(p.dec, 'dec'), ...(p.radius !== undefined ? { radius: num(p.radius, 'radius') } : {}) };
  },
  async handler(ctx) {
    await work(ctx, Math.max(3, Math.round((ctx.params.radius ?? 0.6) * 10)), 70, 'Cutting');
    return { results: [{ id: 'cutout', href: `https://example.org/cutouts/${ctx.job.id}.fits`, mimeType: 'application/fits', size: 2880 }] };
  },
});

export const rimeStressTest = defineJobType<{ model: string; batches?: number }, Json>({
  name: 'rime.stress-test',
  lifecycle: 'rime',
  validate: (value) => {
    const p = objectParams(value);
    if (typeof p.model !== 'string') throw new Error('expected { model: string }');
    return { model: p.model, ...(typeof p.batches === 'number' ? { batches: p.batches } : {}) };
  },
  async handler(ctx) {
    const batches = ctx.params.batches ?? 8;
    await work(ctx, batches, 90, 'Test batch');
    return { passed: batches, failed: 0 };
  },
});

export const synapseQuery = defineJobType<{ sql: string }, Json>({
  name: 'synapse.query',
  lifecycle: 'synapse',
  validate: (value) => {
    const p = objectParams(value);
    if (typeof p.sql !== 'string') throw new Error('expected { sql: string }');
    return { sql: p.sql };
  },
  async handler(ctx) {
    await work(ctx, 4, 80, 'Query');
    return { concreteType: 'org.sagebionetworks.repo.model.table.QueryResultBundle', queryCount: 42 };
  },
});

export const qiskitSampler = defineJobType<{ shots: number }, Json>({
  name: 'qiskit.sampler',
  lifecycle: 'qiskit',
  validate: (value) => {
    const p = objectParams(value);
    if (typeof p.shots !== 'number' || !Number.isInteger(p.shots) || p.shots < 1) throw new Error('shots must be a positive integer');
    return { shots: p.shots };
  },
  async handler(ctx) {
    await work(ctx, 5, 60, 'Sampling');
    return { counts: { '00': Math.floor(ctx.params.shots / 2), '11': Math.ceil(ctx.params.shots / 2) } };
  },
});

/** Fails its first attempt, succeeds on the second: shows retries with backoff. */
export const flaky = defineJobType<Json, Json>({
  name: 'demo.flaky',
  lifecycle: 'rime',
  attempts: 3,
  backoff: { baseMs: 200 },
  async handler(ctx) {
    await work(ctx, 3, 60, 'Trying');
    if (ctx.attempt === 1) throw new Error('the first attempt always fails');
    return { attempt: ctx.attempt };
  },
});

/** Always fails: shows failure after the last attempt. */
export const broken = defineJobType<Json, Json>({
  name: 'demo.broken',
  lifecycle: 'qiskit',
  attempts: 1,
  async handler(ctx) {
    await work(ctx, 2, 60, 'Calibrating');
    throw new Error('calibration data missing');
  },
});

/** Prepares, sleeps durably (the job stays PROCESSING, its worker slot free), then finishes: shows `ctx.sleep`. */
export const nap = defineJobType<Json, Json>({
  name: 'demo.nap',
  lifecycle: 'synapse',
  async handler(ctx) {
    const prepared = await ctx.step('prepare', async () => {
      await work(ctx, 2, 60, 'Preparing');
      return Date.now();
    });
    await ctx.progress(50, 'Sleeping for 800 ms');
    await ctx.sleep(800);
    await work(ctx, 2, 60, 'Finishing');
    return { sleptMs: Date.now() - prepared };
  },
});

/** What the demo's cron schedule enqueues each second (the demo pauses the schedule after the first). */
export const heartbeat = defineJobType<Json, Json>({
  name: 'demo.heartbeat',
  lifecycle: 'rime',
  async handler(ctx) {
    await work(ctx, 2, 40, 'Beat');
    return { at: new Date().toISOString() };
  },
});

/** One part of the demo's fan-out: a child job its parent spawned. */
export const part = defineJobType<{ part: number }, Json>({
  name: 'demo.part',
  lifecycle: 'rime',
  async handler(ctx) {
    await work(ctx, 3, 60, `Part ${ctx.params.part}`);
    return { part: ctx.params.part };
  },
});

/** Spawns two child jobs (durable steps: a retried or recovered parent never spawns twice) and joins them. */
export const fanout = defineJobType<Json, Json>({
  name: 'demo.fanout',
  lifecycle: 'rime',
  async handler(ctx) {
    const children = [await ctx.spawn('part-1', part, { part: 1 }), await ctx.spawn('part-2', part, { part: 2 })];
    await ctx.progress(50, 'Waiting for 2 parts');
    const outcomes = await ctx.join(children);
    await ctx.progress(100, 'Both parts done');
    return outcomes.map((child) => child.outcome);
  },
});

export const demoJobTypes: readonly AnyJobType[] = [ecotaxaImport, uwsCutout, rimeStressTest, synapseQuery, qiskitSampler, flaky, broken, nap, heartbeat, part, fanout];

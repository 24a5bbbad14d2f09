/**
 * OpenTelemetry through @opentelemetry/api, with no SDK: a minimal in-memory TracerProvider and an
 * AsyncLocalStorage context manager written against the API's interfaces record every span.
 * - A job enqueued inside a span is traced under it: each attempt is a child span (same trace,
 *   parent the enqueuing span) with the job's id, type and attempt, an event per transition and
 *   its outcome; the handler's own spans are the attempt's children.
 * - The trace context survives a restart: enqueued by one instance, run by another opened later.
 * - `telemetry: false` records nothing; a bad traceparent is refused.
 * - Without the package installed (a copy of the sources whose node_modules lacks it, run in a real
 *   process), jobs run as always.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  context, ROOT_CONTEXT, trace, TraceFlags,
  type Context, type ContextManager, type Span, type SpanContext, type SpanOptions, type SpanStatus, type Tracer, type TracerProvider,
  type Attributes, type AttributeValue, type TimeInput, type Link, type Exception,
} from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPhaseline, defineJobType, type Phaseline } from '../src/index.ts';
import { makeTempDir, REPO_ROOT } from './helpers/processes.ts';
import { waitFor } from './helpers/wait.ts';

interface Recorded {
  name: string;
  context: SpanContext;
  parentSpanId: string | null;
  attributes: Attributes;
  events: Array<{ name: string; attributes?: Attributes }>;
  status: SpanStatus;
  ended: boolean;
}

const spans: Recorded[] = [];

class RecordingSpan implements Span {
  readonly record: Recorded;
  constructor(name: string, spanContext: SpanContext, parentSpanId: string | null, attributes: Attributes) {
    this.record = { name, context: spanContext, parentSpanId, attributes: { ...attributes }, events: [], status: { code: 0 }, ended: false };
    spans.push(this.record);
  }
  spanContext(): SpanContext {
    return this.record.context;
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.record.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.record.attributes, attributes);
    return this;
  }
  addEvent(name: string, attributes?: Attributes | TimeInput): this {
    this.record.events.push({ name, ...(attributes && typeof attributes === 'object' && !Array.isArray(attributes) && !(attributes instanceof Date) ? { attributes: attributes as Attributes } : {}) });
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.record.status = status;
    return this;
  }
  updateName(name: string): this {
    this.record.name = name;
    return this;
  }
  end(): void {
    this.record.ended = true;
  }
  isRecording(): boolean {
    return !this.record.ended;
  }
  recordException(_exception: Exception): void {}
}

class RecordingTracer implements Tracer {
  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const parent = trace.getSpanContext(ctx);
    const traceId = parent?.traceId ?? randomBytes(16).toString('hex');
    return new RecordingSpan(name, { traceId, spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED }, parent?.spanId ?? null, options.attributes ?? {});
  }
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args.at(-1) as F;
    const span = this.startSpan(name, (args.length > 1 ? args[0] : {}) as SpanOptions);
    return context.with(trace.setSpan(context.active(), span), () => fn(span)) as ReturnType<F>;
  }
}

class RecordingProvider implements TracerProvider {
  readonly tracer = new RecordingTracer();
  getTracer(): Tracer {
    return this.tracer;
  }
}

class AsyncContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    return ((...args: unknown[]) => this.with(ctx, target as (...a: unknown[]) => unknown, undefined, ...args)) as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

const provider = new RecordingProvider();
beforeAll(() => {
  expect(trace.setGlobalTracerProvider(provider)).toBe(true);
  expect(context.setGlobalContextManager(new AsyncContextManager())).toBe(true);
});
afterAll(() => {
  trace.disable();
  context.disable();
});

const opened: Phaseline[] = [];
afterEach(async () => {
  for (const p of opened.splice(0)) await p.close(0);
  spans.length = 0;
});

const attemptsOf = (jobId: number) => spans.filter((s) => s.attributes['phaseline.job.id'] === jobId);

describe('OpenTelemetry', () => {
  it('a job enqueued in a span: each attempt a child span with id, type, attempt, transition events and outcome; handler spans nest under it', async () => {
    const p = createPhaseline({ db: ':memory:' });
    opened.push(p);
    let calls = 0;
    const type = p.register(defineJobType({
      name: 'traced', lifecycle: 'rime', attempts: 2, backoff: { baseMs: 1, maxMs: 1, jitter: false },
      handler: async (ctx) => {
        provider.tracer.startSpan('inside the handler').end();
        await ctx.progress(50, 'half');
        if (calls++ === 0) throw new Error('first attempt fails');
        return { ok: true };
      },
    }));
    const request = provider.tracer.startSpan('request');
    const id = await context.with(trace.setSpan(context.active(), request), () => p.enqueue(type, null));
    request.end();
    const job = await p.get(id);
    expect(job.traceparent).toBe(`00-${request.spanContext().traceId}-${request.spanContext().spanId}-01`);
    const ended = new Promise<void>((resolve) => p.on('job:ended', () => resolve()));
    p.start({ pollIntervalMs: 5 });
    await ended;
    await waitFor(() => attemptsOf(id).filter((s) => s.ended).length === 2, 5000, 'both attempt spans to end');

    const [first, second] = attemptsOf(id);
    for (const [span, attempt] of [[first!, 1], [second!, 2]] as const) {
      expect(span.name).toBe('phaseline attempt traced');
      expect(span.context.traceId).toBe(request.spanContext().traceId);
      expect(span.parentSpanId).toBe(request.spanContext().spanId);
      expect(span.attributes).toMatchObject({ 'phaseline.job.id': id, 'phaseline.job.type': 'traced', 'phaseline.job.lifecycle': 'rime', 'phaseline.job.attempt': attempt });
    }
    expect(first!.events.map((e) => e.name)).toEqual(['CLAIM', 'PROGRESS', 'FAIL']);
    expect(first!.attributes['phaseline.attempt.outcome']).toBe('failed');
    expect(first!.status).toEqual({ code: 2, message: 'first attempt fails' });
    expect(second!.events.map((e) => e.name)).toEqual(['CLAIM', 'PROGRESS', 'SUCCEED']);
    expect(second!.events.at(-1)!.attributes).toEqual({ 'phaseline.job.state': 'JOB_STATUS_SUCCEEDED' });
    expect(second!.attributes['phaseline.attempt.outcome']).toBe('succeeded');
    expect(second!.status.code).toBe(1);
    // The handler's spans: children of their attempt's span.
    const inner = spans.filter((s) => s.name === 'inside the handler');
    expect(inner.map((s) => s.parentSpanId)).toEqual([first!.context.spanId, second!.context.spanId]);
    expect(new Set(inner.map((s) => s.context.traceId))).toEqual(new Set([request.spanContext().traceId]));
  });

  it('a spawned child is traced under its parent: the child attempt span is a descendant of the parent attempt span, in one trace', async () => {
    const p = createPhaseline({ db: ':memory:' });
    opened.push(p);
    p.register(defineJobType({ name: 'traced.child', lifecycle: 'rime', handler: async () => 'child done' }));
    p.register(defineJobType({
      name: 'traced.parent', lifecycle: 'rime',
      handler: async (ctx) => {
        const child = await ctx.spawn('only', 'traced.child', null);
        return (await ctx.join([child]))[0]!.result;
      },
    }));
    const request = provider.tracer.startSpan('request');
    const id = await context.with(trace.setSpan(context.active(), request), () => p.enqueue('traced.parent', null));
    request.end();
    p.start({ pollIntervalMs: 5, concurrency: 2 });
    await waitFor(async () => (await p.get(id)).terminal, 5000, 'the parent to finish');
    const [childId] = (await p.get(id)).children.map((c) => c.id);
    expect((await p.get(childId!)).state).toBe('JOB_STATUS_SUCCEEDED');
    await waitFor(() => attemptsOf(childId!).some((s) => s.ended), 5000, 'the child attempt span');
    const child = attemptsOf(childId!)[0]!;
    const parentSpans = attemptsOf(id);
    // The child was spawned in the parent's first attempt (the one that parked in its join).
    const byId = new Map(spans.map((s) => [s.context.spanId, s]));
    const ancestors: string[] = [];
    for (let at = child.parentSpanId; at !== null; at = byId.get(at)?.parentSpanId ?? null) ancestors.push(at);
    expect(ancestors[0]).toBe(parentSpans[0]!.context.spanId);
    expect(ancestors).toContain(request.spanContext().spanId);
    expect(child.context.traceId).toBe(request.spanContext().traceId);
    expect((await p.get(childId!)).traceparent).toBe(`00-${request.spanContext().traceId}-${parentSpans[0]!.context.spanId}-01`);
  });

  it('the trace context survives a restart: enqueued by one instance, run by another', async () => {
    const { dir, remove } = makeTempDir('phaseline-otel-');
    try {
      const file = join(dir, 'jobs.db');
      const handler = async () => null;
      const before = createPhaseline({ file });
      before.register(defineJobType({ name: 'later', lifecycle: 'rime', handler }));
      const request = provider.tracer.startSpan('request');
      const id = await context.with(trace.setSpan(ROOT_CONTEXT, request), () => before.enqueue('later', null));
      await before.close();
      const after = createPhaseline({ file });
      opened.push(after);
      after.register(defineJobType({ name: 'later', lifecycle: 'rime', handler }));
      after.start({ pollIntervalMs: 5 });
      await waitFor(() => attemptsOf(id).some((s) => s.ended), 5000, 'the attempt span');
      expect(attemptsOf(id)[0]).toMatchObject({ parentSpanId: request.spanContext().spanId, context: { traceId: request.spanContext().traceId } });
      expect((await after.history(id))[0]!.payload).toMatchObject({ traceparent: `00-${request.spanContext().traceId}-${request.spanContext().spanId}-01` });
      expect(await after.replayAll()).toMatchObject({ jobs: 1, diverged: 0 });
    } finally {
      remove();
    }
  });

  it('a job enqueued outside any span: attempt spans are roots; telemetry: false records nothing; a bad traceparent is refused', async () => {
    const p = createPhaseline({ db: ':memory:' });
    opened.push(p);
    p.register(defineJobType({ name: 'plain', lifecycle: 'rime', handler: async () => null }));
    const id = await p.enqueue('plain', null);
    expect((await p.get(id)).traceparent).toBeNull();
    p.start({ pollIntervalMs: 5 });
    await waitFor(() => attemptsOf(id).some((s) => s.ended), 5000, 'the attempt span');
    expect(attemptsOf(id)[0]!.parentSpanId).toBeNull();

    const off = createPhaseline({ db: ':memory:', telemetry: false });
    opened.push(off);
    off.register(defineJobType({ name: 'plain', lifecycle: 'rime', handler: async () => null }));
    const request = provider.tracer.startSpan('request');
    const quiet = await context.with(trace.setSpan(ROOT_CONTEXT, request), () => off.enqueue('plain', null));
    expect((await off.get(quiet)).traceparent).toBeNull();
    const ended = new Promise<void>((resolve) => off.on('job:ended', () => resolve()));
    off.start({ pollIntervalMs: 5 });
    await ended;
    expect(spans.filter((s) => s.name.startsWith('phaseline')).map((s) => s.attributes['phaseline.job.id'])).toEqual([id]);

    for (const traceparent of ['nonsense', `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`, `01-${'a'.repeat(32)}-${'b'.repeat(16)}-01`]) {
      await expect(p.enqueue('plain', null, { traceparent })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
    const given = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    expect((await p.get(await p.enqueue('plain', null, { traceparent: given }))).traceparent).toBe(given);
  });
});

describe('without @opentelemetry/api installed', () => {
  it('a copy of the sources whose node_modules lacks the package runs jobs, with and without a traceparent', () => {
    const { dir, remove } = makeTempDir('phaseline-no-otel-');
    try {
      for (const folder of ['src', 'machines', 'migrations']) cpSync(join(REPO_ROOT, folder), join(dir, folder), { recursive: true });
      cpSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
      // Every installed package but @opentelemetry/*.
      const modules = join(dir, 'node_modules');
      mkdirSync(modules);
      const installed = join(REPO_ROOT, 'node_modules');
      for (const name of readdirSync(installed)) if (name !== '@opentelemetry') symlinkSync(join(installed, name), join(modules, name));
      writeFileSync(join(dir, 'run.mts'), `
        import { createRequire } from 'node:module';
        let resolvable = true;
        try { createRequire(import.meta.url).resolve('@opentelemetry/api'); } catch { resolvable = false; }
        const { createPhaseline, defineJobType } = await import('./src/index.ts');
        const p = createPhaseline({ db: ':memory:' });
        p.register(defineJobType({ name: 'x', lifecycle: 'rime', handler: async () => 42 }));
        const ids = [await p.enqueue('x', null), await p.enqueue('x', null, { traceparent: '00-${'a'.repeat(32)}-${'b'.repeat(16)}-01' })];
        p.start({ pollIntervalMs: 5 });
        const deadline = Date.now() + 10_000;
        let jobs = [];
        while (Date.now() < deadline) {
          jobs = await Promise.all(ids.map((id) => p.get(id)));
          if (jobs.every((j) => j.outcome === 'succeeded')) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        await p.close();
        console.log(JSON.stringify({ resolvable, results: jobs.map((j) => j.result), traceparents: jobs.map((j) => j.traceparent) }));
      `);
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'run.mts'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout.trim())).toEqual({ resolvable: false, results: [42, 42], traceparents: [null, `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`] });
      expect(result.stderr).toBe('');
    } finally {
      remove();
    }
  }, 90_000);
});

/**
 * Durations beyond setTimeout's 32-bit limit (2^31-1 ms, about 24.8 days). A plain setTimeout
 * with a longer delay fires after 1 ms (TimeoutOverflowWarning): an execution duration of 30 days
 * once aborted its job at once. Here such limits must hold on every lifecycle, and runner options
 * that feed a timer must be refused with INVALID_INPUT when they cannot be honoured.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { Json } from '../machines/common.ts';
import { isPhaselineError } from '../src/errors.ts';
import type { HandlerContext } from '../src/runner/context.ts';
import type { RunnerOptions } from '../src/runner/options.ts';
import { longTimeout, MAX_TIMER_MS } from '../src/runner/timers.ts';
import { deferred, eventsOf, FAST, onCleanup, open, waitFor, waitForState } from './helpers/behaviour-harness.ts';

const LIFECYCLES = ['ecotaxa', 'uws', 'rime', 'synapse', 'qiskit'] as const;
/** 30 days: 2,592,000 s, above the 2,147,483 s a setTimeout can wait. */
const MONTH_S = 30 * 24 * 3600;
const MONTH_MS = MONTH_S * 1000;

describe('longTimeout: a timer for delays above 2^31-1 ms', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('30 days: fires exactly at the deadline, not a millisecond early, and once', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    expect(MONTH_MS).toBeGreaterThan(MAX_TIMER_MS);
    const fired: number[] = [];
    const start = performance.now();
    longTimeout(() => fired.push(performance.now() - start), MONTH_MS);
    vi.advanceTimersByTime(1);
    expect(fired, 'a plain setTimeout would have fired after 1 ms').toEqual([]);
    vi.advanceTimersByTime(MAX_TIMER_MS); // past the first chunk
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(MONTH_MS - MAX_TIMER_MS - 2); // 1 ms before the deadline
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([MONTH_MS]);
    vi.advanceTimersByTime(10 * MONTH_MS);
    expect(fired).toHaveLength(1);
  });

  test('a timer woken before its deadline (as a Node timer may be) waits for the rest', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    let clockLag = 0; // the clock the timer checks runs behind the one that wakes it
    const fired: number[] = [];
    longTimeout(() => fired.push(performance.now()), 1000, () => performance.now() - clockLag);
    clockLag = 3;
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([1003]);
  });

  test('cleared, it never fires: in the first chunk or a later one', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    let fired = 0;
    longTimeout(() => fired++, MONTH_MS).clear();
    const later = longTimeout(() => fired++, MONTH_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    later.clear();
    vi.advanceTimersByTime(2 * MONTH_MS);
    expect(fired).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('an execution duration of 30 days', () => {
  test('every lifecycle, from the type and from enqueue: the job keeps running, and succeeds when released', async () => {
    const overflows: Error[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning);
    };
    process.on('warning', onWarning);
    onCleanup(() => process.off('warning', onWarning));
    const release = deferred();
    onCleanup(() => release.resolve());
    const started = new Set<number>();
    const aborted = new Set<number>();
    const handler = async (ctx: HandlerContext<Json>): Promise<Json> => {
      started.add(ctx.job.id);
      ctx.signal.addEventListener('abort', () => aborted.add(ctx.job.id));
      await release.promise;
      return { ok: true };
    };
    const p = await open();
    // One attempt: a timeout would end the job (UWS ABORTED, the others failed), not hide behind a retry.
    for (const lifecycle of LIFECYCLES) {
      p.register({ name: `${lifecycle}-typed`, lifecycle, attempts: 1, executionDuration: MONTH_S, handler });
      p.register({ name: `${lifecycle}-plain`, lifecycle, attempts: 1, handler });
    }
    p.start({ ...FAST, concurrency: 2 * LIFECYCLES.length });
    const ids: number[] = [];
    for (const lifecycle of LIFECYCLES) {
      ids.push(await p.enqueue(`${lifecycle}-typed`, null));
      ids.push(await p.enqueue(`${lifecycle}-plain`, null, { executionDuration: MONTH_S }));
    }
    for (const id of ids) expect((await p.get(id)).executionDuration).toBe(MONTH_S);
    await waitFor(() => started.size === ids.length, 3000, 'every handler started');
    // Past the point where the overflowing timer aborted them (1 ms), by a wide margin.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const id of ids) {
      const job = await p.get(id);
      expect({ id, lifecycle: job.lifecycle, running: job.running, terminal: job.terminal, errors: job.errors }).toEqual({
        id, lifecycle: job.lifecycle, running: true, terminal: false, errors: [],
      });
      expect(eventsOf(await p.history(id), 'TIMEOUT'), `job ${id} (${job.lifecycle})`).toEqual([]);
    }
    expect([...aborted], 'no handler was signalled').toEqual([]);
    release.resolve();
    for (const id of ids) {
      const job = await waitForState(p, id, (j) => j.terminal, 3000);
      expect({ id, outcome: job.outcome, result: job.result }).toEqual({ id, outcome: 'succeeded', result: { ok: true } });
      expect(eventsOf(await p.history(id), 'TIMEOUT')).toEqual([]);
    }
    expect(overflows).toEqual([]);
  }, 10_000);
});

describe('runner options that feed a timer are checked at start', () => {
  const refused = async (options: RunnerOptions, field: string) => {
    const p = await open();
    p.register({ name: 'job', lifecycle: 'uws', handler: async () => null });
    let error: unknown;
    try {
      p.start(options);
    } catch (caught) {
      error = caught;
    }
    expect(isPhaselineError(error, 'INVALID_INPUT'), `${JSON.stringify(options)}: ${String(error)}`).toBe(true);
    expect((error as { field: string }).field).toBe(field);
  };

  test.each([
    ['pollIntervalMs 2^31', { pollIntervalMs: MAX_TIMER_MS + 1 }, 'pollIntervalMs'],
    ['pollIntervalMs -1', { pollIntervalMs: -1 }, 'pollIntervalMs'],
    ['pollIntervalMs NaN', { pollIntervalMs: Number.NaN }, 'pollIntervalMs'],
    ['heartbeatMs 2^31 (under a longer lease)', { heartbeatMs: MAX_TIMER_MS + 1, leaseMs: 2 * MAX_TIMER_MS }, 'heartbeatMs'],
    ['heartbeatMs 0', { heartbeatMs: 0 }, 'heartbeatMs'],
    ['heartbeatMs equal to leaseMs', { heartbeatMs: 1000, leaseMs: 1000 }, 'heartbeatMs'],
    ['leaseMs 0', { leaseMs: 0 }, 'leaseMs'],
    ['leaseMs 1.5', { leaseMs: 1.5 }, 'leaseMs'],
    ['leaseMs 1 (no heartbeat fits inside it)', { leaseMs: 1 }, 'leaseMs'],
    ['leaseMs Infinity', { leaseMs: Number.POSITIVE_INFINITY }, 'leaseMs'],
    ['progressIntervalMs 2^31', { progressIntervalMs: MAX_TIMER_MS + 1 }, 'progressIntervalMs'],
    ['cancelGraceMs Infinity', { cancelGraceMs: Number.POSITIVE_INFINITY }, 'cancelGraceMs'],
    ['cancelGraceMs -5', { cancelGraceMs: -5 }, 'cancelGraceMs'],
    ['concurrency 0', { concurrency: 0 }, 'concurrency'],
    ['sweep.retentionMs NaN', { sweep: { retentionMs: Number.NaN } }, 'sweep.retentionMs'],
    ['sweep.batch 0', { sweep: { batch: 0 } }, 'sweep.batch'],
  ] as Array<[string, RunnerOptions, string]>)('%s → INVALID_INPUT', (_label, options, field) => refused(options, field));

  test('a lease of 300 days gets a heartbeat setInterval can keep (not one every millisecond)', async () => {
    const overflows: Error[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning);
    };
    process.on('warning', onWarning);
    onCleanup(() => process.off('warning', onWarning));
    const p = await open();
    const release = deferred();
    onCleanup(() => release.resolve());
    p.register({ name: 'job', lifecycle: 'rime', handler: async () => (await release.promise, null) });
    p.start({ pollIntervalMs: 10, leaseMs: 10 * MONTH_MS, cancelGraceMs: MONTH_MS }); // a third of it overflows
    const id = await p.enqueue('job', null);
    const running = await waitForState(p, id, 'JOB_STATUS_RUNNING');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // An interval that overflowed would renew the lease every millisecond.
    expect((await p.get(id)).lease).toEqual(running.lease);
    release.resolve();
    await waitForState(p, id, 'JOB_STATUS_SUCCEEDED');
    expect(overflows).toEqual([]);
  });
});

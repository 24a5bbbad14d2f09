/**
 * Bad input and refused commands: each is a typed error, and nothing is written (the raw row and
 * the history are byte-for-byte what they were).
 */
import { describe, expect, test } from 'vitest';
import type { Phaseline } from '../src/phaseline.ts';
import type { StandardSchemaLike } from '../src/jobtypes.ts';
import { isPhaselineError } from '../src/errors.ts';
import { FAST, countRows, open, rawHistory, rawRow, waitForState } from './helpers/behaviour-harness.ts';

/** Expect `promise` to reject with a Phaseline error of `code`; returns it. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error & { code: string }> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a ${code} error, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(isPhaselineError(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as Error & { code: string };
}

/** Take the raw row and history now; `unchanged()` asserts neither moved. */
async function snapshotOf(p: Phaseline, id: number) {
  const row = await rawRow(p, id);
  const history = await rawHistory(p, id);
  expect(row).toBeDefined();
  return {
    async unchanged() {
      expect(await rawRow(p, id)).toEqual(row);
      expect(await rawHistory(p, id)).toEqual(history);
    },
  };
}

describe('enqueue refuses bad input and writes nothing', () => {
  test('unknown job type → UNKNOWN_JOB_TYPE', async () => {
    const p = await open();
    p.register({ name: 'known', lifecycle: 'ecotaxa', handler: async () => null });
    const error = await rejectsWith(p.enqueue('unknown', { a: 1 }), 'UNKNOWN_JOB_TYPE');
    expect(error.message).toMatch(/unknown/);
    await rejectsWith(p.enqueueMany('unknown', [{ params: 1 }]), 'UNKNOWN_JOB_TYPE');
    expect(await countRows(p, 'jobs')).toBe(0);
    expect(await countRows(p, 'job_events')).toBe(0);
  });

  test('invalid parameters, plain-function validator → INVALID_INPUT with its message; no row', async () => {
    const p = await open();
    p.register<{ n: number }, null>({
      name: 'fn',
      lifecycle: 'uws',
      validate: (params) => {
        const n = (params as { n?: unknown } | null)?.n;
        if (typeof n !== 'number') throw new Error('n must be a number');
        return { n };
      },
      handler: async () => null,
    });
    const error = await rejectsWith(p.enqueue('fn', { n: 'seven' } as never), 'INVALID_INPUT');
    expect(error.message).toMatch(/n must be a number/);
    await rejectsWith(p.enqueue('fn', null as never), 'INVALID_INPUT');
    expect(await countRows(p, 'jobs')).toBe(0);
    expect(await countRows(p, 'job_events')).toBe(0);
    // enqueueMany is all or nothing: one bad item, no rows.
    await rejectsWith(p.enqueueMany('fn', [{ params: { n: 1 } }, { params: { n: 'x' } as never }]), 'INVALID_INPUT');
    expect(await countRows(p, 'jobs')).toBe(0);
    expect(await countRows(p, 'job_events')).toBe(0);
    // A valid one goes through, as the validator returned it.
    const id = await p.enqueue('fn', { n: 7, extra: true } as never);
    expect((await p.get(id)).params).toEqual({ n: 7 });
    expect(await countRows(p, 'jobs')).toBe(1);
  });

  test('invalid parameters, Standard Schema object → INVALID_INPUT with its issues; no row', async () => {
    const p = await open();
    let calls = 0;
    const schema: StandardSchemaLike<{ size: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value: unknown) => {
          calls++;
          const size = (value as { size?: unknown } | null)?.size;
          if (typeof size === 'number' && size > 0) return { value: { size: Math.round(size) } };
          if (typeof size === 'string' && /^\d+$/.test(size)) return { value: { size: Number(size) } };
          return { issues: [{ message: 'must be a positive number', path: ['size'] }, { message: 'see docs', path: [{ key: 'size' }] }] };
        },
      },
    };
    p.register({ name: 'schema', lifecycle: 'rime', validate: schema, handler: async () => null });
    const error = await rejectsWith(p.enqueue('schema', { size: -1 } as never), 'INVALID_INPUT');
    expect(error.message).toMatch(/size: must be a positive number/);
    expect(error.message).toMatch(/size: see docs/);
    await rejectsWith(p.enqueue('schema', 'nonsense' as never), 'INVALID_INPUT');
    expect(calls).toBe(2);
    expect(await countRows(p, 'jobs')).toBe(0);
    expect(await countRows(p, 'job_events')).toBe(0);
    // Its output, not its input, is stored.
    const id = await p.enqueue('schema', { size: '12' } as never);
    expect((await p.get(id)).params).toEqual({ size: 12 });
    expect(await countRows(p, 'jobs')).toBe(1);
  });

  test('an asynchronous Standard Schema is refused (INVALID_INPUT), not silently accepted', async () => {
    const p = await open();
    const schema = { '~standard': { version: 1, vendor: 'test', validate: async (value: unknown) => ({ value }) } } as const;
    p.register({ name: 'async', lifecycle: 'qiskit', validate: schema as never, handler: async () => null });
    const error = await rejectsWith(p.enqueue('async', { a: 1 }), 'INVALID_INPUT');
    expect(error.message).toMatch(/asynchronous/);
    expect(await countRows(p, 'jobs')).toBe(0);
  });
});

describe('refused commands leave row and history unchanged', () => {
  test('reply to a job that is not waiting → ILLEGAL_TRANSITION', async () => {
    const p = await open();
    p.register({ name: 'job', lifecycle: 'ecotaxa', handler: async () => null });
    const id = await p.enqueue('job', null); // P, no workers
    const before = await snapshotOf(p, id);
    const error = await rejectsWith(p.reply(id, { late: true }), 'ILLEGAL_TRANSITION');
    expect(error.message).toMatch(/REPLY/);
    await before.unchanged();
  });

  test('reply to a running job → ILLEGAL_TRANSITION', async () => {
    const p = await open();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    p.register({ name: 'job', lifecycle: 'ecotaxa', handler: async () => (await gate, null) });
    p.start({ ...FAST, leaseMs: 30_000, heartbeatMs: 10_000 }); // no heartbeat writes during the check
    const id = await p.enqueue('job', null);
    await waitForState(p, id, 'R');
    const before = await snapshotOf(p, id);
    await rejectsWith(p.reply(id, 1), 'ILLEGAL_TRANSITION');
    await before.unchanged();
    release();
    await waitForState(p, id, 'F');
  });

  test('cancel of a finished job → ILLEGAL_TRANSITION (succeeded, failed, cancelled)', async () => {
    const p = await open();
    p.register({ name: 'ok', lifecycle: 'uws', handler: async () => ({ fine: true }) });
    p.register({ name: 'bad', lifecycle: 'synapse', attempts: 1, handler: async () => Promise.reject(new Error('no')) });
    p.register({ name: 'gone', lifecycle: 'qiskit', handler: async () => null });
    p.start(FAST);
    const ok = await p.enqueue('ok', null);
    const bad = await p.enqueue('bad', null);
    await waitForState(p, ok, 'COMPLETED');
    await waitForState(p, bad, 'FAILED');
    await p.stop();
    const gone = await p.enqueue('gone', null);
    await p.cancel(gone);
    for (const id of [ok, bad, gone]) {
      const before = await snapshotOf(p, id);
      const error = await rejectsWith(p.cancel(id), 'ILLEGAL_TRANSITION');
      expect(error.message).toMatch(/CANCEL/);
      await before.unchanged();
    }
  });

  test('wrong owner on get, history, reply, cancel, send, delete → WRONG_OWNER', async () => {
    const p = await open();
    p.register({
      name: 'job',
      lifecycle: 'ecotaxa',
      handler: async (ctx) => ({ answer: await ctx.ask<number>('which?') }),
    });
    p.start(FAST);
    const id = await p.enqueue('job', null, { owner: 'alice' });
    await waitForState(p, id, 'A'); // waiting: a reply by the right owner would be accepted
    const before = await snapshotOf(p, id);
    for (const owner of ['bob', null]) {
      await rejectsWith(p.get(id, { owner }), 'WRONG_OWNER');
      await rejectsWith(p.history(id, { owner }), 'WRONG_OWNER');
      await rejectsWith(p.reply(id, 1, { owner }), 'WRONG_OWNER');
      await rejectsWith(p.cancel(id, { owner }), 'WRONG_OWNER');
      await rejectsWith(p.send(id, { type: 'KILL' }, { owner }), 'WRONG_OWNER');
      await rejectsWith(p.delete(id, { owner }), 'WRONG_OWNER');
    }
    await before.unchanged();
    // The owner herself is served.
    expect((await p.get(id, { owner: 'alice' })).state).toBe('A');
    expect((await p.history(id, { owner: 'alice' })).length).toBeGreaterThan(0);
    await p.reply(id, 3, { owner: 'alice' });
    const done = await waitForState(p, id, 'F');
    expect(done.result).toEqual({ answer: 3 });
  });

  test('unknown job id → JOB_NOT_FOUND; stale expectVersion → STALE_VERSION; nothing written', async () => {
    const p = await open();
    p.register({ name: 'job', lifecycle: 'uws', handler: async () => null });
    const id = await p.enqueue('job', null, { start: false }); // PENDING draft
    const before = await snapshotOf(p, id);
    await rejectsWith(p.get(id + 100), 'JOB_NOT_FOUND');
    await rejectsWith(p.cancel(id + 100), 'JOB_NOT_FOUND');
    const { version } = await p.get(id);
    await rejectsWith(p.send(id, { type: 'RUN' }, { expectVersion: version - 1 }), 'STALE_VERSION');
    await before.unchanged();
    expect(await countRows(p, 'jobs')).toBe(1);
  });
});

/**
 * phaseline/testing's harness for handler tests: a Phaseline on `:memory:` whose clock only the test
 * moves. Handlers run inside drain() and waitFor() only; advancing the clock is what makes a retry,
 * a delayed job and a destruction due; the same test gives the same transitions every run; a
 * handler that never returns ends the drain with an error that names its job.
 */
import { describe, expect, it } from 'vitest';
import type { Json } from '../machines/index.ts';
import { defineJobType, type HandlerContext } from '../src/index.ts';
import { createTestHarness, HarnessError, HarnessTimeoutError, type TestHarness } from '../src/testing/index.ts';
import { review } from './support/review.ts';

/** The README's document review (test/support/review.ts). */
const reviewLifecycle = review();

const MINUTE = 60_000;

async function using<T>(harness: TestHarness, fn: (h: TestHarness) => Promise<T>): Promise<T> {
  try {
    return await fn(harness);
  } finally {
    await harness.close();
  }
}

describe('createTestHarness', () => {
  it('runs a handler that asks: drain leaves it waiting, a reply and another drain finish it; the recorder saw every transition', () =>
    using(
      createTestHarness({
        lifecycles: [reviewLifecycle],
        types: [defineJobType<{ doc: string }, { approved: boolean }>({
          name: 'review.document', lifecycle: 'review',
          handler: async (ctx) => {
            await ctx.progress(50, 'read');
            const verdict = await ctx.ask({ question: `approve ${ctx.params.doc}?` });
            return { approved: verdict === 'yes' };
          },
        })],
      }),
      async (h) => {
        const id = await h.phaseline.enqueue('review.document', { doc: 'spec.pdf' });
        expect((await h.phaseline.get(id)).state).toBe('queued'); // nothing runs before a drain
        const report = await h.drain();
        expect(report.transitions).toBe(3);
        expect(await h.phaseline.get(id)).toMatchObject({ state: 'needs_answer', waiting: true, question: { question: 'approve spec.pdf?' } });
        await h.phaseline.reply(id, 'yes');
        await h.drain();
        expect(await h.phaseline.get(id)).toMatchObject({ state: 'approved', result: { approved: true }, attempt: 1 });
        expect(h.events.transitions(id)).toEqual([
          'CREATE: - → queued', 'CLAIM: queued → in_review', 'PROGRESS: in_review → in_review', 'ASK: in_review → needs_answer',
          // Re-entered after the reply: the progress report outside a step runs again, the ask returns the reply.
          'REPLY: needs_answer → queued', 'CLAIM: queued → in_review', 'PROGRESS: in_review → in_review', 'SUCCEED: in_review → approved',
        ]);
        expect(h.events.of('job:ended').map((e) => e.payload.job.state)).toEqual(['approved']);
        expect(h.events.of('job:transition').every((e) => e.at === h.clock.now())).toBe(true); // the clock never moved
        expect((await h.phaseline.replay(id)).divergences).toEqual([]);
      },
    ));

  it('makes retries and delayed jobs due only when the clock is advanced, and the same test gives the same history every run', async () => {
    async function scenario(): Promise<{ history: string[]; instants: number[] }> {
      let calls = 0;
      const flaky = defineJobType({
        name: 'flaky', lifecycle: 'rime', attempts: 3, backoff: { baseMs: MINUTE },
        handler: async () => {
          if (++calls < 3) throw new Error(`attempt ${calls} fails`);
          return { calls };
        },
      });
      const later = defineJobType({ name: 'later', lifecycle: 'qiskit', handler: async () => 'done' });
      return using(createTestHarness({ types: [flaky, later] }), async (h) => {
        const id = await h.phaseline.enqueue(flaky, {});
        const delayed = await h.phaseline.enqueue(later, {}, { delayMs: 10 * MINUTE });
        await h.drain();
        // Backoff with a constant jitter of 0.5: three quarters of one minute, then of two.
        expect(await h.phaseline.get(id)).toMatchObject({ state: 'JOB_STATUS_PENDING', attempt: 1, runAfter: h.clock.now() + 45_000 });
        h.clock.advance(44_999);
        expect((await h.drain()).transitions).toBe(0);
        h.clock.advance(1);
        await h.drain();
        expect(await h.phaseline.get(id)).toMatchObject({ attempt: 2, runAfter: h.clock.now() + 90_000 });
        h.clock.advance(90_000);
        await h.drain();
        expect(await h.phaseline.get(id)).toMatchObject({ state: 'JOB_STATUS_SUCCEEDED', attempt: 3, result: { calls: 3 } });
        expect((await h.phaseline.get(delayed)).state).toBe('QUEUED');
        h.clock.set(Date.UTC(2026, 0, 1) + 10 * MINUTE);
        const job = await h.waitFor(delayed, (j) => j.terminal);
        expect(job).toMatchObject({ state: 'DONE', result: 'done' });
        const all = [...await h.phaseline.history(id), ...await h.phaseline.history(delayed)];
        return { history: all.map((e) => `${e.jobId} ${e.type} ${e.stateAfter}`), instants: all.map((e) => e.at) };
      });
    }
    const first = await scenario();
    expect(first.history).toEqual([
      '1 CREATE JOB_STATUS_REQUESTED', '1 ADMIT JOB_STATUS_PENDING',
      '1 CLAIM JOB_STATUS_RUNNING', '1 FAIL JOB_STATUS_PENDING',
      '1 CLAIM JOB_STATUS_RUNNING', '1 FAIL JOB_STATUS_PENDING',
      '1 CLAIM JOB_STATUS_RUNNING', '1 SUCCEED JOB_STATUS_SUCCEEDED',
      '2 CREATE INITIALIZING', '2 QUEUE QUEUED', '2 CLAIM VALIDATING', '2 VALIDATED RUNNING', '2 SUCCEED DONE',
    ]);
    expect(await scenario()).toEqual(first);
  });

  it('makes destruction due when the clock reaches it: a UWS job is archived, a RIME job deleted', () =>
    using(
      createTestHarness({
        types: [
          defineJobType({ name: 'cutout', lifecycle: 'uws', handler: async () => ({ url: 'x' }) }),
          defineJobType({ name: 'scan', lifecycle: 'rime', handler: async () => null }),
        ],
      }),
      async (h) => {
        const destruction = h.clock.now() + 60 * MINUTE;
        const uwsJob = await h.phaseline.enqueue('cutout', {}, { destruction });
        const rimeJob = await h.phaseline.enqueue('scan', {}, { destruction });
        await h.drain();
        expect((await h.phaseline.get(uwsJob)).state).toBe('COMPLETED');
        h.clock.advance(60 * MINUTE - 1);
        await h.drain();
        expect((await h.phaseline.get(uwsJob)).state).toBe('COMPLETED');
        h.clock.advance(1);
        await h.drain();
        expect(await h.phaseline.get(uwsJob)).toMatchObject({ state: 'ARCHIVED', result: null });
        await expect(h.phaseline.get(rimeJob)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
        expect(h.events.of('job:deleted').map((e) => e.payload.jobIds)).toEqual([[rimeJob]]);
      },
    ));

  it('waitFor resolves with the job once it matches, and says so when nothing due can make it match', () =>
    using(
      createTestHarness({
        lifecycles: [reviewLifecycle],
        types: [defineJobType({ name: 'asks', lifecycle: 'review', handler: async (ctx: HandlerContext<Json>) => ctx.ask('ok?') })],
      }),
      async (h) => {
        const id = await h.phaseline.enqueue('asks', {});
        const waiting = await h.waitFor(id, (job) => job.waiting);
        expect(waiting).toMatchObject({ state: 'needs_answer', question: 'ok?' });
        const error = await h.waitFor(id, (job) => job.terminal).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(HarnessError);
        expect((error as Error).message).toMatch(/waitFor\(1\): nothing more is due at 2026-01-01T00:00:00.000Z and the job \(needs_answer, version 3\) does not match; advance the clock\?/);
        await h.phaseline.reply(id, 'yes');
        expect(await h.waitFor(id, (job) => job.terminal)).toMatchObject({ state: 'approved', result: 'yes' });
      },
    ));

  it('ends a drain whose handler never returns with a HarnessTimeoutError naming the job; its job is released to the queue', () =>
    using(
      createTestHarness({ types: [defineJobType({ name: 'hangs', lifecycle: 'rime', handler: () => new Promise<null>(() => {}) })] }),
      async (h) => {
        const id = await h.phaseline.enqueue('hangs', {});
        const error = await h.drain({ timeoutMs: 200 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(HarnessTimeoutError);
        expect((error as HarnessTimeoutError).running).toEqual([id]);
        expect((error as Error).message).toMatch(/the handler of job 1 \(JOB_STATUS_RUNNING\) has not returned.*does not expire leases/);
        expect(await h.phaseline.get(id)).toMatchObject({ state: 'JOB_STATUS_PENDING', attempt: 1 });
        expect(h.events.transitions(id).at(-1)).toBe('RELEASE: JOB_STATUS_RUNNING → JOB_STATUS_PENDING');
      },
    ));

  it('refuses what it cannot do: a drain during a drain, a clock moved backwards by advance, calls after close', async () => {
    const h = createTestHarness();
    const first = h.drain();
    await expect(h.drain()).rejects.toThrow(/another drain or waitFor is running/);
    await first;
    expect(() => h.clock.advance(-1)).toThrow(/at least 0/);
    expect(h.clock.set(h.clock.now() - 1_000)).toBe(Date.UTC(2026, 0, 1) - 1_000); // a clock may step back
    await h.close();
    await expect(h.drain()).rejects.toThrow(/the harness is closed/);
  });
});

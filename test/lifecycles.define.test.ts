/**
 * A user's own lifecycle: defineLifecycle supplies what the engine needs, and registration refuses,
 * at createPhaseline or register and with what is wrong, what would otherwise fail at the first
 * enqueue or silently: a machine without a job context, a built-in's name, a version registered
 * twice, a start event the machine refuses, `attempts` on a lifecycle that cannot retry.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assign, setup, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { builtInLifecycles, defineLifecycle, reduceJob, type JobContext, type Lifecycle } from '../machines/index.ts';
import { createPhaseline, defineJobType, InvalidInputError, type Phaseline } from '../src/index.ts';
import { createHttpApp } from '../src/http/index.ts';
import { tempDir } from './support/sqlite.ts';

const states = {
  queued: { tags: ['queued'], on: { CLAIM: { target: 'working', actions: 'apply' }, CANCEL: { target: 'dropped', actions: 'apply' } } },
  working: {
    tags: ['running'],
    on: {
      PROGRESS: { actions: 'apply' },
      SUCCEED: { target: 'done', actions: ['apply', 'stamp'] },
      FAIL: [{ guard: 'willRetry', target: 'queued', actions: 'apply' }, { target: 'broken', actions: 'apply' }],
    },
  },
  done: { type: 'final', tags: ['terminal', 'succeeded'] },
  broken: { type: 'final', tags: ['terminal', 'failed'] },
  dropped: { type: 'final', tags: ['terminal', 'cancelled'] },
};

const actions = { stamp: ({ context }: { context: JobContext }) => ({ progress: { ...context.progress, message: 'stamped' } }) };
const chore = defineLifecycle({ name: 'chore', version: 1, initial: 'queued', states, actions });

function refusal(make: () => unknown): InvalidInputError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error('expected a refusal');
}

async function ended(phaseline: Phaseline, id: number) {
  for (let i = 0; i < 400; i++) {
    const job = await phaseline.get(id);
    if (job.terminal) return job;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`job ${id} did not end`);
}

describe('defineLifecycle', () => {
  it('makes a lifecycle that runs, retries, uses its own actions and replays exactly', async () => {
    const phaseline = createPhaseline({ file: ':memory:', lifecycles: [chore] });
    let calls = 0;
    phaseline.register(defineJobType({
      name: 'chore.flaky', lifecycle: 'chore', attempts: 2, backoff: { baseMs: 1, jitter: false },
      handler: async () => {
        if (++calls === 1) throw new Error('first attempt fails');
        return { calls };
      },
    }));
    const id = await phaseline.enqueue('chore.flaky', { n: 1 });
    phaseline.start({ pollIntervalMs: 5 });
    const job = await ended(phaseline, id);
    expect(job).toMatchObject({ state: 'done', outcome: 'succeeded', attempt: 2, result: { calls: 2 } });
    expect(job.progress).toMatchObject({ percent: 100, message: 'stamped' });
    expect((await phaseline.history(id)).map((e) => e.type)).toEqual(['CREATE', 'CLAIM', 'FAIL', 'CLAIM', 'SUCCEED']);
    expect((await phaseline.replay(id)).divergences).toEqual([]);
    await phaseline.close();
  });
});

describe('registration refuses, with what is wrong', () => {
  it('a hand-written machine whose context is not built from the input (at createPhaseline, not at enqueue)', () => {
    const machine = setup({ actions: { apply: assign(({ context, event }) => reduceJob(context as JobContext, event)) } }).createMachine({
      id: 'bare', initial: 'queued', context: { params: null },
      states: { queued: { tags: ['queued'], on: { CLAIM: 'done' } }, done: { type: 'final', tags: ['terminal', 'succeeded'] } },
    });
    const file = join(tempDir('define'), 'never-created.db');
    const error = refusal(() => createPhaseline({ file, lifecycles: [{ name: 'bare', version: 1, machine: machine as unknown as AnyStateMachine }] }));
    expect(existsSync(file)).toBe(false); // refused before a database was made for it
    expect(error.message).toMatch(/lifecycle bare.*context lacks result, errors, progress/);
    expect(error.message).toMatch(/initialContext\(input\)/);
  });

  it('an action or guard name that nothing implements (XState would skip the one and throw mid-run on the other)', () => {
    const typo = defineLifecycle({
      name: 'typo', version: 1, initial: 'queued',
      states: {
        ...states,
        queued: { tags: ['queued'], entry: 'greet', on: { CLAIM: { target: 'working', actions: ['apply', 'aply'] } } },
        working: { tags: ['running'], on: { SUCCEED: { target: 'done', actions: 'apply' }, FAIL: [{ guard: 'willretry', target: 'queued', actions: 'apply' }, { target: 'broken', actions: 'apply' }] } },
      },
    });
    const error = refusal(() => createPhaseline({ file: ':memory:', lifecycles: [typo] }));
    expect(error.message).toMatch(/state queued names the action "greet", which is not implemented/);
    expect(error.message).toMatch(/CLAIM in queued names the action "aply", which is not implemented/);
    expect(error.message).toMatch(/FAIL in working names the guard "willretry", which is not implemented/);
    expect(error.message).toMatch(/known actions: apply; guards: willRetry, keepsParams, cancelRequested/);
  });

  it('an archiveEvent that destruction could never settle: archived only on part of a state, or a terminal state that refuses it', () => {
    const shelf = { type: 'final', tags: ['archived'] };
    const partly = defineLifecycle({
      name: 'partly', version: 1, initial: 'queued', archiveEvent: 'ARCHIVE', actions,
      states: { ...states, done: { tags: ['terminal', 'succeeded'], initial: 'fresh', states: { fresh: { on: { ARCHIVE: 'shelved' } }, shelved: shelf } } },
    });
    expect(refusal(() => createPhaseline({ file: ':memory:', lifecycles: [partly] })).message).toMatch(/no top-level state tagged archived/);
    const leaky = defineLifecycle({
      name: 'leaky', version: 1, initial: 'queued', archiveEvent: 'ARCHIVE', actions,
      states: {
        ...states,
        done: { type: 'final', tags: ['terminal', 'succeeded'], on: { ARCHIVE: 'shelved' } },
        shelved: { type: 'final', tags: ['terminal', 'succeeded', 'archived'] },
      },
    });
    expect(refusal(() => createPhaseline({ file: ':memory:', lifecycles: [leaky] })).message).toMatch(/terminal state broken, dropped does not accept the archiveEvent ARCHIVE/);
  });

  it('a built-in name, unless replacing it is asked for', () => {
    const mine = defineLifecycle({ name: 'uws', version: 1, initial: 'queued', states, actions });
    expect(refusal(() => createPhaseline({ file: ':memory:', lifecycles: [mine] })).message).toMatch(/uws is a built-in lifecycle.*replaceBuiltIn/);
    const replaced = defineLifecycle({ name: 'uws', version: 1, initial: 'queued', states, actions, replaceBuiltIn: true });
    const phaseline = createPhaseline({ file: ':memory:', lifecycles: [replaced] });
    phaseline.register(defineJobType({ name: 'u', lifecycle: 'uws', handler: async () => null }));
    return phaseline.enqueue('u', {}).then(async (id) => {
      expect((await phaseline.get(id)).state).toBe('queued'); // the replacement's state, not UWS's
      await phaseline.close();
    });
  });

  it('a name and version registered twice', () => {
    const again = defineLifecycle({ name: 'chore', version: 1, initial: 'queued', states, actions });
    expect(refusal(() => createPhaseline({ file: ':memory:', lifecycles: [chore, again] })).message).toMatch(/version 1 is registered already/);
    // A new version beside the old one is how a machine changes.
    const next = defineLifecycle({ name: 'chore', version: 2, initial: 'queued', states, actions });
    void createPhaseline({ file: ':memory:', lifecycles: [chore, next] }).close();
  });

  it('a start event the new job does not accept, a missing name or version, something that is not a machine', () => {
    expect(refusal(() => createPhaseline({ file: ':memory:', lifecycles: [{ ...chore, startEvents: ['RUN'] }] })).message).toMatch(/start event "RUN" is not accepted/);
    expect(refusal(() => createPhaseline({ file: ':memory:', lifecycles: [{ ...chore, version: 0 }] })).message).toMatch(/needs a version/);
    expect(refusal(() => createPhaseline({ file: ':memory:', lifecycles: [{ ...chore, name: '' }] })).message).toMatch(/needs a name/);
    expect(refusal(() => createPhaseline({ file: ':memory:', lifecycles: [{ name: 'x', version: 1, machine: {} } as unknown as Lifecycle] })).message).toMatch(/needs an XState v5 machine/);
  });

  it('attempts above 1 on a lifecycle that never retries; attempts 1 is fine', async () => {
    const once = defineLifecycle({
      name: 'once', version: 1, initial: 'queued',
      states: { ...states, working: { tags: ['running'], on: { SUCCEED: { target: 'done', actions: 'apply' }, FAIL: { target: 'broken', actions: 'apply' } } } },
    });
    const phaseline = createPhaseline({ file: ':memory:', lifecycles: [once] });
    expect(refusal(() => phaseline.register(defineJobType({ name: 'o', lifecycle: 'once', attempts: 3, handler: async () => null }))).message).toMatch(/never retries a failed attempt/);
    expect(phaseline.jobTypes()).toEqual([]);
    phaseline.register(defineJobType({ name: 'o', lifecycle: 'once', attempts: 1, handler: async () => null }));
    // attempts left to its default: one on a lifecycle that cannot retry, instead of a refusal.
    expect(phaseline.register(defineJobType({ name: 'o2', lifecycle: 'once', handler: async () => null })).attempts).toBe(1);
    expect(phaseline.register({ name: 'o3', lifecycle: 'once', handler: async () => null }).attempts).toBe(1);
    // Every built-in lifecycle retries.
    for (const name of Object.keys(builtInLifecycles)) phaseline.register(defineJobType({ name: `b.${name}`, lifecycle: name, attempts: 3, handler: async () => null }));
    await phaseline.close();
  });
});

describe('get through a job type', () => {
  it('returns the job typed by its type, and refuses a job of another type as not found', async () => {
    const phaseline = createPhaseline({ file: ':memory:' });
    const resize = phaseline.register(defineJobType<{ url: string }, { bytes: number }>({ name: 'resize', lifecycle: 'rime', handler: async (ctx) => ({ bytes: ctx.params.url.length }) }));
    const other = phaseline.register(defineJobType({ name: 'other', lifecycle: 'rime', handler: async () => null }));
    const id = await phaseline.enqueue(resize, { url: 'abc' });
    const job = await phaseline.get(id, { type: resize });
    expect(job.params.url).toBe('abc');
    await expect(phaseline.get(id, { type: other })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND', message: `No job with id ${id} of type other` });
    // One name, one type: a second registration of another handler is refused; the same type again is fine.
    expect(() => phaseline.register(defineJobType({ name: 'resize', lifecycle: 'qiskit', handler: async () => null }))).toThrow(/job type resize.*registered already/);
    expect(() => phaseline.register(resize)).not.toThrow();
    expect(phaseline.jobTypes().filter((t) => t.name === 'resize')).toHaveLength(1);
    await phaseline.close();
  });
});

describe('values that are not JSON', () => {
  it('a Date in the parameters is refused at enqueue, saying what it is and what to store instead; nothing is written', async () => {
    const phaseline = createPhaseline({ file: ':memory:' });
    phaseline.register(defineJobType<{ when: unknown }>({ name: 'at', lifecycle: 'rime', handler: async () => null }));
    await expect(phaseline.enqueue('at', { when: new Date(0) })).rejects.toThrow(/params\.when: must be JSON: a Date is not a plain object \(store the instant as an ISO string/);
    await expect(phaseline.enqueue('at', { when: new Map() })).rejects.toThrow(/a Map is not a plain object$/);
    expect(await phaseline.list()).toEqual([]);
    await phaseline.close();
  });
});

describe('send with the lifecycle named', () => {
  it('type-checks the event against that lifecycle (tsc --noEmit checks the @ts-expect-error lines) and refuses a job of another', async () => {
    const phaseline = createPhaseline({ file: ':memory:' });
    phaseline.register(defineJobType({ name: 'cutout', lifecycle: 'uws', handler: async () => null }));
    phaseline.register(defineJobType({ name: 'import', lifecycle: 'ecotaxa', handler: async () => null }));
    const uwsJob = await phaseline.enqueue('cutout', {}, { start: false });
    const ecotaxaJob = await phaseline.enqueue('import', {});
    expect((await phaseline.send(uwsJob, { type: 'RUN' }, { lifecycle: 'uws' })).state).toBe('QUEUED');
    // @ts-expect-error EcoTaxa's RESTART is no UWS event
    await expect(phaseline.send(uwsJob, { type: 'RESTART' }, { lifecycle: 'uws' })).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' });
    // @ts-expect-error a REPLY carries its reply
    await expect(phaseline.send(ecotaxaJob, { type: 'REPLY' }, { lifecycle: 'ecotaxa' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const before = await phaseline.history(ecotaxaJob);
    await expect(phaseline.send(ecotaxaJob, { type: 'RUN' }, { lifecycle: 'uws' })).rejects.toThrow(/job \d+ is a ecotaxa job, not uws/);
    // A lifecycle of one's own can be named too (checked at run time).
    await expect(phaseline.send(ecotaxaJob, { type: 'RUN' }, { lifecycle: 'review' })).rejects.toThrow(/not review/);
    expect(await phaseline.history(ecotaxaJob)).toEqual(before);
    await phaseline.close();
  });
});

describe('a job of one\'s own lifecycle over HTTP', () => {
  it('GET /jobs/{id} shows it as Phaseline models it (no seed view speaks its lifecycle); a seed view is still there when asked for', async () => {
    const phaseline = createPhaseline({ file: ':memory:', lifecycles: [chore] });
    phaseline.register(defineJobType({ name: 'chore.fail', lifecycle: 'chore', attempts: 1, handler: async () => { throw new Error(`broke in ${process.cwd()}/x.ts`); } }));
    const id = await phaseline.enqueue('chore.fail', { n: 1 });
    phaseline.start({ pollIntervalMs: 5 });
    await ended(phaseline, id);
    const app = createHttpApp(phaseline);
    const own = await app.fetch(new Request(`http://localhost/jobs/${id}`));
    expect(own.status).toBe(200);
    const body = (await own.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id, lifecycle: 'chore', state: 'broken', outcome: 'failed' });
    expect(body).not.toHaveProperty('lease');
    expect(JSON.stringify(body)).not.toContain(process.cwd()); // the error keeps the file name only
    expect(JSON.stringify(body)).toContain('x.ts');
    const asSynapse = await app.fetch(new Request(`http://localhost/jobs/${id}?view=synapse`));
    expect(((await asSynapse.json()) as { jobState: string }).jobState).toBe('FAILED');
    await phaseline.close();
  });
});

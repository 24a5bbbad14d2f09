/**
 * Behaviour that used to be spelled for one built-in lifecycle (UWS archiving at destruction and
 * keeping its records, Qiskit's validation step) now comes from the lifecycle's definition: a
 * user's own lifecycle, made with defineLifecycle, gets each of them by saying so.
 */
import { describe, expect, test } from 'vitest';
import { defineLifecycle } from '../machines/index.ts';
import { createPhaseline, InvalidInputError } from '../src/index.ts';
import { FAST, LEAD_MS, open, rawRow, types, waitFor, waitForState } from './helpers/behaviour-harness.ts';

const apply = (target: string) => ({ target, actions: 'apply' });

/** A ledger entry: checked before it is worked on; shelved (record kept) at destruction. */
const ledgerStates = {
  queued: { tags: ['queued'], on: { CLAIM: apply('checking'), CANCEL: apply('dropped') } },
  checking: {
    tags: ['running', 'validating'],
    on: { CHECKED: apply('working'), FAIL: apply('failed'), CANCEL: apply('dropped') },
  },
  working: {
    tags: ['running'],
    on: { SUCCEED: apply('done'), FAIL: apply('failed'), CANCEL: apply('dropped') },
  },
  done: { tags: ['terminal', 'succeeded'], on: { SHELVE: apply('shelved.done') } },
  failed: { tags: ['terminal', 'failed'], on: { SHELVE: apply('shelved.failed') } },
  dropped: { tags: ['terminal', 'cancelled'], on: { SHELVE: apply('shelved.dropped') } },
  shelved: {
    tags: ['terminal', 'archived'],
    initial: 'done',
    states: {
      done: { type: 'final', tags: ['succeeded'] },
      failed: { type: 'final', tags: ['failed'] },
      dropped: { type: 'final', tags: ['cancelled'] },
    },
  },
};

const ledger = defineLifecycle({
  name: 'ledger', version: 1, initial: 'queued', states: ledgerStates,
  archiveEvent: 'SHELVE', retention: false, validatedEvent: 'CHECKED',
});

/** The same states without the lifecycle-specific fields: destruction deletes, retention applies. */
const plain = defineLifecycle({
  name: 'plain', version: 1, initial: 'queued',
  states: {
    queued: { tags: ['queued'], on: { CLAIM: apply('working') } },
    working: { tags: ['running'], on: { SUCCEED: apply('done'), FAIL: apply('failed') } },
    done: { type: 'final', tags: ['terminal', 'succeeded'] },
    failed: { type: 'final', tags: ['terminal', 'failed'] },
  },
});

describe('a user lifecycle with an archive event', () => {
  test('at destruction an ended job is archived into its `archived` state and kept; a plain lifecycle is deleted', async () => {
    const p = await open({ lifecycles: [ledger, plain] });
    p.register({ name: 'entry', lifecycle: 'ledger', attempts: 1, handler: async () => ({ booked: true }) });
    p.register({ name: 'note', lifecycle: 'plain', attempts: 1, handler: async () => null });
    p.start(FAST);
    const destruction = Date.now() + LEAD_MS + 250;
    const kept = await p.enqueue('entry', { amount: 3 }, { destruction });
    const gone = await p.enqueue('note', null, { destruction });
    const job = await waitForState(p, kept, 'shelved');
    expect(job.stateValue).toEqual({ shelved: 'done' });
    expect(job.outcome).toBe('succeeded');
    expect(job.params).toEqual({ amount: 3 });
    const history = await p.history(kept);
    expect(types(history)).toEqual(['CLAIM', 'CHECKED', 'SUCCEED', 'SHELVE']);
    expect(history.at(-1)).toMatchObject({ type: 'SHELVE', stateBefore: 'done', stateAfter: 'shelved', actor: 'sweeper' });
    await waitFor(async () => !(await rawRow(p, gone)), 3000, 'plain job deleted at destruction');
  });

  test('archived jobs are no longer due: with a batch of one, a later-due job is archived too', async () => {
    const p = await open({ lifecycles: [ledger] });
    p.register({ name: 'entry', lifecycle: 'ledger', attempts: 1, handler: async () => null });
    const first = await p.enqueue('entry', null, { destruction: Date.now() + 100 });
    const second = await p.enqueue('entry', null, { destruction: Date.now() + 400 });
    p.start({ ...FAST, sweep: { batch: 1 } });
    await waitForState(p, first, 'shelved');
    // Were the shelved job still due, it would fill every batch of one and the second would wait forever.
    await waitForState(p, second, 'shelved');
    expect(types(await p.history(first)).filter((t) => t === 'SHELVE')).toHaveLength(1);
  });

  test("sweep.destroy 'delete' deletes it instead", async () => {
    const p = await open({ lifecycles: [ledger] });
    p.register({ name: 'entry', lifecycle: 'ledger', attempts: 1, handler: async () => null });
    p.start({ ...FAST, sweep: { destroy: 'delete' } });
    const id = await p.enqueue('entry', null, { destruction: Date.now() + 150 });
    await waitFor(async () => !(await rawRow(p, id)), 3000, 'deleted at destruction');
  });
});

describe('a user lifecycle with retention: false', () => {
  test('its finished jobs outlive retentionMs; a plain lifecycle’s are deleted', async () => {
    const p = await open({ lifecycles: [ledger, plain] });
    p.register({ name: 'entry', lifecycle: 'ledger', attempts: 1, handler: async () => null });
    p.register({ name: 'note', lifecycle: 'plain', attempts: 1, handler: async () => null });
    p.start({ ...FAST, sweep: { retentionMs: 100 } });
    const kept = await p.enqueue('entry', null);
    const gone = await p.enqueue('note', null);
    await waitForState(p, kept, 'done');
    await waitFor(async () => !(await rawRow(p, gone)), 3000, 'plain job deleted after retention');
    const ended = (await p.get(kept)).endedAt!;
    // Deletion of the other job proves a sweep ran after its retention; give this one as long again.
    await waitFor(() => Date.now() - ended > 300, 1000, 'well past retention');
    expect((await p.get(kept)).state).toBe('done');
  });
});

describe('a user lifecycle with a validation step', () => {
  test('a claim into its `validating` state runs the validator, then sends validatedEvent before the handler', async () => {
    const p = await open({ lifecycles: [ledger] });
    const seen: string[] = [];
    p.register({
      name: 'entry',
      lifecycle: 'ledger',
      attempts: 1,
      validate: (params) => (seen.push('validate'), params as never),
      handler: async (ctx) => {
        seen.push(`handler in ${(await p.get(ctx.job.id)).state}`);
        return null;
      },
    });
    const id = await p.enqueue('entry', { amount: 1 });
    seen.length = 0; // the enqueue validated once already
    p.start(FAST);
    await waitForState(p, id, 'done');
    expect(seen).toEqual(['validate', 'handler in working']);
    const history = await p.history(id);
    expect(types(history)).toEqual(['CLAIM', 'CHECKED', 'SUCCEED']);
    expect(history.find((e) => e.type === 'CHECKED')).toMatchObject({ stateBefore: 'checking', stateAfter: 'working' });
  });

  test('parameters the validator refuses at the claim fail the attempt; the handler never runs', async () => {
    const p = await open({ lifecycles: [ledger] });
    let strict = false;
    let ran = false;
    p.register({
      name: 'entry',
      lifecycle: 'ledger',
      attempts: 1,
      validate: (params) => {
        if (strict) throw new Error('amount too large');
        return params as never;
      },
      handler: async () => ((ran = true), null),
    });
    const id = await p.enqueue('entry', { amount: 1_000 });
    strict = true; // the rule changed between the enqueue and the claim
    p.start(FAST);
    const job = await waitForState(p, id, 'failed');
    expect(ran).toBe(false);
    expect(job.errors.at(-1)?.message).toContain('amount too large');
    expect(types(await p.history(id))).toEqual(['CLAIM', 'FAIL']);
  });
});

describe('registration checks of the new fields', () => {
  const refusal = (make: () => unknown): string => {
    try {
      make();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      return (error as Error).message;
    }
    throw new Error('expected a refusal');
  };
  const withStates = (states: Record<string, unknown>, extra: object = {}) => () =>
    createPhaseline({ file: ':memory:', lifecycles: [defineLifecycle({ name: 'odd', version: 1, initial: 'queued', states, ...extra })] });

  test('an archiveEvent with no archived state, or one the machine does not accept, is refused', () => {
    const { shelved: _shelved, ...rest } = ledgerStates;
    const noShelf = {
      ...rest,
      done: { tags: ['terminal', 'succeeded'], on: { SHELVE: { actions: 'apply' } } },
      failed: { type: 'final', tags: ['terminal', 'failed'] },
      dropped: { type: 'final', tags: ['terminal', 'cancelled'] },
    };
    expect(refusal(withStates(noShelf, { archiveEvent: 'SHELVE', validatedEvent: 'CHECKED' }))).toMatch(/no top-level state tagged archived/);
    expect(refusal(withStates(ledgerStates, { archiveEvent: 'STORE', validatedEvent: 'CHECKED' }))).toMatch(/archiveEvent "STORE"/);
  });

  test('a validating state without validatedEvent, and a validating state that is not running, are refused', () => {
    expect(refusal(withStates(ledgerStates))).toMatch(/tagged validating but no validatedEvent/);
    const idle = { ...ledgerStates, checking: { ...ledgerStates.checking, tags: ['validating'] } };
    expect(refusal(withStates(idle, { validatedEvent: 'CHECKED' }))).toMatch(/validating state checking must be running/);
  });

  test('an archived state that is not terminal is refused', () => {
    const unended = { ...ledgerStates, shelved: { ...ledgerStates.shelved, tags: ['archived'] } };
    expect(refusal(withStates(unended, { archiveEvent: 'SHELVE', validatedEvent: 'CHECKED' }))).toMatch(/archived state shelved\.\w+ must be terminal/);
  });
});

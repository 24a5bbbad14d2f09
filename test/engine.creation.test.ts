/**
 * Creation templates (src/engine/creation.ts): a new job's snapshots, rows and first events filled
 * from its lifecycle's template are those the XState fold gives, for every input; a lifecycle the
 * template cannot reproduce is detected and folds; SQLite's multi-row inserts store what one
 * statement per row stored.
 *
 * Environment: PHASELINE_PROPERTY_RUNS (default 200 per lifecycle), PHASELINE_SEED (default 20261202).
 */
import { deepStrictEqual, equal, notEqual } from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { AnyMachineSnapshot } from 'xstate';
import { builtInLifecycles, defineLifecycle, type JobInput, type Json, type Lifecycle } from '../machines/index.ts';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { buildTemplate, fillTemplate, foldCreation } from '../src/engine/creation.ts';
import { deriveRow, NO_LEASE } from '../src/engine/derive.ts';
import { Engine, type CreateOptions } from '../src/engine/engine.ts';
import { LifecycleRegistry } from '../src/engine/lifecycles.ts';
import { apply, review } from './support/review.ts';
import { dumpAll } from './support/sqlite.ts';
import { envInt } from './support/env.ts';

const RUNS = envInt('PHASELINE_PROPERTY_RUNS', 200);
const SEED = envInt('PHASELINE_SEED', 20261202);

/** A lifecycle whose start event copies the parameters and the instant into the context: no template reproduces it. */
const echo = defineLifecycle({
  name: 'echo', version: 1, initial: 'new', startEvents: ['ADMIT'],
  actions: { remember: ({ context, event }) => ({ inside: { params: context.params }, step: event.at }) },
  states: {
    new: { on: { ADMIT: { target: 'queued', actions: ['apply', 'remember'] } } },
    queued: { tags: ['queued'], on: { CLAIM: { target: 'running', ...apply } } },
    running: { tags: ['running'], on: { SUCCEED: { target: 'done', ...apply } } },
    done: { type: 'final', tags: ['terminal', 'succeeded'] },
  },
});

/**
 * A lifecycle whose start event is guarded by the parameters: an urgent job skips the queue's
 * waiting room. No sample has `urgent`, so only the guard itself can tell: no template.
 */
const triage = defineLifecycle({
  name: 'triage', version: 1, initial: 'new', startEvents: ['ADMIT'],
  guards: { urgent: ({ context }) => (context.params as { urgent?: boolean } | null)?.urgent === true },
  states: {
    new: { on: { ADMIT: [{ guard: 'urgent', target: 'queued', ...apply }, { target: 'waiting_room', ...apply }] } },
    waiting_room: { tags: ['waiting'], on: { REPLY: { target: 'queued', ...apply } } },
    queued: { tags: ['queued'], on: { CLAIM: { target: 'running', ...apply } } },
    running: { tags: ['running'], on: { SUCCEED: { target: 'done', ...apply } } },
    done: { type: 'final', tags: ['terminal', 'succeeded'] },
  },
});

const LIFECYCLES: readonly Lifecycle[] = [...Object.values(builtInLifecycles), review()];

/** A field absent, named with the value undefined, or given. */
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined | typeof ABSENT> =>
  fc.oneof({ weight: 2, arbitrary: fc.constant(ABSENT) }, { weight: 1, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: arb });
const ABSENT = Symbol('absent');
const instant = fc.integer({ min: 0, max: 4_102_444_800_000 });

const inputArb: fc.Arbitrary<JobInput> = fc
  .record({
    params: fc.oneof(fc.constant(ABSENT), fc.jsonValue() as fc.Arbitrary<Json>),
    priority: optional(fc.integer({ min: -1_000_000, max: 1_000_000 })),
    runAfter: optional(fc.oneof(fc.constant(null), instant)),
    executionDuration: optional(fc.nat({ max: 1_000_000 })),
    destruction: optional(fc.oneof(fc.constant(null), instant)),
    quote: optional(fc.oneof(fc.constant(null), instant)),
    message: optional(fc.oneof(fc.constant(null), fc.string())),
  })
  .map((fields) => {
    const input: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(fields)) if (value !== ABSENT) input[key] = value;
    return input as unknown as JobInput;
  });

const text = fc.oneof(fc.constant(null), fc.constant(undefined), fc.string({ minLength: 1, maxLength: 8 }));
const optionsArb = (lifecycle: string): fc.Arbitrary<CreateOptions> =>
  fc.record({
    input: inputArb,
    type: fc.constantFrom('a', 'b'),
    owner: text,
    runId: text,
    idempotencyKey: fc.oneof(fc.constant(null), fc.constant(undefined), fc.constantFrom('k1', 'k2', 'k3')),
    start: fc.constantFrom(true, false, undefined),
    actor: text,
  }).map((o) => ({ ...o, lifecycle }) as CreateOptions);

/** What the engine reads of a snapshot and stores of it. */
const viewOf = (s: AnyMachineSnapshot) => ({
  status: s.status, value: s.value, context: s.context, tags: [...s.tags].sort(), json: JSON.stringify(s),
});

function engineOf(lifecycles: readonly Lifecycle[], creationTemplates: boolean) {
  let now = 1_700_000_000_000;
  const database = openDatabase(':memory:');
  const engine = new Engine(new SqliteStore(database), {
    lifecycles: new LifecycleRegistry([...Object.values(builtInLifecycles), ...lifecycles.filter((l) => !(l.name in builtInLifecycles))]),
    clock: () => (now += 7),
    creationTemplates,
    // The reference engine is XState alone: its creations and later events all go through the interpreter.
    compiledLifecycles: creationTemplates,
  });
  return { engine, database };
}

describe('creation templates', () => {
  it('every built-in lifecycle and a defineLifecycle one has a template, started or not', () => {
    for (const lifecycle of LIFECYCLES) {
      for (const start of [true, false]) notEqual(buildTemplate(lifecycle, start), null, `${lifecycle.name} start=${start}`);
    }
  });

  it('fill the snapshots and rows the XState fold gives, for any input', () => {
    console.log(`[engine.creation] snapshots: seed=${SEED} numRuns=${RUNS} (PHASELINE_SEED, PHASELINE_PROPERTY_RUNS)`);
    for (const lifecycle of LIFECYCLES) {
      for (const start of [true, false]) {
        const template = buildTemplate(lifecycle, start)!;
        fc.assert(
          fc.property(inputArb, instant, (raw, at) => {
            // As the engine gives it (#prepareCreate): params null when absent.
            const input = { ...raw, params: raw.params ?? null };
            const folded = foldCreation(lifecycle, input, start, at);
            const filled = fillTemplate(template, input);
            if (filled === null) {
              // Only an input naming a field with the value undefined folds.
              equal(Object.values(input).some((value) => value === undefined), true);
              return;
            }
            deepStrictEqual(filled.map(viewOf), folded.map(viewOf));
            const identity = { id: 9, lifecycle: lifecycle.name, lifecycleVersion: lifecycle.version, type: 't', owner: null, runId: 'r', idempotencyKey: null, concurrencyKey: null, traceparent: null };
            const rows = (snapshots: AnyMachineSnapshot[]) => {
              let row: ReturnType<typeof deriveRow> | null = null;
              return snapshots.map((s) => (row = deriveRow(row, identity, s, at, NO_LEASE)));
            };
            deepStrictEqual(rows(filled), rows(folded));
            equal(JSON.stringify(rows(filled)), JSON.stringify(rows(folded)));
          }),
          { seed: SEED, numRuns: RUNS },
        );
      }
    }
  });

  it('store the rows and events the XState fold stores, byte for byte, and take later events alike', () => {
    console.log(`[engine.creation] engine: seed=${SEED} numRuns=${RUNS} (PHASELINE_SEED, PHASELINE_PROPERTY_RUNS)`);
    for (const lifecycle of LIFECYCLES) {
      let createdJobs = 0;
      fc.assert(
        fc.property(fc.array(optionsArb(lifecycle.name), { minLength: 1, maxLength: 12 }), (batch) => {
          const runs = [engineOf(LIFECYCLES, true), engineOf(LIFECYCLES, false)].map(({ engine, database }) => {
            const outcome = (fn: () => unknown) => {
              try {
                return { value: fn() };
              } catch (error) {
                return { error: String(error) };
              }
            };
            const created = outcome(() => engine.createMany(batch));
            const single = outcome(() => engine.create(batch[0]!));
            // The live snapshots of the new jobs take the next event as restored ones would.
            const claimed = outcome(() => engine.claimDue(20, ['a', 'b'], (now) => ({ actor: 'w', leaseId: 'L', leaseExpiresAt: now + 1, workerId: 'w' })));
            const stored = dumpAll(database.sqlite);
            database.sqlite.close();
            return { created, single, claimed, stored };
          });
          deepStrictEqual(runs[0], runs[1]);
          if ('value' in runs[0]!.created) createdJobs += (runs[0]!.created.value as unknown[]).length;
        }),
        { seed: SEED, numRuns: Math.max(1, Math.floor(RUNS / 4)) },
      );
      // Not a comparison of two refusals: the batches are valid but for a rare input.
      equal(createdJobs > RUNS / 8, true, `${lifecycle.name}: ${createdJobs} jobs created`);
    }
  });

  it('a job shares nothing a caller may change with the template or other jobs', () => {
    const { engine, database } = engineOf([], true);
    const [first] = engine.createMany([{ lifecycle: 'ecotaxa', type: 'a', input: { params: null } }, { lifecycle: 'ecotaxa', type: 'a', input: { params: null } }]);
    first!.errors.push({ message: 'changed by a caller', attempt: 0, at: 0 });
    (first!.snapshot.context.replies as unknown[]).push('changed');
    const later = engine.create({ lifecycle: 'ecotaxa', type: 'a', input: { params: null } });
    deepStrictEqual([later.errors, later.snapshot.context.replies], [[], []]);
    database.sqlite.close();
  });

  it('a lifecycle whose fold the template cannot reproduce is detected and folds', () => {
    equal(buildTemplate(echo, true), null);
    // Without its start event the fold is the plain initial context: a template serves it.
    notEqual(buildTemplate(echo, false), null);
    const stores = [engineOf([echo], true), engineOf([echo], false)].map(({ engine, database }) => {
      const jobs = engine.createMany([
        { lifecycle: 'echo', type: 'a', input: { params: { n: 1 } } },
        { lifecycle: 'echo', type: 'a', input: { params: [2, 'x'], priority: 3 } },
        { lifecycle: 'echo', type: 'a', input: { params: 'y' }, start: false },
      ]);
      deepStrictEqual(jobs.map((job) => [job.state, job.inside]), [['queued', { params: { n: 1 } }], ['queued', { params: [2, 'x'] }], ['new', null]]);
      equal(jobs[0]!.step, jobs[0]!.createdAt);
      const stored = dumpAll(database.sqlite);
      database.sqlite.close();
      return stored;
    });
    deepStrictEqual(stores[0], stores[1]);
  });

  it('a start event guarded by the parameters keeps the fold: an urgent job and a routine one go where XState sends them', () => {
    equal(buildTemplate(triage, true), null);
    const { engine, database } = engineOf([triage], true);
    const [urgent, routine] = engine.createMany([
      { lifecycle: 'triage', type: 't', input: { params: { urgent: true } } },
      { lifecycle: 'triage', type: 't', input: { params: { urgent: false } } },
    ]);
    deepStrictEqual([urgent!.state, routine!.state], ['queued', 'waiting_room']);
    database.sqlite.close();
  });

  it('many rows in a batch: ids in order, across statement sizes, as one statement per row stores them', () => {
    const { engine, database } = engineOf([], true);
    let expected = 0;
    for (const n of [2, 3, 839, 840, 841, 1_000, 2_049]) {
      const jobs = engine.createMany(Array.from({ length: n }, (_, i) => ({ lifecycle: 'rime', type: 'a', input: { params: { n, i } } })));
      jobs.forEach((job, i) => {
        equal(job.id, ++expected);
        deepStrictEqual(engine.get(job.id).params, { n, i });
        deepStrictEqual(engine.history(job.id).map((e) => [e.seq, e.type]), [[1, 'CREATE'], [2, 'ADMIT']]);
      });
    }
    const batched = dumpAll(database.sqlite);
    database.sqlite.close();
    const one = engineOf([], true);
    for (const n of [2, 3, 839, 840, 841, 1_000, 2_049]) {
      for (let i = 0; i < n; i++) one.engine.create({ lifecycle: 'rime', type: 'a', input: { params: { n, i } } });
    }
    const single = dumpAll(one.database.sqlite);
    one.database.sqlite.close();
    // Both read the clock once per job, so even the instants agree.
    deepStrictEqual(batched, single);
  });
});

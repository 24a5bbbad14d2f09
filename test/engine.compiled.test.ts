/**
 * Compiled lifecycles (src/engine/compiled.ts) against XState, exhaustively: for every built-in
 * lifecycle and the test suite's user lifecycles, every state reachable from a new job (explored
 * with XState, from several inputs, with the context that got it there: a cancellation pending or
 * not, a resumed attempt or not, parameters or none) × every event type the machine or the engine
 * knows × representative payloads (a retry asked or not, parameters set or not, progress figures),
 * the compiled step and XState's transition() must agree: the same acceptance (the engine refuses
 * when the snapshot comes back unchanged), the same state value, context (key order included),
 * tags and status, and the same row derived from it; the compiled snapshot taken up from that row
 * is XState's `resolveState`'s. The
 * exploration goes on from the compiled snapshots, so every XState transition in it is also given
 * a compiled snapshot: XState takes them as its own.
 *
 * The lifecycles' own `assign` actions are compiled too (EcoTaxa's and Synapse's wording, every
 * form of assign in `forms`), so the exhaustive check covers them.
 *
 * Negative controls: guards that read the parameters (one under a shared guard's name), an assign
 * named `apply` that is not the shared reducer only where it must not be read as it, an assign that
 * spawns (always, or only for some parameters: caught at the step), one that reads `self`,
 * enqueueActions, raise, a parallel state, an eventless transition and an entry action are
 * detected and run on XState, and still behave exactly as XState.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AnyMachineSnapshot, StateValue } from 'xstate';
import { assign, enqueueActions, fromPromise, raise, setup, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  applyJob, builtInLifecycles, cancelRequested, willRetry, COMMON_EVENT_TYPES, defineLifecycle, initialContext,
  type CommonEvent, type JobContext, type JobInput, type Lifecycle,
} from '../machines/index.ts';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { compiledOf } from '../src/engine/compiled.ts';
import { deriveRow, NO_LEASE, restoreSnapshot, type JobIdentity } from '../src/engine/derive.ts';
import { Engine } from '../src/engine/engine.ts';
import { LifecycleRegistry } from '../src/engine/lifecycles.ts';
import { describeState, firstSnapshot, nextSnapshot } from '../src/engine/transition.ts';
import { replayJob } from '../src/replay/replay.ts';
import { lifecycleOf } from './support/lifecycles.ts';
import { review } from './support/review.ts';

const COMMANDS = ['RUN', 'ABORT', 'HOLD', 'SUSPEND', 'RESUME', 'ARCHIVE', 'KILL', 'RESTART', 'ADMIT', 'QUEUE', 'VALIDATED'];

/** The payloads each event type is sent with: bare, and with the fields the reducer and the shared guards read. */
function payloads(type: string): Array<Record<string, unknown>> {
  const error = { message: 'boom', name: 'Error', kind: 'transient' };
  const list: Array<Record<string, unknown>> = [{}];
  switch (type) {
    case 'FAIL':
      list.push({ error }, { error, retryAt: 9_000_000 });
      break;
    case 'LEASE_LOST':
    case 'TIMEOUT':
      list.push({ retryAt: 9_000_000 });
      break;
    case 'SET':
      list.push({ priority: 4, runAfter: 77 }, { params: { edited: true } }, { params: null, quote: 5, destruction: 6, executionDuration: 7 });
      break;
    case 'PROGRESS':
      list.push({ percent: 40, message: 'forty' }, { current: 3, total: 4 }, { percent: 10 });
      break;
    case 'ASK':
      list.push({ question: { q: 1 }, message: 'asking' });
      break;
    case 'REPLY':
      list.push({ reply: { a: [1, 2] } });
      break;
    case 'SUCCEED':
      list.push({ result: { ok: true } });
      break;
    case 'STEP':
      list.push({ name: 'fetch', result: [1] });
      break;
    case 'CHECKPOINT':
      list.push({ inside: { cursor: 3 }, step: 2 }, { step: null });
      break;
    case 'CANCEL':
      list.push({ reason: 'no longer needed' });
      break;
  }
  return list;
}

const INPUTS: JobInput[] = [
  { params: null },
  { params: { fast: true, n: 1 }, priority: 3, runAfter: 123, executionDuration: 60, destruction: 9_999_999, quote: 8_888_888, message: 'hello' },
];

const view = (s: AnyMachineSnapshot) => ({ value: s.value, context: s.context, tags: [...s.tags].sort(), status: s.status });

interface Outcome {
  /** Reachable situations explored (state and the context features that steer guards). */
  situations: number;
  /** Steps compared, and how many accepted ones ran compiled. */
  compared: number;
  compiledSteps: number;
  states: Set<string>;
}

/** Explore every reachable situation with XState, comparing the compiled step at each (state, event, payload). */
function exhaust(lifecycle: Lifecycle): Outcome {
  const { machine } = lifecycle;
  const compiled = compiledOf(lifecycle);
  const types = [...new Set([...(machine.root.events as string[]), ...COMMON_EVENT_TYPES, ...COMMANDS, 'NO_SUCH_EVENT'])];
  const identity: JobIdentity = { id: 1, lifecycle: lifecycle.name, lifecycleVersion: lifecycle.version, type: 't', owner: null, runId: null, idempotencyKey: null, concurrencyKey: null, traceparent: null };
  const seen = new Set<string>();
  const states = new Set<string>();
  const frontier: AnyMachineSnapshot[] = [];
  const keyOf = (s: AnyMachineSnapshot) => {
    const c = s.context as JobContext;
    // What guards and the reducer's branches read, coarsely: enough to reach every branch, few enough to finish.
    return JSON.stringify([
      s.value, c.cancelRequested, c.resuming, c.params !== null, Math.min(c.attempt, 2), c.runAfter !== null,
      Math.min(c.errors.length, 2), c.progress.total !== null, c.replies.length > 0, c.result !== null,
    ]);
  };
  const visit = (s: AnyMachineSnapshot) => {
    const key = keyOf(s);
    if (seen.has(key)) return;
    seen.add(key);
    states.add(describeState(s));
    frontier.push(s);
  };
  for (const input of INPUTS) visit(firstSnapshot(machine, input));
  let compared = 0;
  let compiledSteps = 0;
  let at = 1_000;
  for (let s = frontier.shift(); s !== undefined; s = frontier.shift()) {
    const before = s;
    for (const type of types) {
      for (const payload of payloads(type)) {
        const event = { ...payload, type, at: (at += 7) };
        const theirs = nextSnapshot(machine, before, event);
        const ours = compiled.step(before, event);
        const where = `${lifecycle.name}: ${describeState(before)} ${JSON.stringify(event)} (cancelRequested ${(before.context as JobContext).cancelRequested})`;
        compared++;
        expect(ours === before, `${where}: acceptance`).toBe(theirs === before);
        if (theirs === before) continue;
        if (compiled.isCompiled(before.value, type)) compiledSteps++;
        expect(view(ours), where).toEqual(view(theirs));
        expect(JSON.stringify(ours.context), `${where}: context key order`).toBe(JSON.stringify(theirs.context));
        // The same row, from the snapshot and from its restored form.
        const rowOurs = deriveRow(null, identity, ours, event.at, NO_LEASE);
        const rowTheirs = deriveRow(null, identity, theirs, event.at, NO_LEASE);
        expect(isDeepStrictEqual(rowOurs, rowTheirs), `${where}: row`).toBe(true);
        // Taken up from the row: the compiled resolve makes what XState's resolveState makes.
        const restoredOurs = restoreSnapshot(machine, rowOurs.snapshot, rowOurs, compiled.resolve);
        const restoredTheirs = restoreSnapshot(machine, rowTheirs.snapshot, rowTheirs);
        expect(view(restoredOurs), `${where}: restored`).toEqual(view(restoredTheirs));
        expect(JSON.stringify(restoredOurs), `${where}: restored, as JSON`).toBe(JSON.stringify(restoredTheirs));
        expect(restoredOurs.historyValue).toEqual(restoredTheirs.historyValue);
        // Go on from the compiled snapshot: later XState steps take it as input.
        visit(ours);
      }
    }
  }
  return { situations: seen.size, compared, compiledSteps, states };
}

/** The test suite's user lifecycles: review (defineLifecycle), chore (an own action), a lifecycleOf one. */
const USER_LIFECYCLES: Lifecycle[] = [
  review(),
  defineLifecycle({
    name: 'chore', version: 1, initial: 'queued',
    actions: { stamp: ({ context }) => ({ progress: { ...context.progress, message: 'stamped' } }) },
    states: {
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
    },
  }),
  lifecycleOf('ticket', {
    open: { tags: ['queued'], on: { CLAIM: { target: 'working', actions: 'apply' }, CANCEL: { target: 'closed.dropped', actions: 'apply' } } },
    working: { tags: ['running'], on: { SUCCEED: { target: 'closed.fixed', actions: 'apply' }, RELEASE: { target: 'open', actions: 'apply' }, SET: { actions: 'apply' } } },
    closed: {
      tags: ['terminal'],
      initial: 'fixed',
      states: { fixed: { tags: ['succeeded'], type: 'final' }, dropped: { tags: ['cancelled'], type: 'final' } },
    },
  }, 'open'),
  formsLifecycle(),
];

/**
 * The other shapes of an XState assign: the property-map form (a function and a plain value),
 * params computed from the context and event, an inline `assign(...)`, two assignments in a row
 * after the shared apply (each sees the one before).
 */
function formsLifecycle(): Lifecycle {
  const machine = setup({
    types: { context: {} as JobContext, events: {} as CommonEvent, input: {} as JobInput },
    actions: {
      apply: assign(applyJob),
      count: assign({ step: ({ context }) => (context.step ?? 0) + 1, inside: { counted: true } }),
      note: assign(({ context }, params: { message: string }) => ({ progress: { ...context.progress, message: params.message } })),
    },
    guards: { willRetry },
  }).createMachine({
    id: 'forms', initial: 'queued', context: ({ input }) => initialContext(input),
    states: {
      queued: { tags: ['queued'], on: { CLAIM: { target: 'working', actions: ['apply', 'count'] }, CANCEL: { target: 'dropped', actions: ['apply', { type: 'note', params: { message: 'dropped' } }] } } },
      working: {
        tags: ['running'],
        on: {
          PROGRESS: { actions: ['apply', { type: 'note', params: ({ context, event }) => ({ message: `${context.progress.percent}% at ${(event as { at: number }).at}` }) }] },
          SUCCEED: { target: 'done', actions: ['apply', 'count', assign(({ context }) => ({ step: (context.step ?? 0) * 10 }))] },
          FAIL: [{ guard: 'willRetry', target: 'queued', actions: ['apply', 'count'] }, { target: 'broken', actions: ['count', 'apply'] }],
          RELEASE: { target: 'queued', actions: assign({ priority: ({ context }) => context.priority + 1 }) },
        },
      },
      done: { type: 'final', tags: ['terminal', 'succeeded'] },
      broken: { type: 'final', tags: ['terminal', 'failed'] },
      dropped: { type: 'final', tags: ['terminal', 'cancelled'] },
    },
  });
  return { name: 'forms', version: 1, machine: machine as unknown as AnyStateMachine };
}

/** How much of each lifecycle is compiled: all but the transitions that run an action of the lifecycle's own. */
const EXPECTED_PAIRS: Record<string, { total: number; compiled: number }> = {
  ecotaxa: { total: 22, compiled: 22 }, // say (static params), sayError: assignments of its own, compiled
  uws: { total: 40, compiled: 40 },
  rime: { total: 19, compiled: 19 },
  synapse: { total: 15, compiled: 15 }, // recordCancel, sayComplete: compiled
  qiskit: { total: 24, compiled: 24 },
  review: { total: 13, compiled: 13 },
  chore: { total: 5, compiled: 5 }, // stamp (defineLifecycle's assign): compiled
  ticket: { total: 5, compiled: 5 },
  forms: { total: 6, compiled: 6 }, // property-map assign, computed params, inline assign
};

describe('compiled lifecycles agree with XState on every reachable state and event', () => {
  for (const lifecycle of [...Object.values(builtInLifecycles), ...USER_LIFECYCLES]) {
    it(`${lifecycle.name}`, () => {
      const compiled = compiledOf(lifecycle);
      expect(compiled.pairs).toEqual(EXPECTED_PAIRS[lifecycle.name]);
      const outcome = exhaust(lifecycle);
      console.log(`[engine.compiled] ${lifecycle.name}: ${outcome.states.size} states, ${outcome.situations} situations, ${outcome.compared} steps compared, ${outcome.compiledSteps} accepted ones compiled`);
      expect(outcome.compiledSteps).toBeGreaterThan(0);
      // No reachable state is left out of the table.
      for (const state of outcome.states) {
        const snapshot = lifecycle.machine.resolveState({ value: state.includes('.') ? valueOfPath(state) : state, context: {} as never });
        expect(compiled.isCompiled(snapshot.value, 'NO_SUCH_EVENT'), `${state} is in the table`).toBe(true);
      }
    });
  }

  it('the wording actions of EcoTaxa and Synapse are compiled with the shared ones', () => {
    const ecotaxa = compiledOf(builtInLifecycles.ecotaxa);
    expect(ecotaxa.isCompiled('R', 'PROGRESS')).toBe(true);
    expect(ecotaxa.isCompiled('P', 'CLAIM')).toBe(true);
    expect(ecotaxa.isCompiled('R', 'SUCCEED')).toBe(true); // apply, then say { message: 'Done' }
    expect(ecotaxa.isCompiled('R', 'FAIL')).toBe(true); // apply, then sayError
    expect(ecotaxa.note).toBeNull();
    const synapse = compiledOf(builtInLifecycles.synapse);
    expect(synapse.isCompiled({ PROCESSING: 'running' }, 'RELEASE')).toBe(true); // recordCancel in a later candidate
    expect(synapse.isCompiled({ PROCESSING: 'running' }, 'FAIL')).toBe(true);
    expect(synapse.isCompiled({ PROCESSING: 'queued' }, 'SET')).toBe(true); // the parent's transition
    expect(synapse.note).toBeNull();
    expect(compiledOf(builtInLifecycles.uws).note).toBeNull();
  });

  it('no built-in keeps a transition on XState, so the registry has no note for them', () => {
    expect(new LifecycleRegistry().notes()).toEqual([]);
  });

  it('a snapshot of another machine with the same state ids is left to XState', () => {
    const [a, b] = [review(), review()];
    expect(a.machine).not.toBe(b.machine);
    const theirs = firstSnapshot(a.machine, { params: null });
    const stepped = compiledOf(b).step(theirs, { type: 'CLAIM', at: 1 });
    expect(view(stepped)).toEqual(view(nextSnapshot(b.machine, theirs, { type: 'CLAIM', at: 1 })));
    // Not the compiled prototype of b: XState made it.
    expect((stepped as unknown as { _nodes: unknown[] })._nodes).not.toBe((compiledOf(b).step(firstSnapshot(b.machine, { params: null }), { type: 'CLAIM', at: 1 }) as unknown as { _nodes: unknown[] })._nodes);
  });
});

function valueOfPath(path: string): StateValue {
  const keys = path.split('.');
  let value: unknown = keys.pop()!;
  while (keys.length > 0) value = { [keys.pop()!]: value };
  return value as StateValue;
}

// ---------------------------------------------------------------------------------------------
// Negative controls: what cannot be proven runs on XState, and still behaves as XState.

/** A guard that reads the parameters: never compiled, even under a shared guard's name. */
const fastLane = (guardName: string) => defineLifecycle({
  name: `fast-${guardName}`, version: 1, initial: 'queued',
  guards: { [guardName]: ({ context }) => (context.params as { fast?: boolean } | null)?.fast === true },
  states: {
    queued: { tags: ['queued'], on: { CLAIM: { target: 'working', actions: 'apply' } } },
    working: {
      tags: ['running'],
      on: {
        FAIL: [{ guard: guardName, target: 'queued', actions: 'apply' }, { target: 'broken', actions: 'apply' }],
        SUCCEED: { target: 'done', actions: 'apply' },
      },
    },
    done: { type: 'final', tags: ['terminal', 'succeeded'] },
    broken: { type: 'final', tags: ['terminal', 'failed'] },
  },
});

function behavesAsXState(lifecycle: Lifecycle, input: JobInput, events: Array<Record<string, unknown> & { type: string }>): void {
  const { machine } = lifecycle;
  const { step } = compiledOf(lifecycle);
  let ours = firstSnapshot(machine, input);
  let theirs = ours;
  events.forEach((e, i) => {
    const event = { ...e, at: 1_000 + i };
    const a = step(ours, event);
    const b = nextSnapshot(machine, theirs, event);
    expect(a === ours).toBe(b === theirs);
    expect(view(a)).toEqual(view(b));
    ours = a;
    theirs = b;
  });
}

describe('what cannot be proven runs on XState', () => {
  it('a guard of its own that reads the parameters, under its own name or a shared guard\'s', () => {
    for (const name of ['wantsFast', 'willRetry']) {
      const lifecycle = fastLane(name);
      const compiled = compiledOf(lifecycle);
      expect(compiled.isCompiled('working', 'FAIL')).toBe(false);
      expect(compiled.isCompiled('queued', 'CLAIM')).toBe(true);
      expect(compiled.note).toContain(`the guard "${name}" of its own`);
      const fail = { type: 'FAIL', error: { message: 'x' } };
      // The guard decides on the parameters, which no sample of the compiled check could rule out.
      behavesAsXState(lifecycle, { params: { fast: true } }, [{ type: 'CLAIM' }, fail, { type: 'CLAIM' }, fail]);
      behavesAsXState(lifecycle, { params: { fast: false } }, [{ type: 'CLAIM' }, fail, { type: 'CLAIM' }]);
      const firstFail = (params: unknown) => {
        let s = firstSnapshot(lifecycle.machine, { params: params as never });
        s = compiled.step(s, { type: 'CLAIM', at: 1 });
        return describeState(compiled.step(s, { type: 'FAIL', at: 2, error: { message: 'x' } } as never));
      };
      expect(firstFail({ fast: true })).toBe('queued');
      expect(firstFail({ fast: false })).toBe('broken');
      // The registry says so, in one line.
      const registry = new LifecycleRegistry([lifecycle]);
      expect(registry.notes()).toEqual([{ lifecycle: lifecycle.name, version: 1, note: compiled.note }]);
    }
  });

  it('an engine on such a lifecycle writes what an XState-only engine writes, and replays', () => {
    const lifecycle = fastLane('wantsFast');
    const rows = [true, false].map((compiledLifecycles) => {
      let now = 10_000;
      const engine = new Engine(new SqliteStore(openDatabase(':memory:')), {
        lifecycles: new LifecycleRegistry([...Object.values(builtInLifecycles), lifecycle]), clock: () => (now += 5), compiledLifecycles,
      });
      const results = [{ fast: true }, { fast: false }].map((params) => {
        const job = engine.create({ lifecycle: lifecycle.name, type: 't', input: { params } });
        engine.send(job.id, { type: 'CLAIM' });
        const after = engine.send(job.id, { type: 'FAIL', error: { message: 'x' } });
        expect(replayJob(engine, job.id).divergences).toEqual([]);
        return { row: after, history: engine.history(job.id) };
      });
      expect(results.map((r) => r.row.state)).toEqual(['queued', 'broken']);
      return results;
    });
    expect(rows[0]).toEqual(rows[1]);
  });

  it('a parallel state, an eventless transition, an entry action: detected, and XState decides', () => {
    const base = setup({
      types: { context: {} as JobContext, events: {} as CommonEvent, input: {} as JobInput },
      actions: { apply: assign(applyJob), mark: assign(({ context }) => ({ step: (context.step ?? 0) + 1 })) },
      guards: { cancelRequested },
    });
    const make = (name: string, states: Record<string, unknown>, type?: 'parallel'): Lifecycle => ({
      name, version: 1,
      machine: base.createMachine({ id: name, ...(type ? { type } : { initial: 'queued' }), context: ({ input }) => initialContext(input), states: states as never }) as unknown as AnyStateMachine,
    });
    const done = { type: 'final', tags: ['terminal', 'succeeded'] };
    const parallel = make('par', {
      a: { initial: 'queued', states: { queued: { tags: ['queued'], on: { CLAIM: { target: 'done', actions: 'apply' } } }, done } },
      b: { initial: 'idle', states: { idle: {} } },
    }, 'parallel');
    expect(compiledOf(parallel).compiled).toBe(false);
    expect(compiledOf(parallel).note).toMatch(/^par@1: every transition runs on XState \(parallel state \(root\)/);
    behavesAsXState(parallel, { params: null }, [{ type: 'CLAIM' }, { type: 'CLAIM' }]);

    const eventless = make('eventless', {
      queued: { tags: ['queued'], on: { CLAIM: { target: 'working', actions: 'apply' }, SET: { actions: 'apply' } } },
      working: { tags: ['running'], always: { guard: 'cancelRequested', target: 'done' }, on: { CANCEL: { actions: 'apply' }, PROGRESS: { actions: 'apply' } } },
      done,
    });
    const e = compiledOf(eventless);
    expect(e.isCompiled('queued', 'CLAIM')).toBe(false); // it ends where an eventless transition may fire
    expect(e.isCompiled('working', 'CANCEL')).toBe(false);
    expect(e.isCompiled('queued', 'SET')).toBe(true);
    expect(e.note).toContain('an eventless transition');
    behavesAsXState(eventless, { params: null }, [{ type: 'SET', priority: 2 }, { type: 'CLAIM' }, { type: 'PROGRESS', percent: 5 }, { type: 'CANCEL' }, { type: 'PROGRESS' }]);

    const entry = make('entry', {
      queued: { tags: ['queued'], on: { CLAIM: { target: 'working', actions: 'apply' } } },
      working: { tags: ['running'], entry: 'mark', on: { RELEASE: { target: 'queued', actions: 'apply' }, PROGRESS: { actions: 'apply' } } },
    });
    const n = compiledOf(entry);
    expect(n.isCompiled('queued', 'CLAIM')).toBe(false);
    expect(n.isCompiled('working', 'RELEASE')).toBe(false);
    expect(n.isCompiled('working', 'PROGRESS')).toBe(true); // no state is left or entered
    expect(n.note).toContain('entry or exit actions');
    behavesAsXState(entry, { params: null }, [{ type: 'CLAIM' }, { type: 'PROGRESS', percent: 3 }, { type: 'RELEASE' }, { type: 'CLAIM' }]);
  });

  it('an apply that is not the shared reducer runs as the assignment it is, not as the reducer', () => {
    const own = lifecycleOf('own', {}, 'queued');
    const machine = setup({
      types: { context: {} as JobContext, events: {} as CommonEvent, input: {} as JobInput },
      actions: { apply: assign(({ context }) => ({ ...context, priority: context.priority + 100 })) },
    }).createMachine({
      id: 'sneaky', initial: 'queued', context: ({ input }) => initialContext(input),
      states: { queued: { tags: ['queued'], on: { CLAIM: { target: 'done', actions: 'apply' } } }, done: { type: 'final', tags: ['terminal', 'succeeded'] } },
    });
    const sneaky: Lifecycle = { ...own, name: 'sneaky', machine: machine as unknown as AnyStateMachine };
    // Found by what it is (an assignment of its own), not by its name.
    expect(compiledOf(sneaky).isCompiled('queued', 'CLAIM')).toBe(true);
    const claimed = compiledOf(sneaky).step(firstSnapshot(machine as unknown as AnyStateMachine, { params: null, priority: 1 }), { type: 'CLAIM', at: 5 });
    expect((claimed.context as JobContext).priority).toBe(101);
    expect((claimed.context as JobContext).runAfter).toBe(null); // not reduceJob's CLAIM: it never ran
    behavesAsXState(sneaky, { params: null }, [{ type: 'CLAIM' }]);
  });

  it('an assign that spawns, one that reads self, an enqueueActions, a raise: on XState, which spawns and decides', () => {
    const child = fromPromise(async () => 1);
    const machine = setup({
      types: { context: {} as JobContext, events: {} as CommonEvent, input: {} as JobInput },
      actors: { child },
      actions: {
        apply: assign(applyJob),
        spawnHelper: assign(({ spawn }) => {
          spawn('child', { id: 'helper' });
          return { step: 1 };
        }),
        // Spawns only for some parameters: no sample at registration does, so the step itself must notice.
        // (It reaches for `spawn` only then: destructuring it would touch it on every step.)
        spawnSometimes: assign((args) => {
          if ((args.context.params as { spawn?: boolean } | null)?.spawn === true) args.spawn('child', { id: 'sometimes' });
          return { step: 2 };
        }),
        whoAmI: assign(({ self }) => ({ inside: self.id })),
        queue: enqueueActions(({ enqueue }) => enqueue.assign({ step: 5 })),
        again: raise({ type: 'PROGRESS', percent: 1, at: 0 }),
      },
    }).createMachine({
      id: 'actors', initial: 'queued', context: ({ input }) => initialContext(input),
      states: {
        queued: { tags: ['queued'], on: { CLAIM: { target: 'working', actions: ['apply', 'spawnSometimes'] }, SET: { actions: ['apply', 'spawnHelper'] } } },
        working: {
          tags: ['running'],
          on: {
            PROGRESS: { actions: 'apply' },
            CHECKPOINT: { actions: ['apply', 'whoAmI'] },
            STEP: { actions: ['apply', 'queue'] },
            ASK: { actions: ['apply', 'again'] },
            SUCCEED: { target: 'done', actions: 'apply' },
          },
        },
        done: { type: 'final', tags: ['terminal', 'succeeded'] },
      },
    });
    const actors: Lifecycle = { name: 'actors', version: 1, machine: machine as unknown as AnyStateMachine };
    const compiled = compiledOf(actors);
    expect(compiled.isCompiled('queued', 'SET')).toBe(false);
    expect(compiled.isCompiled('working', 'CHECKPOINT')).toBe(false);
    expect(compiled.isCompiled('working', 'STEP')).toBe(false);
    expect(compiled.isCompiled('working', 'ASK')).toBe(false);
    expect(compiled.isCompiled('queued', 'CLAIM')).toBe(true); // its samples never spawn
    expect(compiled.isCompiled('working', 'PROGRESS')).toBe(true);
    expect(compiled.note).toContain('an assignment that touches spawn, self or system');
    expect(compiled.note).toContain('the action "queue"');
    expect(compiled.note).toContain('the action "again"');
    const events = [{ type: 'SET', priority: 2 }, { type: 'CLAIM' }, { type: 'CHECKPOINT', step: 3 }, { type: 'STEP', name: 's', result: 1 }, { type: 'ASK', question: 1 }, { type: 'PROGRESS', percent: 9 }, { type: 'SUCCEED', result: 2 }];
    behavesAsXState(actors, { params: null }, events);
    behavesAsXState(actors, { params: { spawn: true } }, events);
    // XState spawned the children: the compiled step handed those transitions to it.
    const { step } = compiled;
    const start = (params: unknown) => firstSnapshot(machine as unknown as AnyStateMachine, { params: params as never });
    expect(Object.keys(step(start(null), { type: 'SET', at: 1, priority: 2 } as never).children)).toEqual(['helper']);
    expect(Object.keys(step(start({ spawn: true }), { type: 'CLAIM', at: 1 }).children)).toEqual(['sometimes']);
    const plain = step(start(null), { type: 'CLAIM', at: 1 });
    expect(Object.keys(plain.children)).toEqual([]);
    expect((plain.context as JobContext).step).toBe(2);
    const checkpoint = step(plain, { type: 'CHECKPOINT', at: 2, step: 3 } as never);
    expect((checkpoint.context as JobContext).inside).toBe(nextSnapshot(actors.machine, plain, { type: 'CHECKPOINT', at: 2, step: 3 } as never).context.inside);
    expect((step(plain, { type: 'STEP', at: 3, name: 's', result: 1 } as never).context as JobContext).step).toBe(5);
  });
});

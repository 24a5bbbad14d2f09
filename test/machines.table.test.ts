/**
 * Pins the five lifecycle machines: their wire spellings, every (state, event) cell of their
 * transition tables (test/support/lifecycle-tables.ts), their tags, and the tag contract that lets a
 * user's own machine run on the same engine.
 */
import { assign, initialTransition, setup, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ECOTAXA_STATES, QISKIT_STATUSES, QISKIT_STATUS_MESSAGES, RIME_STATUSES, SYNAPSE_STATES, UWS_PHASES,
  builtInLifecycles, ecotaxaMachine, qiskitMachine, rimeMachine, synapseMachine, uwsMachine,
} from '../machines/index.ts';
import {
  COMMON_EVENT_TYPES, ENGINE_TAGS, initialContext, reduceJob,
  type CommonEvent, type EngineTag, type JobContext, type JobInput, type Lifecycle,
} from '../machines/common.ts';
import { openDatabase } from '../src/db/open.ts';
import { Engine } from '../src/engine/engine.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { checkTagContract, LifecycleRegistry } from '../src/engine/lifecycles.ts';
import { isPhaselineError, type PhaselineError } from '../src/errors.ts';
import { replayJob } from '../src/replay/replay.ts';
import {
  ALL_EVENT_TYPES, COMMAND_TYPES, EVENT_KEYS, SAMPLE_EVENTS, TABLES, leafPaths, pinnedTable, statePath,
  type EventKey, type LifecycleTable, type Situation,
} from './support/lifecycle-tables.ts';
import { lifecycleOf } from './support/lifecycles.ts';
import { rawHistory, rawJob } from './support/sqlite.ts';
import { expectTransitions } from '../src/testing/index.ts';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const INPUT: JobInput = { params: { n: 1 } };

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

// ---------------------------------------------------------------------------------------------
// Wire spellings: each source system's own list of values, in its own order.

interface WireSpellings {
  exported: readonly string[];
  machine: AnyStateMachine;
  /** The wire values as the source system lists them. */
  literal: string[];
  /** Values that mean "no information" and must never be machine states (e.g. a client's "unknown"). */
  observations: string[];
}

/** EcoTaxa's JobModel, the UWS 1.1 XSD's ExecutionPhase (in XSD order), RIME's JobStatus (source order), Synapse's AsynchJobState, Qiskit's JobStatus. */
const WIRE: Record<keyof typeof builtInLifecycles, WireSpellings> = {
  ecotaxa: { exported: ECOTAXA_STATES, machine: ecotaxaMachine, literal: ['P', 'R', 'A', 'E', 'F'], observations: [] },
  uws: {
    exported: UWS_PHASES,
    machine: uwsMachine,
    literal: ['PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'ABORTED', 'UNKNOWN', 'HELD', 'SUSPENDED', 'ARCHIVED'],
    observations: ['UNKNOWN'],
  },
  rime: {
    exported: RIME_STATUSES,
    machine: rimeMachine,
    literal: [
      'JOB_STATUS_PENDING', 'JOB_STATUS_RUNNING', 'JOB_STATUS_FAILED', 'JOB_STATUS_SUCCEEDED',
      'JOB_STATUS_REQUESTED', 'JOB_STATUS_CANCELLED', 'JOB_STATUS_UNSPECIFIED',
    ],
    observations: ['JOB_STATUS_UNSPECIFIED'],
  },
  synapse: { exported: SYNAPSE_STATES, machine: synapseMachine, literal: ['PROCESSING', 'FAILED', 'COMPLETE'], observations: [] },
  qiskit: {
    exported: QISKIT_STATUSES,
    machine: qiskitMachine,
    literal: ['INITIALIZING', 'QUEUED', 'VALIDATING', 'RUNNING', 'CANCELLED', 'DONE', 'ERROR'],
    observations: [],
  },
};

describe('wire spellings', () => {
  const rows = Object.entries(WIRE);

  it.each(rows)('%s exports exactly the source system\'s spellings, in its order', (_name, wire) => {
    expect([...wire.exported]).toEqual(wire.literal);
  });

  it.each(rows)('%s machine: the top-level states are the wire values, minus the "no information" ones', (_name, wire) => {
    const states = Object.keys((wire.machine as AnyStateMachine).root.states);
    expect(new Set(states)).toEqual(new Set(wire.literal.filter((s) => !wire.observations.includes(s))));
    for (const state of states) expect(wire.literal).toContain(state);
  });

  it('UNKNOWN (UWS) and JOB_STATUS_UNSPECIFIED (RIME) are observations, never machine states (§6 point 8)', () => {
    for (const wire of Object.values(WIRE)) {
      const states = Object.keys((wire.machine as AnyStateMachine).root.states);
      expect(states).not.toContain('UNKNOWN');
      expect(states).not.toContain('JOB_STATUS_UNSPECIFIED');
    }
  });

  it('each lifecycle is registered under its name with its machine', () => {
    for (const [name, wire] of Object.entries(WIRE)) {
      const lifecycle = builtInLifecycles[name as keyof typeof builtInLifecycles];
      expect(lifecycle.name).toBe(name);
      expect(lifecycle.machine).toBe(wire.machine);
      expect(Number.isSafeInteger(lifecycle.version) && lifecycle.version >= 1).toBe(true);
    }
  });

  it('Qiskit status messages are the enum values of qiskit.providers.JobStatus (§5.1)', () => {
    expect(QISKIT_STATUS_MESSAGES).toEqual({
      INITIALIZING: 'job is being initialized',
      QUEUED: 'job is queued',
      VALIDATING: 'job is being validated',
      RUNNING: 'job is actively running',
      CANCELLED: 'job has been cancelled',
      DONE: 'job has successfully run',
      ERROR: 'job incurred error',
    });
  });

  it.each([
    ['ecotaxa', 'P', 'Waiting for a slot'],
    ['uws', 'QUEUED', null], // PHASE=RUN on creation
    ['rime', 'JOB_STATUS_PENDING', null], // admitted at enqueue
    ['synapse', 'PROCESSING', null],
    ['qiskit', 'QUEUED', null],
  ])('%s: a created and started job is in %s', (lifecycle, state, message) => {
    const engine = new Engine(new SqliteStore(openDatabase(':memory:')), { clock: () => 1_000 });
    const job = engine.create({ lifecycle, type: 't', input: INPUT });
    expect(job.state).toBe(state);
    expect(job.progressMessage).toBe(message);
    expect(job.claimable).toBe(true);
  });

  it.each([
    ['ecotaxa', 'P'],
    ['uws', 'PENDING'],
    ['rime', 'JOB_STATUS_REQUESTED'],
    ['synapse', 'PROCESSING'],
    ['qiskit', 'INITIALIZING'],
  ])('%s: a created job that is not started is in %s', (lifecycle, state) => {
    const engine = new Engine(new SqliteStore(openDatabase(':memory:')), { clock: () => 1_000 });
    expect(engine.create({ lifecycle, type: 't', input: INPUT, start: false }).state).toBe(state);
  });
});

// ---------------------------------------------------------------------------------------------
// Transition tables, cell by cell, through the pure transition() and through the engine.

function reachPure(table: LifecycleTable, situation: Situation): { snapshot: AnyMachineSnapshot; at: number } {
  const machine = table.lifecycle.machine as AnyStateMachine;
  let [snapshot] = initialTransition(machine, INPUT);
  let at = 1_000;
  for (const key of situation.reach) {
    const [next] = transition(machine, snapshot, { ...SAMPLE_EVENTS[key], at: (at += 1_000) });
    if (next === snapshot) throw new Error(`the path to ${situation.label} is refused at ${key}`);
    snapshot = next;
  }
  return { snapshot, at };
}

function tagsOf(snapshot: AnyMachineSnapshot): EngineTag[] {
  return ENGINE_TAGS.filter((tag) => snapshot.hasTag(tag));
}

const CANCELS: readonly string[] = ['CANCEL', 'ABORT', 'KILL'];

describe.each(Object.entries(TABLES))('%s transition table', (name, table) => {
  const machine = table.lifecycle.machine as AnyStateMachine;
  const cells = table.situations.flatMap((s) =>
    EVENT_KEYS.map((key) => [s.label, key, table.next(s.label, key) ?? 'refused'] as [string, EventKey, string]),
  );
  const situation = (label: string) => table.situations.find((s) => s.label === label)!;

  it('has a column for every leaf state of the machine and a row for every event of the vocabulary', () => {
    expect(new Set(table.situations.map((s) => s.path))).toEqual(new Set(leafPaths(machine)));
    const rowTypes = new Set(EVENT_KEYS.map((k) => k.split('+')[0]));
    expect(rowTypes).toEqual(new Set([...COMMON_EVENT_TYPES, ...COMMAND_TYPES]));
    expect(new Set(ALL_EVENT_TYPES)).toEqual(rowTypes);
  });

  it.each(table.situations.map((s) => [s.label, s] as const))('%s: reached by its path, with exactly its tags', (_label, s) => {
    const { snapshot } = reachPure(table, s);
    expect(statePath(snapshot)).toBe(s.path);
    expect(tagsOf(snapshot)).toEqual(ENGINE_TAGS.filter((t) => s.tags.includes(t)));
    const context = snapshot.context as JobContext;
    expect(context.cancelRequested).toBe(s.reach.some((k) => CANCELS.includes(k)));
    // The tag contract: terminal states carry exactly one outcome, others none.
    const outcomes = s.tags.filter((t) => t === 'succeeded' || t === 'failed' || t === 'cancelled');
    expect(outcomes.length).toBe(s.tags.includes('terminal') ? 1 : 0);
  });

  // Every cell through XState's pure transition(), by phaseline/testing's expectTransitions: it
  // explores every reachable situation and names each cell that differs from the matrix.
  it('pure transition(): every cell of the matrix, and no reachable situation outside it (expectTransitions)', () => {
    expectTransitions(table.lifecycle, pinnedTable(table), { version: 1 });
  });

  it('expectTransitions names a changed cell: the matrix with one cell flipped is refused, with that cell in the message', () => {
    const pinned = pinnedTable(table);
    const [state, row] = Object.entries(pinned)[0]!;
    const key = Object.keys(row).find((k) => row[k] === 'refused')!;
    const flipped = { ...pinned, [state]: { ...row, [key]: state } };
    expect(() => expectTransitions(table.lifecycle, flipped)).toThrow(new RegExp(`${escape(state)} × ${escape(key)}: expected ${escape(state)}, actual refused`));
  });

  describe('through the engine', () => {
    let engine: Engine<SqliteStore>;
    let now = 1_000;
    beforeAll(() => {
      engine = new Engine(new SqliteStore(openDatabase(':memory:')), { clock: () => (now += 10) });
    });

    function reach(s: Situation): number {
      const job = engine.create({ lifecycle: name, type: 'table', input: INPUT, start: false, owner: 'alice' });
      for (const key of s.reach) engine.send(job.id, SAMPLE_EVENTS[key]);
      return job.id;
    }

    it.each(table.situations.map((s) => [s.label, s] as const))('%s: the row mirrors the tags', (_label, s) => {
      const row = engine.get(reach(s));
      expect(statePath(row.snapshot)).toBe(s.path);
      expect(row.state).toBe(s.top);
      expect(row.claimable).toBe(s.tags.includes('queued'));
      expect(row.running).toBe(s.tags.includes('running'));
      expect(row.waiting).toBe(s.tags.includes('waiting'));
      expect(row.outcome).toBe(s.tags.find((t) => t === 'succeeded' || t === 'failed' || t === 'cancelled') ?? null);
      expect(row.endedAt !== null).toBe(s.tags.includes('terminal'));
      expect(row.cancelRequested).toBe(s.reach.some((k) => CANCELS.includes(k)));
    });

    it.each(cells)('engine.send: %s + %s → %s', (label, key, expected) => {
      const s = situation(label);
      const id = reach(s);
      const before = engine.get(id);
      const raw = [rawJob(engine.store.database.sqlite, id), rawHistory(engine.store.database.sqlite, id)];
      const event = SAMPLE_EVENTS[key];
      if (expected === 'refused') {
        const error = caught(() => engine.send(id, event)) as PhaselineError & { state?: string; eventType?: string };
        expect(isPhaselineError(error, 'ILLEGAL_TRANSITION')).toBe(true);
        expect(error.state).toBe(s.path);
        expect(error.eventType).toBe(event.type);
        expect([rawJob(engine.store.database.sqlite, id), rawHistory(engine.store.database.sqlite, id)]).toStrictEqual(raw);
      } else {
        const row = engine.send(id, event);
        expect(statePath(row.snapshot)).toBe(expected);
        expect(row.state).toBe(expected.split('.')[0]);
        expect(row.version).toBe(before.version + 1);
        expect(engine.history(id).at(-1)).toMatchObject({ seq: row.version, type: event.type, stateBefore: s.top, stateAfter: row.state });
        expect(replayJob(engine, id).divergences).toEqual([]);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Attempts: which claims begin a new attempt and which resume the current one.

describe('attempts', () => {
  function run(lifecycle: string, keys: EventKey[]): { attempt: number; percent: number } {
    const engine = new Engine(new SqliteStore(openDatabase(':memory:')), { clock: () => 1_000 });
    const job = engine.create({ lifecycle, type: 't', input: INPUT, start: false });
    let row = job;
    for (const key of keys) row = engine.send(job.id, SAMPLE_EVENTS[key]);
    return { attempt: row.attempt, percent: row.progressPercent };
  }

  it.each<[string, EventKey[], number, number]>([
    ['ecotaxa', ['CLAIM', 'PROGRESS'], 1, 40],
    ['ecotaxa', ['CLAIM', 'PROGRESS', 'ASK', 'REPLY', 'CLAIM'], 1, 40], // a reply resumes the attempt
    ['ecotaxa', ['CLAIM', 'PROGRESS', 'RELEASE', 'CLAIM'], 1, 40], // so does a release
    ['ecotaxa', ['CLAIM', 'PROGRESS', 'FAIL+retry', 'CLAIM'], 2, 0], // a retry is a new attempt
    ['ecotaxa', ['CLAIM', 'PROGRESS', 'FAIL', 'RESTART', 'CLAIM'], 2, 0], // and so is a restart
    ['uws', ['RUN', 'CLAIM', 'PROGRESS', 'SUSPEND', 'CLAIM'], 1, 40], // a suspension resumes
    ['uws', ['RUN', 'CLAIM', 'PROGRESS', 'SUSPEND', 'RESUME'], 1, 40],
    ['uws', ['RUN', 'CLAIM', 'PROGRESS', 'HOLD', 'RUN', 'CLAIM'], 2, 0], // HELD → RUN is a new attempt (uws.ts)
    ['rime', ['ADMIT', 'CLAIM', 'PROGRESS', 'LEASE_LOST+retry', 'CLAIM'], 2, 0],
    ['synapse', ['CLAIM', 'PROGRESS', 'TIMEOUT+retry', 'CLAIM'], 2, 0],
    ['qiskit', ['QUEUE', 'CLAIM', 'VALIDATED', 'PROGRESS', 'RELEASE', 'CLAIM'], 1, 40],
  ])('%s after %j: attempt %i, progress %d', (lifecycle, keys, attempt, percent) => {
    expect(run(lifecycle, keys)).toEqual({ attempt, percent });
  });

  // A RESUME continues the suspended attempt directly (no claim), so it must not leave the
  // "the next claim resumes" flag behind: a later retry is a new attempt like any other.
  it('uws: a retry after SUSPEND and RESUME is a new attempt', () => {
    expect(run('uws', ['RUN', 'CLAIM', 'PROGRESS', 'SUSPEND', 'RESUME', 'FAIL+retry', 'CLAIM'])).toEqual({ attempt: 2, percent: 0 });
  });
});

// ---------------------------------------------------------------------------------------------
// The tag contract: a user's own lifecycle runs on the same engine; a broken one is refused.

type TicketEvent = CommonEvent;

const ticketMachine = setup({
  types: { context: {} as JobContext, events: {} as TicketEvent, input: {} as JobInput },
  actions: { apply: assign(({ context, event }) => reduceJob(context, event)) },
}).createMachine({
  id: 'ticket',
  initial: 'open',
  context: ({ input }) => initialContext(input),
  states: {
    open: {
      tags: ['queued'],
      on: { CLAIM: { target: 'working', actions: 'apply' }, CANCEL: { target: 'closed.dropped', actions: 'apply' } },
    },
    working: {
      tags: ['running'],
      on: {
        PROGRESS: { actions: 'apply' },
        ASK: { target: 'blocked', actions: 'apply' },
        SUCCEED: { target: 'closed.done', actions: 'apply' },
        FAIL: { target: 'closed.broken', actions: 'apply' },
      },
    },
    blocked: { tags: ['waiting'], on: { REPLY: { target: 'open', actions: 'apply' } } },
    closed: {
      tags: ['terminal'],
      initial: 'done',
      states: {
        done: { tags: ['succeeded'], type: 'final' },
        broken: { tags: ['failed'], type: 'final' },
        dropped: { tags: ['cancelled'], type: 'final' },
      },
    },
  },
});
const ticket: Lifecycle<typeof ticketMachine> = { name: 'ticket', version: 1, machine: ticketMachine };

describe('a user-defined lifecycle', () => {
  it('registers next to the built-ins and runs end to end on the engine', () => {
    const lifecycles = new LifecycleRegistry([...Object.values(builtInLifecycles), ticket]);
    expect(lifecycles.names()).toEqual(['ecotaxa', 'uws', 'rime', 'synapse', 'qiskit', 'ticket']);
    let now = 10_000;
    const engine = new Engine(new SqliteStore(openDatabase(':memory:')), { lifecycles, clock: () => (now += 100) });

    const job = engine.create({ lifecycle: 'ticket', type: 'support', input: { params: { subject: 'help' } }, owner: 'bob' });
    expect(job).toMatchObject({ state: 'open', claimable: true, version: 1, startedAt: null, endedAt: null });
    expect(engine.claimableIds(now, 10)).toContain(job.id);

    let row = engine.send(job.id, { type: 'CLAIM' }, { lease: { leaseId: 'L1', leaseExpiresAt: now + 60_000, workerId: 'w1' } });
    expect(row).toMatchObject({ state: 'working', running: true, attempt: 1, leaseId: 'L1', startedAt: row.updatedAt });
    const started = row.startedAt;
    row = engine.send(job.id, { type: 'PROGRESS', current: 1, total: 4 }, { fence: { leaseId: 'L1' } });
    expect(row.progressPercent).toBe(25);
    row = engine.send(job.id, { type: 'ASK', question: { which: ['a', 'b'] } });
    expect(row).toMatchObject({ state: 'blocked', waiting: true, leaseId: null });
    expect(caught(() => engine.send(job.id, { type: 'SUCCEED', result: null }))).toMatchObject({ code: 'ILLEGAL_TRANSITION' });
    row = engine.send(job.id, { type: 'REPLY', reply: 'a' });
    expect(row.state).toBe('open');
    row = engine.send(job.id, { type: 'CLAIM' });
    expect(row).toMatchObject({ attempt: 1, progressPercent: 25, startedAt: started }); // the reply resumed the attempt
    row = engine.send(job.id, { type: 'SUCCEED', result: { answer: 42 } });
    expect(row).toMatchObject({ state: 'closed', outcome: 'succeeded', progressPercent: 100, endedAt: row.updatedAt, result: { answer: 42 } });
    expect(caught(() => engine.send(job.id, { type: 'CANCEL' }))).toMatchObject({ code: 'ILLEGAL_TRANSITION', state: 'closed.done' });

    expect(engine.history(job.id).map((e) => `${e.type}:${e.stateAfter}`)).toEqual([
      'CREATE:open', 'CLAIM:working', 'PROGRESS:working', 'ASK:blocked', 'REPLY:open', 'CLAIM:working', 'SUCCEED:closed',
    ]);
    expect(replayJob(engine, job.id).divergences).toEqual([]);

    // The built-ins still run on the same engine.
    const other = engine.create({ lifecycle: 'ecotaxa', type: 'import', input: INPUT });
    expect(engine.send(other.id, { type: 'CLAIM' }).state).toBe('R');
  });

  it('is unknown to an engine that did not register it', () => {
    const engine = new Engine(new SqliteStore(openDatabase(':memory:')));
    expect(caught(() => engine.create({ lifecycle: 'ticket', type: 'support', input: INPUT }))).toMatchObject({ code: 'UNKNOWN_LIFECYCLE' });
  });
});

describe('checkTagContract', () => {
  it.each(Object.values(builtInLifecycles).map((l) => [l.name, l] as const))('accepts %s', (_name, lifecycle) => {
    expect(() => checkTagContract(lifecycle)).not.toThrow();
  });

  it('accepts the user-defined ticket lifecycle', () => {
    expect(() => checkTagContract(ticket)).not.toThrow();
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    [
      'a terminal state without an outcome tag',
      { q: { tags: ['queued'], on: { CLAIM: 'r' } }, r: { tags: ['running'], on: { SUCCEED: 'done' } }, done: { tags: ['terminal'], type: 'final' } },
      'q',
      /terminal state done needs exactly one of/,
    ],
    [
      'a terminal state with two outcomes',
      { q: { tags: ['queued'], on: { CLAIM: 'done' } }, done: { tags: ['terminal', 'succeeded', 'failed'], type: 'final' } },
      'q',
      /terminal state done needs exactly one of/,
    ],
    [
      'a terminal parent whose child has no outcome',
      {
        q: { tags: ['queued'], on: { CLAIM: 'end' } },
        end: { tags: ['terminal'], initial: 'ok', states: { ok: { tags: ['succeeded'] }, meh: {} } },
      },
      'q',
      /terminal state end\.meh needs exactly one of/,
    ],
    [
      'no queued state',
      { r: { tags: ['running'], on: { SUCCEED: 'done' } }, done: { tags: ['terminal', 'succeeded'], type: 'final' } },
      'r',
      /no state is tagged queued/,
    ],
    ['no terminal state', { q: { tags: ['queued'], on: { CLAIM: 'r' } }, r: { tags: ['running'] } }, 'q', /no state is tagged terminal/],
    [
      'an outcome on a state that is not terminal',
      { q: { tags: ['queued', 'failed'], on: { CLAIM: 'done' } }, done: { tags: ['terminal', 'succeeded'], type: 'final' } },
      'q',
      /state q has an outcome tag but is not terminal/,
    ],
    [
      'a terminal state that is also running',
      { q: { tags: ['queued'], on: { CLAIM: 'done' } }, done: { tags: ['terminal', 'succeeded', 'running'], type: 'final' } },
      'q',
      /terminal state done cannot be running or queued/,
    ],
    [
      'a state both running and queued',
      { q: { tags: ['queued', 'running'], on: { SUCCEED: 'done' } }, done: { tags: ['terminal', 'succeeded'], type: 'final' } },
      'q',
      /state q cannot be both running and queued/,
    ],
  ])('refuses %s with INVALID_INPUT, at registration too', (_what, states, initial, message) => {
    const bad = lifecycleOf('bad', states, initial);
    const direct = caught(() => checkTagContract(bad));
    expect(isPhaselineError(direct, 'INVALID_INPUT')).toBe(true);
    expect((direct as Error).message).toMatch(message);
    const viaRegistry = caught(() => new LifecycleRegistry([...Object.values(builtInLifecycles), bad]));
    expect(isPhaselineError(viaRegistry, 'INVALID_INPUT')).toBe(true);
    const registry = new LifecycleRegistry();
    expect(isPhaselineError(caught(() => registry.register(bad)), 'INVALID_INPUT')).toBe(true);
    expect(registry.names()).not.toContain('bad');
  });
});

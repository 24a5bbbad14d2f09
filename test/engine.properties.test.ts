/**
 * Property tests of the rules that hold on every transition (README, "Design notes"), one describe per lifecycle.
 *
 * Each run creates a fresh job in a real SQLite file (one file per lifecycle) and sends it 1..25
 * random events (the lifecycle's own, other lifecycles', unknown names, malformed payloads, options
 * that must be refused) while the injected clock moves forward by random amounts and sometimes back.
 * After every step the test checks every rule; the expected answer to each event (accepted into which
 * state, or which typed error) comes from the transition tables of test/support/lifecycle-tables.ts.
 * The rules themselves are phaseline/testing's (src/testing/stored-rules.ts, step-rules.ts: the
 * ones `checkLifecycle` checks on a user's lifecycle); on top of them this test checks the stored
 * bytes, the send options (owner, version, lease fences) and the leases a claim records.
 * Sequences alternate between the compiled lifecycles (src/engine/compiled.ts) and XState alone,
 * and each job's history is replayed through both paths.
 *
 * Environment: PHASELINE_PROPERTY_RUNS (default 1000 per lifecycle), PHASELINE_SEED (default 20261125),
 * PHASELINE_VERBOSE (fast-check verbosity, default 0). A failure prints the seed and path to replay it.
 */
import { deepStrictEqual } from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ECOTAXA_STATES, QISKIT_STATUSES, RIME_STATUSES, SYNAPSE_STATES, UWS_PHASES } from '../machines/index.ts';
import { openDatabase, type OpenDatabase } from '../src/db/open.ts';
import type { JobRow } from '../src/db/schema.ts';
import { Engine, type SendOptions } from '../src/engine/engine.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import type { PhaselineErrorCode } from '../src/errors.ts';
import { replayJob } from '../src/replay/replay.ts';
import { diffJson, sameJson, show } from '../src/testing/json.ts';
import { RuleViolation, type RuleId, type StoredRecord } from '../src/testing/rules.ts';
import { checkAcceptedStep, checkAnswer, checkReplay, checkTerminalAccepts, LifeTimes, type ExpectedAnswer } from '../src/testing/step-rules.ts';
import { checkStoredJob } from '../src/testing/stored-rules.ts';
import { RULES } from '../src/testing/index.ts';
import { stepsArb, type GeneratedEvent, type Step } from './support/commands.ts';
import { TABLES, eventKeyOf, statePath, type LifecycleTable } from './support/lifecycle-tables.ts';
import { lastRowids, rawHistory, rawJob, tempDir } from './support/sqlite.ts';
import { envInt } from './support/env.ts';
import { eventArbitraries, type ParkingStep } from '../src/testing/arbitraries.ts';

const RUNS = envInt('PHASELINE_PROPERTY_RUNS', 1000);
const SEED = envInt('PHASELINE_SEED', 20261125);
const VERBOSE = envInt('PHASELINE_VERBOSE', 0) as fc.VerbosityLevel;

type Name = keyof typeof TABLES;

/** Each lifecycle's own commands (its machine's doc comment). */
const OWN_COMMANDS: Record<Name, readonly string[]> = {
  ecotaxa: ['KILL', 'RESTART'],
  uws: ['RUN', 'ABORT', 'HOLD', 'SUSPEND', 'RESUME', 'ARCHIVE'],
  rime: ['ADMIT'],
  synapse: [],
  qiskit: ['QUEUE', 'VALIDATED'],
};

/** Wire values a stored row may show (UNKNOWN and UNSPECIFIED are never stored). */
const STORABLE: Record<Name, readonly string[]> = {
  ecotaxa: ECOTAXA_STATES,
  uws: UWS_PHASES.filter((p) => p !== 'UNKNOWN'),
  rime: RIME_STATUSES.filter((s) => s !== 'JOB_STATUS_UNSPECIFIED'),
  synapse: SYNAPSE_STATES,
  qiskit: QISKIT_STATUSES,
};

/**
 * What a terminal state accepts (each machine's doc comment): EcoTaxa E a restart; UWS COMPLETED,
 * ERROR and ABORTED an archive and a SET of job-control values (not of parameters); nothing else.
 */
const TERMINAL_ACCEPTS: Record<Name, Record<string, readonly string[]>> = {
  ecotaxa: { E: ['RESTART'] },
  uws: { COMPLETED: ['ARCHIVE', 'SET'], ERROR: ['ARCHIVE', 'SET'], ABORTED: ['ARCHIVE', 'SET'] },
  rime: {},
  synapse: {},
  qiskit: {},
};

const OWNER = 'alice';
const MISSING_JOB = 2 ** 31;

/** A rule of this test's own (the stored bytes, the send options, leases), beside phaseline/testing's. */
function broken(rule: RuleId | 'raw-bytes' | 'lease-columns' | 'cancel-requested', detail: string, where: () => string): never {
  if (rule in RULES) throw new RuleViolation(rule as RuleId, detail, where());
  throw new Error(`${where()}: ${rule}: ${detail}`);
}

/** What the model tracks besides the table: the state, the cancel flag, and the instants the rules fix. */
interface Model {
  path: string;
  cancelRequested: boolean;
  lifeTimes: LifeTimes;
}

/**
 * The right answers to one send: a refusal with one of `refuse` (and nothing written), or, when
 * `accept` is set, acceptance into that state. Usually exactly one of the two.
 */
type Expected = ExpectedAnswer & { refuse: PhaselineErrorCode[] };

describe.each(Object.keys(TABLES) as Name[])('%s: the rules hold after every step', (name) => {
  const table: LifecycleTable = TABLES[name];
  let dir: string;
  let database: OpenDatabase;
  let engine: Engine;
  /**
   * Engines on one database: one serves transitions from its live snapshots, the other restores every
   * snapshot from the row; each both with the compiled lifecycles (src/engine/compiled.ts) and on
   * XState alone. Sequences alternate between the two paths.
   */
  let engines: Record<'compiled' | 'xstate', { cached: Engine; restoring: Engine }>;
  let sequence = 0;
  let now = 0;

  beforeAll(() => {
    dir = tempDir(`properties-${name}`);
    database = openDatabase(join(dir, `${name}.db`));
    const pair = (compiledLifecycles: boolean) => ({
      cached: new Engine(new SqliteStore(database), { clock: () => now, compiledLifecycles }),
      restoring: new Engine(new SqliteStore(database), { clock: () => now, snapshotCacheSize: 0, compiledLifecycles }),
    });
    engines = { compiled: pair(true), xstate: pair(false) };
    console.log(`[engine.properties] ${name}: seed=${SEED} numRuns=${RUNS} (PHASELINE_SEED, PHASELINE_PROPERTY_RUNS)`);
  });

  afterAll(() => {
    database?.sqlite.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tags = (path: string) => table.tagsOf(path);
  const initial = table.situations.find((s) => s.reach.length === 0)!;

  /** The state a well-formed event leads to from the model's state, or null when it is refused. */
  function nextPath(event: unknown, model: Model): string | null {
    const key = eventKeyOf(event as { type: string } & Record<string, unknown>);
    return key && table.next(table.labelOf(model.path, model.cancelRequested), key);
  }

  function choose(step: Step, model: Model): GeneratedEvent {
    const [first] = step.candidates;
    if (!step.steer) return first!;
    return step.candidates.find((c) => c.valid && nextPath(c.event, model) !== null) ?? first!;
  }

  function expectation(generated: GeneratedEvent, step: Step, prev: JobRow, model: Model): Expected {
    if (generated.valid === false) return { refuse: ['INVALID_INPUT'], accept: null };
    const expected = ((): Expected => {
      switch (step.option.kind) {
        case 'missing-job':
          return { refuse: ['JOB_NOT_FOUND'], accept: null };
        case 'owner-wrong':
          return { refuse: ['WRONG_OWNER'], accept: null };
        case 'expect-stale':
          return { refuse: ['STALE_VERSION'], accept: null };
        case 'fence-wrong':
          return { refuse: ['LEASE_LOST'], accept: null };
        case 'fence-held':
          if (prev.leaseId === null) return { refuse: ['LEASE_LOST'], accept: null };
          break;
      }
      const next = nextPath(generated.event, model);
      return next ? { refuse: [], accept: next } : { refuse: ['ILLEGAL_TRANSITION'], accept: null };
    })();
    // Refusing input the rules cannot store is as right as storing it faithfully: a lone
    // surrogate, or a progress report of only current (or only total) that would leave
    // current > total against the stored figure (accepting that breaks "current ≤ total").
    if (generated.valid === 'either' || progressConflict(generated.event, prev)) expected.refuse.push('INVALID_INPUT');
    return expected;
  }

  /** A well-formed PROGRESS whose current and total, merged with the stored ones, put current above total. */
  function progressConflict(event: unknown, prev: JobRow): boolean {
    const e = event as { type: string; current?: number; total?: number };
    if (e.type !== 'PROGRESS') return false;
    const current = e.current ?? prev.progressCurrent;
    const total = e.total ?? prev.progressTotal;
    return current !== null && total !== null && current > total;
  }

  function sendOptions(step: Step, prev: JobRow): SendOptions {
    const option = step.option;
    switch (option.kind) {
      case 'none':
      case 'missing-job':
        return {};
      case 'expect-current':
        return { expectVersion: prev.version };
      case 'expect-stale':
        return { expectVersion: prev.version + option.delta };
      case 'owner-right':
        return { owner: OWNER };
      case 'owner-wrong':
        return { owner: 'mallory' };
      case 'fence-held':
        return { fence: { leaseId: prev.leaseId ?? 'no-lease-is-held' } };
      case 'fence-wrong':
        return { fence: { leaseId: 'stolen-lease' } };
      case 'lease':
        return { lease: { leaseId: option.leaseId, leaseExpiresAt: now + option.ttl, workerId: `worker-${option.leaseId}` } };
    }
  }

  function runScenario(scenario: { start: boolean; cached: boolean; createdAt: number; params: unknown; steps: Step[] }): void {
    const { steps } = scenario;
    // Every other sequence on XState alone: both paths must keep every rule, and each replays the other's history.
    const path = sequence++ % 2 === 0 ? 'compiled' : 'xstate';
    const other = engines[path === 'compiled' ? 'xstate' : 'compiled'].restoring;
    engine = scenario.cached ? engines[path].cached : engines[path].restoring;
    const sqlite = database.sqlite;
    now = scenario.createdAt;
    const created = engine.create({ lifecycle: name, type: 'prop', input: { params: scenario.params as never }, owner: OWNER, start: scenario.start });
    const id = created.id;
    const read = (): StoredRecord & { job: JobRow } => ({ job: engine.get(id), history: engine.history(id) });
    let record = read();
    const facts = (row: JobRow) => ({ tags: tags(statePath(row.snapshot)), states: STORABLE[name] });

    // Creation: the initial state, then the start events, all at the creation instant.
    let expectedPath = initial.path;
    const lifeTimes = new LifeTimes();
    lifeTimes.enter(tags(expectedPath), now);
    if (scenario.start) {
      for (const type of table.lifecycle.startEvents ?? []) {
        expectedPath = table.next(table.labelOf(expectedPath, false), type as never) ?? `(start event ${type} refused)`;
        lifeTimes.enter(tags(expectedPath), now);
      }
    }
    const where0 = () => `create(start=${scenario.start})`;
    const row0 = record.job;
    if (statePath(row0.snapshot) !== expectedPath) broken('transition-target', `state ${statePath(row0.snapshot)}, expected ${expectedPath}`, where0);
    if (row0.createdAt !== now || row0.updatedAt !== now) broken('clock-stamp', `created ${row0.createdAt}/updated ${row0.updatedAt}, clock ${now}`, where0);
    if (!sameJson(created, row0)) broken('returned-row', `create() returned vs stored: ${diffJson(created, row0)}`, where0);
    lifeTimes.check(row0, where0);
    checkStoredJob(record, facts(row0), where0);

    const model: Model = { path: expectedPath, cancelRequested: false, lifeTimes };
    const replayEachStep = steps.length <= 6;
    // The stored bytes before each step (the previous step's after).
    let raw = rawJob(sqlite, id);
    let rawEvents = rawHistory(sqlite, id);
    let rowids = lastRowids(sqlite);

    steps.forEach((step, i) => {
      now = Math.max(0, now + step.dt);
      const before = record;
      const prev = before.job;
      const prevRaw = raw;
      const prevRawHistory = rawEvents;
      const prevRowids = rowids;
      const generated = choose(step, model);
      const expected = expectation(generated, step, prev, model);
      const options = sendOptions(step, prev);
      const label = table.labelOf(model.path, model.cancelRequested);
      // Built only when a rule breaks: stringifying every step costs more than the checks.
      const where = () => `step ${i + 1}/${steps.length} ${show(generated.event)} ${show(options)} in ${label} (v${prev.version})`;
      const same = (actual: unknown, expectedValue: unknown, rule: Parameters<typeof broken>[0], what: string) => {
        try {
          deepStrictEqual(actual, expectedValue);
        } catch (e) {
          broken(rule, `${what}: ${(e as Error).message}`, where);
        }
      };

      let returned: JobRow | undefined;
      let error: unknown;
      try {
        returned = engine.send(step.option.kind === 'missing-job' ? MISSING_JOB : id, generated.event as never, options);
      } catch (e) {
        error = e;
      }

      if (error !== undefined) {
        checkAnswer(expected, { error }, where);
        // A refused event changes nothing: row and history byte for byte, and no other row either.
        same(rawJob(sqlite, id), prevRaw, 'refusal-changes-nothing', 'the row');
        same(rawHistory(sqlite, id), prevRawHistory, 'refusal-changes-nothing', 'the history');
        same(lastRowids(sqlite), prevRowids, 'refusal-changes-nothing', 'no row written');
        return;
      }

      checkAnswer(expected, { path: statePath(returned!.snapshot) }, where);
      record = read();
      const { job: row } = record;
      const event = generated.event as { type: string } & Record<string, unknown>;
      const path = statePath(row.snapshot);
      const at = Math.max(now, prev.updatedAt);
      const { type, at: _ownAt, ...payload } = event;
      checkAcceptedStep({ before, after: record, returned: returned!, type, payload, at, expectedPath: expected.accept }, where);

      // The stored bytes: the new row and one event, nothing else; the older events byte for byte.
      raw = rawJob(sqlite, id);
      rawEvents = rawHistory(sqlite, id);
      const after = lastRowids(sqlite);
      if (after.jobs !== prevRowids.jobs || after.events !== `${id}:${row.version}`) {
        broken('raw-bytes', `an accepted event writes its row and one event, nothing else: ${show(prevRowids)} → ${show(after)}`, where);
      }
      rowids = after;
      same(rawEvents.slice(0, -1), prevRawHistory, 'history-append-only', 'older events, as stored');

      // Terminal states accept only what their lifecycle allows.
      if (prev.endedAt !== null) checkTerminalAccepts(prev.state, eventKeyOf(event) ?? type, TERMINAL_ACCEPTS[name][prev.state] ?? [], where);

      // The model: cancel flag, started (first running since creation or restart), ended.
      if (type === 'CANCEL' || type === 'ABORT' || type === 'KILL') model.cancelRequested = true;
      if (type === 'RESTART') model.cancelRequested = false;
      model.lifeTimes.enter(tags(path), at);
      model.path = path;
      if (row.cancelRequested !== model.cancelRequested) broken('cancel-requested', `${row.cancelRequested} vs ${model.cancelRequested}`, where);
      model.lifeTimes.check(row, where);

      // Leases: a claim records the given lease, a running job keeps its own, others hold none.
      const lease =
        !row.running ? [null, null, null]
        : step.option.kind === 'lease' ? [options.lease!.leaseId, options.lease!.leaseExpiresAt, options.lease!.workerId]
        : [prev.leaseId, prev.leaseExpiresAt, prev.workerId];
      if (!sameJson([row.leaseId, row.leaseExpiresAt, row.workerId], lease)) broken('lease-columns', `${show([row.leaseId, row.leaseExpiresAt, row.workerId])} vs ${show(lease)}`, where);

      checkStoredJob(record, facts(row), where);
      if (replayEachStep) checkReplay(replayJob(engine, id).divergences, where);
    });

    checkReplay(replayJob(engine, id).divergences, () => `after ${steps.length} steps (${path})`);
    // The other path folds the same history into the same states and the same row, step by step.
    checkReplay(replayJob(other, id).divergences, () => `after ${steps.length} steps (${path}), replayed by the other path`);
  }

  it(
    `keeps every rule on random command sequences`,
    () => {
      const scenario = fc.record({
        start: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        cached: fc.boolean(),
        createdAt: fc.integer({ min: 1_000_000_000_000, max: 2_000_000_000_000 }),
        params: fc.jsonValue({ maxDepth: 2 }),
        steps: stepsArb(OWN_COMMANDS[name]),
      });
      fc.assert(fc.property(scenario, runScenario), { seed: SEED, numRuns: RUNS, verbose: VERBOSE, endOnFailure: false });
    },
    Math.max(120_000, RUNS * 300),
  );
});

/**
 * Parked jobs (src/engine/parking.ts): random sleeps, signal waits (their record index right, or
 * one past it), signals, claims (which wake a due parked job), finishes and cancellations, with
 * the clock moving. The expected answer to each step is worked out here from the row before it
 * (its state's tags and the parking fields of its snapshot), independently of the engine; after
 * every step the stored rules hold, an accepted step adds exactly one event (a refused one changes
 * no byte), the parked flag is what the step implies, and replay rebuilds the row.
 */
describe.each(Object.keys(TABLES) as Name[])('%s: parked jobs keep the rules after every step', (name) => {
  const table: LifecycleTable = TABLES[name];
  const lifecycle = table.lifecycle;
  const arbitraries = eventArbitraries(fc);
  let dir: string;
  let database: OpenDatabase;
  let engines: { cached: Engine; restoring: Engine };
  let now = 0;
  let leases = 0;
  /** What the runs exercised, printed at the end (a property that never parks a job proves nothing). */
  const seen = { parks: 0, wakes: 0, signalled: 0, refused: 0 };

  beforeAll(() => {
    dir = tempDir(`parking-${name}`);
    database = openDatabase(join(dir, `${name}.db`));
    engines = {
      cached: new Engine(new SqliteStore(database), { clock: () => now }),
      restoring: new Engine(new SqliteStore(database), { clock: () => now, snapshotCacheSize: 0 }),
    };
    console.log(`[engine.properties] ${name} parked: seed=${SEED} numRuns=${Math.ceil(RUNS / 2)}`);
  });

  afterAll(() => {
    console.log(`[engine.properties] ${name} parked: ${seen.parks} parks, ${seen.wakes} wakes, ${seen.signalled} waits resolved by a signal, ${seen.refused} refusals`);
    database?.sqlite.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const leaseFor = (at: number) => {
    const leaseId = `lease-${++leases}`;
    return { leaseId, leaseExpiresAt: at + 30_000, workerId: 'w', actor: `w/${leaseId}` };
  };

  function runScenario(scenario: { cached: boolean; createdAt: number; steps: ParkingStep[] }): void {
    const engine = scenario.cached ? engines.cached : engines.restoring;
    const sqlite = database.sqlite;
    now = scenario.createdAt;
    // A type of its own: the claims below must not take an earlier scenario's job.
    const type = `park-${++leases}`;
    const id = engine.create({ lifecycle: name, type, input: { params: null }, start: true }).id;
    const read = (): StoredRecord & { job: JobRow } => ({ job: engine.get(id), history: engine.history(id) });
    const facts = (row: JobRow) => ({ tags: table.tagsOf(statePath(row.snapshot)), states: STORABLE[name] });
    scenario.steps.forEach((step, i) => {
      now = Math.max(0, now + step.dt);
      const before = read();
      const prev = before.job;
      const prevRaw = rawJob(sqlite, id);
      const prevHistory = rawHistory(sqlite, id);
      const tags = table.tagsOf(statePath(prev.snapshot));
      const context = prev.snapshot.context as { parked?: { wakeAt: number | null; signal: string | null } | null; waits?: unknown[]; signals?: Array<{ name: string }> };
      const handlerState = tags.includes('running') && !tags.includes('validating');
      const parked = tags.includes('running') && context.parked ? context.parked : null;
      const waits = context.waits?.length ?? 0;
      const at = Math.max(now, prev.updatedAt);
      const where = () => `step ${i + 1}/${scenario.steps.length} ${show(step)} in ${statePath(prev.snapshot)} (v${prev.version}, parked ${show(parked)})`;

      // The event and the expected answer: accepted (and then parked or not), or refused with one of `refuse`.
      let event: ({ type: string } & Record<string, unknown>) | null = null;
      let accept: boolean | null = null; // null: not predicted here (the machine's own answer to CANCEL)
      let parkedAfter: boolean | null = null;
      let refuse: PhaselineErrorCode[] = [];
      const mayPark = handlerState && !parked && prev.leaseId !== null;
      switch (step.kind) {
        case 'sleep': {
          const until = at + step.ms;
          event = { type: 'SLEEP', until, index: waits + step.indexOffset };
          accept = mayPark && step.indexOffset === 0;
          parkedAfter = until > at;
          refuse = prev.leaseId === null ? ['LEASE_LOST'] : ['ILLEGAL_TRANSITION'];
          break;
        }
        case 'wait': {
          const until = step.timeoutMs === null ? null : at + step.timeoutMs;
          event = { type: 'WAIT', signal: step.signal, until, index: waits + step.indexOffset };
          accept = mayPark && step.indexOffset === 0;
          const kept = (context.signals ?? []).some((s) => s.name === step.signal);
          parkedAfter = !kept && !(until !== null && until <= at);
          refuse = prev.leaseId === null ? ['LEASE_LOST'] : ['ILLEGAL_TRANSITION'];
          break;
        }
        case 'signal':
          event = { type: 'SIGNAL', name: step.name, payload: step.payload };
          accept = prev.endedAt === null;
          parkedAfter = parked !== null;
          refuse = ['ILLEGAL_TRANSITION'];
          break;
        case 'succeed':
          event = { type: 'SUCCEED', result: null };
          accept = handlerState && !parked && prev.leaseId !== null;
          refuse = prev.leaseId === null ? ['LEASE_LOST'] : ['ILLEGAL_TRANSITION'];
          break;
        case 'cancel':
          event = { type: 'CANCEL' };
          break;
        case 'claim':
          break;
      }

      if (step.kind === 'claim') {
        const due = parked
          ? (parked.wakeAt !== null && parked.wakeAt <= now) || prev.cancelRequested
          : tags.includes('queued') && prev.runAfter <= now;
        const claimed = engine.claimDue(1, [type], leaseFor);
        if (claimed.length !== (due ? 1 : 0)) broken('accepted-as-expected', `claimed ${claimed.length}, expected ${due ? 1 : 0}`, where);
        const after = read();
        if (!due) {
          deepStrictEqual(rawJob(sqlite, id), prevRaw);
          return;
        }
        const last = after.history.at(-1)!;
        if (last.type !== (parked ? 'WAKE' : 'CLAIM')) broken('event-recorded', `a claim wrote ${last.type}`, where);
        if (parked) seen.wakes++;
        if (after.history.length !== before.history.length + 1) broken('version-increment', 'a claim writes one event', where);
        if (parked && statePath(after.job.snapshot) !== statePath(prev.snapshot)) broken('transition-target', 'a WAKE keeps the state', where);
        if (!after.job.running || after.job.leaseId === null) broken('lease-while-running', 'a claimed job runs under its lease', where);
        // A claim into a validating state (Qiskit): the parameters pass, as the runner would say.
        if (lifecycle.validatedEvent && table.tagsOf(statePath(after.job.snapshot)).includes('validating')) {
          engine.send(id, { type: lifecycle.validatedEvent }, { fence: { leaseId: after.job.leaseId! } });
        }
        checkStoredJob(read(), facts(engine.get(id)), where);
        checkReplay(replayJob(engine, id).divergences, where);
        return;
      }

      const fenced = event!.type === 'SLEEP' || event!.type === 'WAIT' || event!.type === 'SUCCEED';
      let returned: JobRow | undefined;
      let error: unknown;
      try {
        returned = engine.send(id, event! as never, fenced ? { fence: { leaseId: prev.leaseId ?? 'no-lease' } } : {});
      } catch (e) {
        error = e;
      }
      if (error !== undefined) {
        if (accept === true) broken('accepted-as-expected', `refused: ${String(error)}`, where);
        const code = (error as { code?: PhaselineErrorCode }).code;
        if (accept === false && (code === undefined || !refuse.includes(code))) broken('refused-as-expected', `${String(error)}, expected ${refuse.join(' or ')}`, where);
        deepStrictEqual(rawJob(sqlite, id), prevRaw);
        deepStrictEqual(rawHistory(sqlite, id), prevHistory);
        seen.refused++;
        return;
      }
      if (accept === false) broken('refused-as-expected', `accepted ${event!.type}`, where);
      const after = read();
      const { type: sent, ...payload } = event!;
      const selfTransition = sent === 'SLEEP' || sent === 'WAIT' || sent === 'SIGNAL';
      checkAcceptedStep({ before, after, returned: returned!, type: sent, payload, at, expectedPath: selfTransition ? statePath(prev.snapshot) : null }, where);
      const row = after.job;
      const nowParked = table.tagsOf(statePath(row.snapshot)).includes('running') && (row.snapshot.context as { parked?: unknown }).parked != null;
      if (parkedAfter !== null && nowParked !== parkedAfter) broken('flags-mirror-tags', `parked ${nowParked}, expected ${parkedAfter}`, where);
      if (nowParked && row.leaseId !== null) broken('lease-while-running', 'a parked job holds no lease', where);
      if (nowParked && !parked) seen.parks++;
      if (sent === 'SIGNAL' && parked !== null && parked.signal === (event as { name?: string }).name) seen.signalled++;
      checkStoredJob(after, facts(row), where);
      checkReplay(replayJob(engine, id).divergences, where);
    });
    checkReplay(replayJob(engine, id).divergences, () => `after ${scenario.steps.length} steps`);
  }

  it('keeps every rule on random sleeps, waits, signals and claims', () => {
    const scenario = fc.record({
      cached: fc.boolean(),
      createdAt: fc.integer({ min: 1_000_000_000_000, max: 2_000_000_000_000 }),
      steps: arbitraries.parkingSteps,
    });
    fc.assert(fc.property(scenario, runScenario), { seed: SEED, numRuns: Math.ceil(RUNS / 2), verbose: VERBOSE, endOnFailure: false });
  }, Math.max(120_000, RUNS * 300));
});

/**
 * Property tests of the rules that hold on every transition (README, "Design notes"), one describe per lifecycle.
 *
 * Each run creates a fresh job in a real SQLite file (one file per lifecycle) and sends it 1..25
 * random events (the lifecycle's own, other lifecycles', unknown names, malformed payloads, options
 * that must be refused) while the injected clock moves forward by random amounts and sometimes back.
 * After every step the test checks every rule; the expected answer to each event (accepted into which
 * state, or which typed error) comes from the transition tables of test/support/lifecycle-tables.ts.
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
import type { JobEventRow, JobRow } from '../src/db/schema.ts';
import { Engine, type SendOptions } from '../src/engine/engine.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { isPhaselineError, type PhaselineErrorCode } from '../src/errors.ts';
import { replayJob } from '../src/replay/replay.ts';
import { stepsArb, type GeneratedEvent, type Step } from './support/commands.ts';
import { TABLES, eventKeyOf, statePath, type LifecycleTable } from './support/lifecycle-tables.ts';
import { lastRowids, rawHistory, rawJob, tempDir } from './support/sqlite.ts';
import { envInt } from './support/env.ts';

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

/** Context fields with a column of their own, which the stored snapshot must leave out. */
const MIRRORED_FIELDS = [
  'params', 'result', 'errors', 'progress', 'question', 'reply', 'inside', 'step', 'attempt', 'cancelRequested',
  'priority', 'executionDuration', 'destruction', 'quote',
] as const;
const OWNER = 'alice';
const MISSING_JOB = 2 ** 31;

class RuleBroken extends Error {
  override name = 'RuleBroken';
}

/** What the model tracks besides the table: the cancel flag and the instants the rules fix. */
interface Model {
  path: string;
  cancelRequested: boolean;
  startedAt: number | null;
  endedAt: number | null;
}

/**
 * The right answers to one send: a refusal with one of `refuse` (and nothing written), or, when
 * `accept` is set, acceptance into that state. Usually exactly one of the two.
 */
interface Expected {
  refuse: PhaselineErrorCode[];
  accept: string | null;
}

/**
 * Equal as JSON: key order aside, a key holding undefined counts as absent and -0 as 0 (JSON
 * writes both so). Much cheaper than comparing serialisations.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameJson(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && sameJson(ao[k], bo[k]));
}

/** The top-level keys on which two rows differ, with both values (JSON-compared). */
function rowDiff(a: Record<string, unknown>, b: Record<string, unknown>): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys
    .filter((k) => !sameJson(a[k], b[k]))
    .map((k) => `${k}: ${show(a[k])} vs ${show(b[k])}`)
    .join('; ');
}

function show(value: unknown): string {
  try {
    return fc.stringify(value);
  } catch {
    return String(value);
  }
}

describe.each(Object.keys(TABLES) as Name[])('%s: the rules hold after every step', (name) => {
  const table: LifecycleTable = TABLES[name];
  let dir: string;
  let database: OpenDatabase;
  let engine: Engine;
  /** Two engines on one database: one serves transitions from its live snapshots, the other restores every snapshot from the row. */
  let engines: { cached: Engine; restoring: Engine };
  let now = 0;

  beforeAll(() => {
    dir = tempDir(`properties-${name}`);
    database = openDatabase(join(dir, `${name}.db`));
    engines = {
      cached: new Engine(new SqliteStore(database), { clock: () => now }),
      restoring: new Engine(new SqliteStore(database), { clock: () => now, snapshotCacheSize: 0 }),
    };
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

  /** Rules that hold of any stored job and its history, whatever happened before. */
  function checkStored(row: JobRow, history: JobEventRow[], where: () => string): void {
    const broken = (rule: string, detail: string) => {
      throw new RuleBroken(`${where()}: ${rule}: ${detail}`);
    };
    const t = tags(statePath(row.snapshot));
    const terminal = t.includes('terminal');
    if (!STORABLE[name].includes(row.state)) broken('wire spelling', `state ${row.state}`);
    if (statePath(row.snapshot).split('.')[0] !== row.state) broken('state column', `${row.state} vs snapshot ${statePath(row.snapshot)}`);

    // Timestamps: created ≤ started ≤ ended; updated ≥ all of them (and ≥ the error instants);
    // history in time order. runAfter, destruction, quote and the lease expiry are instants the
    // job is scheduled against, not times it lived through, so they may lie ahead of `updated`.
    const { createdAt, startedAt, endedAt, updatedAt } = row;
    if (startedAt !== null && startedAt < createdAt) broken('created ≤ started', `${createdAt} > ${startedAt}`);
    if (endedAt !== null && endedAt < (startedAt ?? createdAt)) broken('started ≤ ended', `${startedAt ?? createdAt} > ${endedAt}`);
    for (const [what, at] of [['created', createdAt], ['started', startedAt], ['ended', endedAt]] as const) {
      if (at !== null && at > updatedAt) broken('updated ≥ every timestamp', `${what} ${at} > updated ${updatedAt}`);
    }
    for (const error of row.errors) if (error.at > updatedAt) broken('updated ≥ every timestamp', `error at ${error.at} > ${updatedAt}`);
    if (history.length !== row.version) broken('one event per version', `${history.length} events at version ${row.version}`);
    if (history[0]?.type !== 'CREATE' || history[0].at !== createdAt) broken('history starts with CREATE at created', show(history[0]));
    history.forEach((event, i) => {
      if (event.seq !== i + 1) broken('history seq', `event ${i} has seq ${event.seq}`);
      if (event.jobId !== row.id) broken('history job id', `${event.jobId} ≠ ${row.id}`);
      const before = history[i - 1];
      if (before && event.at < before.at) broken('event times never decrease', `seq ${event.seq} at ${event.at} < ${before.at}`);
      if (before && event.stateBefore !== before.stateAfter) broken('history chains states', `seq ${event.seq}: ${event.stateBefore} after ${before.stateAfter}`);
    });
    const last = history.at(-1)!;
    if (last.at !== updatedAt) broken('updated is the last event time', `${updatedAt} vs ${last.at}`);
    if (last.stateAfter !== row.state) broken('last event leads to the state', `${last.stateAfter} vs ${row.state}`);

    // Tags: ended exactly when terminal; the flags mirror the state's tags.
    if ((endedAt !== null) !== terminal) broken('ended set exactly when terminal', `ended ${endedAt} in ${statePath(row.snapshot)}`);
    if (row.claimable !== t.includes('queued')) broken('claimable = queued tag', `${row.claimable}`);
    if (row.running !== t.includes('running')) broken('running = running tag', `${row.running}`);
    if (row.waiting !== t.includes('waiting')) broken('waiting = waiting tag', `${row.waiting}`);
    const outcome = t.find((x) => x === 'succeeded' || x === 'failed' || x === 'cancelled') ?? null;
    if (row.outcome !== outcome) broken('outcome = outcome tag', `${row.outcome} vs ${outcome}`);
    if (!row.running && (row.leaseId !== null || row.leaseExpiresAt !== null || row.workerId !== null)) {
      broken('a lease only while running', `${row.leaseId}`);
    }

    // Progress: 0..100, current ≤ total, 100 on success.
    const { progressPercent: percent, progressCurrent: current, progressTotal: total } = row;
    if (!(percent >= 0 && percent <= 100)) broken('percent in 0..100', `${percent}`);
    if (current !== null && !(current >= 0)) broken('current ≥ 0', `${current}`);
    if (total !== null && !(total >= 0)) broken('total ≥ 0', `${total}`);
    if (current !== null && total !== null && current > total) broken('current ≤ total', `current ${current} > total ${total}`);
    if (row.outcome === 'succeeded' && percent !== 100) broken('100 on success', `${percent}`);
    // The stored snapshot leaves out what the columns hold (restoring takes it from them); the
    // scenarios run through the restoring engine prove that the restored snapshot is the live one.
    for (const key of MIRRORED_FIELDS) if (key in row.snapshot.context) broken('snapshot leaves out the column fields', key);
  }

  function runScenario(scenario: { start: boolean; cached: boolean; createdAt: number; params: unknown; steps: Step[] }): void {
    const { steps } = scenario;
    engine = scenario.cached ? engines.cached : engines.restoring;
    const sqlite = database.sqlite;
    now = scenario.createdAt;
    const created = engine.create({ lifecycle: name, type: 'prop', input: { params: scenario.params as never }, owner: OWNER, start: scenario.start });
    const id = created.id;
    let row = engine.get(id);
    let history = engine.history(id);

    // Creation: the initial state, then the start events, all at the creation instant.
    let expectedPath = initial.path;
    if (scenario.start) {
      for (const type of table.lifecycle.startEvents ?? []) {
        expectedPath = table.next(table.labelOf(expectedPath, false), type as never) ?? `(start event ${type} refused)`;
      }
    }
    const where0 = `create(start=${scenario.start})`;
    if (statePath(row.snapshot) !== expectedPath) throw new RuleBroken(`${where0}: state ${statePath(row.snapshot)}, expected ${expectedPath}`);
    if (row.createdAt !== now || row.updatedAt !== now) throw new RuleBroken(`${where0}: created ${row.createdAt}/updated ${row.updatedAt}, clock ${now}`);
    if (row.startedAt !== null || row.endedAt !== null) throw new RuleBroken(`${where0}: started/ended set at creation`);
    if (!sameJson(created, row)) throw new RuleBroken(`${where0}: create() returns the stored row (returned vs stored): ${rowDiff(created, row)}`);
    checkStored(row, history, () => where0);

    const model: Model = { path: expectedPath, cancelRequested: false, startedAt: null, endedAt: null };
    const replayEachStep = steps.length <= 6;
    // The stored bytes before each step (the previous step's after).
    let raw = rawJob(sqlite, id);
    let rawEvents = rawHistory(sqlite, id);
    let rowids = lastRowids(sqlite);

    steps.forEach((step, i) => {
      now = Math.max(0, now + step.dt);
      const prev = row;
      const prevHistory = history;
      const prevRaw = raw;
      const prevRawHistory = rawEvents;
      const prevRowids = rowids;
      const generated = choose(step, model);
      const expected = expectation(generated, step, prev, model);
      const options = sendOptions(step, prev);
      const label = table.labelOf(model.path, model.cancelRequested);
      // Built only when a rule breaks: stringifying every step costs more than the checks.
      const where = () => `step ${i + 1}/${steps.length} ${show(generated.event)} ${show(options)} in ${label} (v${prev.version})`;
      const broken = (rule: string, detail: string) => {
        throw new RuleBroken(`${where()}: ${rule}: ${detail}`);
      };
      const same = (actual: unknown, expectedValue: unknown, rule: string) => {
        try {
          deepStrictEqual(actual, expectedValue);
        } catch (e) {
          broken(rule, (e as Error).message);
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
        if (!expected.refuse.some((code) => isPhaselineError(error, code))) {
          const wanted = [...(expected.accept ? [`acceptance into ${expected.accept}`] : []), ...expected.refuse];
          broken('typed error', `expected ${wanted.join(' or ')}, got ${String(error)}`);
        }
        // A refused event changes nothing: row and history byte for byte, and no other row either.
        same(rawJob(sqlite, id), prevRaw, 'a refused event changes nothing: the row');
        same(rawHistory(sqlite, id), prevRawHistory, 'a refused event changes nothing: the history');
        same(lastRowids(sqlite), prevRowids, 'a refused event changes nothing: no row written');
        return;
      }

      if (expected.accept === null) broken('refusal', `expected ${expected.refuse.join(' or ')}, but it was accepted into ${statePath(returned!.snapshot)}`);
      row = engine.get(id);
      history = engine.history(id);
      const event = generated.event as { type: string } & Record<string, unknown>;
      const path = statePath(row.snapshot);
      const at = Math.max(now, prev.updatedAt);

      if (path !== expected.accept) broken('transition table', `reached ${path}, expected ${expected.accept}`);
      if (!sameJson(returned, row)) broken('send returns the stored row (returned vs stored)', rowDiff(returned!, row));

      // Exactly one new event, at seq = version, leading to the state; the older ones untouched.
      if (row.version !== prev.version + 1) broken('version + 1', `${prev.version} → ${row.version}`);
      if (history.length !== prevHistory.length + 1) broken('exactly one new event', `${prevHistory.length} → ${history.length}`);
      raw = rawJob(sqlite, id);
      rawEvents = rawHistory(sqlite, id);
      const after = lastRowids(sqlite);
      if (after.jobs !== prevRowids.jobs || after.events !== `${id}:${row.version}`) {
        broken('an accepted event writes its row and one event, nothing else', `${show(prevRowids)} → ${show(after)}`);
      }
      rowids = after;
      same(rawEvents.slice(0, -1), prevRawHistory, 'older events never change');
      const added = history.at(-1)!;
      const { type, at: _ownAt, ...payload } = event;
      if (added.seq !== row.version) broken('seq = version', `${added.seq} vs ${row.version}`);
      if (added.type !== type) broken('event type', `${added.type} vs ${type}`);
      if (added.stateBefore !== prev.state || added.stateAfter !== row.state) {
        broken('event states', `${added.stateBefore} → ${added.stateAfter} vs ${prev.state} → ${row.state}`);
      }
      if (!sameJson(added.payload, Object.keys(payload).length > 0 ? payload : null)) broken('event payload', `${show(added.payload)} vs ${show(payload)}`);
      if (added.at !== at || row.updatedAt !== at) broken('stamped by the clock, never backwards', `at ${added.at}, updated ${row.updatedAt}, expected ${at}`);
      if (row.updatedAt < prev.updatedAt) broken('updated never decreases', `${prev.updatedAt} → ${row.updatedAt}`);
      if (row.createdAt !== prev.createdAt) broken('created never changes', `${prev.createdAt} → ${row.createdAt}`);

      // Terminal states accept only what their lifecycle allows.
      if (prev.endedAt !== null) {
        const allowed = TERMINAL_ACCEPTS[name][prev.state] ?? [];
        if (!allowed.includes(type) || (type === 'SET' && event.params !== undefined)) {
          broken('terminal states accept only what the lifecycle allows', `${prev.state} accepted ${show(event)}`);
        }
      }

      // The model: cancel flag, started (first running since creation or restart), ended.
      const prevTags = tags(model.path);
      const nextTags = tags(path);
      if (type === 'CANCEL' || type === 'ABORT' || type === 'KILL') model.cancelRequested = true;
      if (type === 'RESTART') model.cancelRequested = false;
      if (prevTags.includes('terminal') && !nextTags.includes('terminal')) model.startedAt = null;
      if (nextTags.includes('running') && model.startedAt === null) model.startedAt = at;
      model.endedAt = nextTags.includes('terminal') ? (prevTags.includes('terminal') ? model.endedAt : at) : null;
      model.path = path;
      if (row.cancelRequested !== model.cancelRequested) broken('cancel requested', `${row.cancelRequested} vs ${model.cancelRequested}`);
      if (row.startedAt !== model.startedAt) broken('started when first running (cleared by a restart)', `${row.startedAt} vs ${model.startedAt}`);
      if (row.endedAt !== model.endedAt) broken('ended when it became terminal', `${row.endedAt} vs ${model.endedAt}`);

      // Leases: a claim records the given lease, a running job keeps its own, others hold none.
      const lease =
        !row.running ? [null, null, null]
        : step.option.kind === 'lease' ? [options.lease!.leaseId, options.lease!.leaseExpiresAt, options.lease!.workerId]
        : [prev.leaseId, prev.leaseExpiresAt, prev.workerId];
      if (!sameJson([row.leaseId, row.leaseExpiresAt, row.workerId], lease)) broken('lease columns', `${show([row.leaseId, row.leaseExpiresAt, row.workerId])} vs ${show(lease)}`);

      // Progress never moves backwards within one attempt.
      if (row.attempt < prev.attempt) broken('attempts never decrease', `${prev.attempt} → ${row.attempt}`);
      if (row.attempt === prev.attempt && row.progressPercent < prev.progressPercent) {
        broken('progress never moves backwards within an attempt', `${prev.progressPercent} → ${row.progressPercent} in attempt ${row.attempt}`);
      }

      checkStored(row, history, where);
      if (replayEachStep) {
        const { divergences } = replayJob(engine, id);
        if (divergences.length > 0) broken('replay rebuilds the row', show(divergences));
      }
    });

    const { divergences } = replayJob(engine, id);
    if (divergences.length > 0) throw new RuleBroken(`after ${steps.length} steps: replay rebuilds the row: ${show(divergences)}`);
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

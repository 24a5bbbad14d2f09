/**
 * One lifecycle on a real engine: a private in-memory SQLite database with two engines on it (one
 * serving transitions from its live snapshots, one restoring every snapshot from the row), and
 * the run of one random sequence on a new job, checking every rule after every step.
 *
 * The model of what the job must do is the lifecycle's own machine, folded beside the engine:
 * whether each event is accepted, where it leads, and the instants the job must show. While the
 * engine applies an event (and the model evaluates it), the wall clock reads the engine's clock;
 * while a history is replayed, it reads a later instant (wall-clock.ts), so a machine that reads
 * the clock shows as a replay that does not rebuild the row.
 */
import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import type { JobContext, Json, Lifecycle } from '../../machines/common.ts';
import { COMMON_EVENT_TYPES } from '../../machines/common.ts';
import { openDatabase } from '../db/open.ts';
import { SqliteStore } from '../db/sqlite-store.ts';
import { Engine } from '../engine/engine.ts';
import { LifecycleRegistry } from '../engine/lifecycles.ts';
import { firstSnapshot, machineEvent, nextSnapshot } from '../engine/transition.ts';
import { replayJob } from '../replay/replay.ts';
import type { GeneratedEvent } from './arbitraries.ts';
import type { CheckStep } from './check-types.ts';
import { diffJson, sameJson, show } from './json.ts';
import { knownEventTypes, statePathOf, tagsOfValue, topStates } from './machine-facts.ts';
import { RuleViolation, type RuleId, type StoredRecord } from './rules.ts';
import { checkAcceptedStep, checkAnswer, checkReplay, checkTerminalAccepts, checkUnchanged, LifeTimes, type ExpectedAnswer } from './step-rules.ts';
import { checkStoredJob } from './stored-rules.ts';
import { eventKeyOf, type PayloadVariants } from './vocabulary.ts';
import { withWallClock } from './wall-clock.ts';

/** One random sequence on one new job. */
export interface Scenario {
  /** Create the job with its lifecycle's start events. */
  start: boolean;
  /** Run it on the engine that keeps live snapshots (else on the one that restores every snapshot). */
  cached: boolean;
  createdAt: number;
  params: Json;
  steps: ScenarioStep[];
  /** How much later than the last event the history is replayed, in ms. */
  replayDelay: number;
}

/** One step: random candidates, the first sent unless `steer` picks the first one the job accepts now. */
export interface ScenarioStep {
  candidates: GeneratedEvent[];
  /** Send the first candidate the model accepts, so that sequences reach deep states instead of ending early. */
  steer: boolean;
  /** Clock move before the send, in ms; negative now and then. */
  dt: number;
}

/** A sequence broke a rule: the violation and the steps sent up to it. */
export class ScenarioFailure extends Error {
  override name = 'ScenarioFailure';
  constructor(
    readonly violation: RuleViolation,
    readonly trace: CheckStep[],
  ) {
    super(violation.message);
  }
}

/** Counts over every sequence run. */
export interface BenchStats {
  runs: number;
  events: number;
  accepted: number;
  refused: number;
  states: Set<string>;
}

const COMMON = new Set<string>(COMMON_EVENT_TYPES);

export class LifecycleBench {
  readonly lifecycle: Lifecycle;
  /** The machine's own event types outside the common vocabulary (UWS RUN, a user's APPROVE). */
  readonly ownEvents: string[];
  readonly stats: BenchStats = { runs: 0, events: 0, accepted: 0, refused: 0, states: new Set() };
  readonly #machine: AnyStateMachine;
  readonly #store: SqliteStore;
  readonly #cached: Engine;
  readonly #restoring: Engine;
  readonly #states: string[];
  readonly #terminalAccepts: Readonly<Record<string, readonly string[]>>;
  readonly #payloads: PayloadVariants;
  readonly #tags = new Map<string, string[]>();
  #now = 0;
  /** What the wall clock reads while a sequence runs: the engine's clock, or the later instant a replay runs at. */
  #wall: number | null = null;

  /** Registers the lifecycle (a broken one is refused here, with what is wrong) on a new in-memory database. */
  constructor(lifecycle: Lifecycle, options: { terminalAccepts?: Readonly<Record<string, readonly string[]>>; payloads?: PayloadVariants } = {}) {
    const lifecycles = new LifecycleRegistry([lifecycle]);
    this.lifecycle = lifecycle;
    this.#machine = lifecycle.machine as AnyStateMachine;
    this.ownEvents = knownEventTypes(this.#machine).filter((type) => !COMMON.has(type));
    this.#states = topStates(this.#machine);
    this.#terminalAccepts = options.terminalAccepts ?? {};
    this.#payloads = options.payloads ?? {};
    this.#store = new SqliteStore(openDatabase(':memory:'));
    const clock = () => this.#now;
    this.#cached = new Engine(this.#store, { lifecycles, clock });
    this.#restoring = new Engine(this.#store, { lifecycles, clock, snapshotCacheSize: 0 });
  }

  close(): void {
    this.#store.close();
  }

  /** Run one sequence; throws a {@link ScenarioFailure} at the first rule it breaks. */
  run(scenario: Scenario): void {
    const trace: CheckStep[] = [];
    try {
      // One swap of the wall clock for the whole synchronous run, not one per call.
      withWallClock(() => this.#wall ?? this.#now, () => this.#run(scenario, trace));
    } catch (error) {
      if (error instanceof RuleViolation) {
        // Said at the event that broke it (a rule broken after the last event, by replay, is said in the detail).
        const last = trace.at(-1);
        if (last && error.where?.startsWith(`event ${trace.length} `)) last.outcome = `${last.outcome || 'sent'}, breaks ${error.rule}`;
        throw new ScenarioFailure(error, trace);
      }
      throw error;
    }
  }

  #tagsOf(snapshot: { value: unknown }): string[] {
    const path = statePathOf(snapshot.value);
    let tags = this.#tags.get(path);
    if (!tags) this.#tags.set(path, (tags = tagsOfValue(this.#machine, snapshot.value)));
    return tags;
  }

  /** The model's next snapshot; a machine that throws breaks `machine-throws`. */
  #next(snapshot: AnyMachineSnapshot, event: EventObject & { at: number }, where: () => string): AnyMachineSnapshot {
    try {
      return nextSnapshot(this.#machine, snapshot, event);
    } catch (error) {
      throw new RuleViolation('machine-throws', `${event.type} in ${statePathOf(snapshot.value)}: ${error instanceof Error ? error.message : show(error)}`, where());
    }
  }

  #run(scenario: Scenario, trace: CheckStep[]): void {
    const { steps } = scenario;
    const engine = scenario.cached ? this.#cached : this.#restoring;
    const { name } = this.lifecycle;
    const stats = this.stats;
    stats.runs++;
    this.#now = scenario.createdAt;
    const input = { params: scenario.params };
    const where0 = () => `create(start=${scenario.start})`;

    // The model: the machine's initial snapshot and the start events, all at the creation instant.
    const lifeTimes = new LifeTimes();
    let model = firstSnapshot(this.#machine, input);
    lifeTimes.enter(this.#tagsOf(model), this.#now);
    for (const type of scenario.start ? (this.lifecycle.startEvents ?? []) : []) {
      model = this.#next(model, { type, at: this.#now }, where0);
      lifeTimes.enter(this.#tagsOf(model), this.#now);
    }
    const created = engine.create({ lifecycle: name, type: 'check', input, start: scenario.start });
    const id = created.id;
    let record: StoredRecord = { job: engine.get(id), history: engine.history(id) };
    checkAcceptedCreation(record, created, statePathOf(model.value), this.#now, where0);
    lifeTimes.check(record.job, where0);
    checkStoredJob(record, { tags: this.#tagsOf(record.job.snapshot), states: this.#states }, where0);
    stats.states.add(statePathOf(record.job.snapshot.value));

    const replayEachStep = steps.length <= 6;
    steps.forEach((step, i) => {
      this.#now = Math.max(0, this.#now + step.dt);
      const prev = record.job;
      const at = Math.max(this.#now, prev.updatedAt);
      const prevPath = statePathOf(prev.snapshot.value);
      const modelBefore = model;
      let sent: GeneratedEvent = step.candidates[0]!;
      const where = () => `event ${i + 1} ${show(sent.event)} in ${prevPath} (v${prev.version})`;
      const answer = (generated: GeneratedEvent): { expected: ExpectedAnswer; next: AnyMachineSnapshot | null } => {
        if (generated.valid === false) return { expected: { refuse: ['INVALID_INPUT'], accept: null }, next: null };
        const { type, ...rest } = generated.event as { type: string } & Record<string, unknown>;
        const { at: _ownAt, ...payload } = rest;
        const next = this.#next(modelBefore, machineEvent(type, at, payload), where);
        const refuse = generated.valid === 'either' ? ['INVALID_INPUT'] : [];
        if (next === modelBefore) return { expected: { refuse: [...refuse, 'ILLEGAL_TRANSITION'], accept: null }, next: null };
        // The engine refuses a report that would leave current above total against the figure it keeps.
        const { current, total } = (next.context as JobContext).progress;
        if (current !== null && total !== null && current > total) return { expected: { refuse: ['INVALID_INPUT'], accept: null }, next: null };
        return { expected: { refuse, accept: statePathOf(next.value) }, next };
      };
      const accepts = (c: GeneratedEvent) => {
        try {
          return c.valid === true && answer(c).next !== null;
        } catch {
          return false; // a candidate the machine throws on is not steered to (sent first, it breaks machine-throws)
        }
      };
      if (step.steer) sent = step.candidates.find(accepts) ?? sent;
      const { expected, next } = answer(sent);
      const traced: CheckStep = { event: sent.event, clockMove: step.dt, outcome: '' };
      trace.push(traced);
      stats.events++;

      let returned;
      let error: unknown;
      try {
        returned = engine.send(id, sent.event as never);
      } catch (e) {
        error = e;
      }
      if (error !== undefined) {
        traced.outcome = `refused ${(error as { code?: string }).code ?? String(error)}`;
        checkAnswer(expected, { error }, where);
        // The row now; the history at the next accepted event (which must add exactly one event
        // to it and leave the older ones as they are) or at the end of the sequence.
        checkUnchanged(record, { job: engine.get(id), history: record.history }, where);
        stats.refused++;
        return;
      }
      const after: StoredRecord = { job: engine.get(id), history: engine.history(id) };
      const path = statePathOf(after.job.snapshot.value);
      traced.outcome = `accepted → ${path}`;
      checkAnswer(expected, { path }, where);
      const event = sent.event as { type: string } & Record<string, unknown>;
      const { type, at: _ownAt, ...payload } = event;
      checkAcceptedStep({ before: record, after, returned: returned!, type, payload, at, expectedPath: expected.accept }, where);
      if (this.#tagsOf(prev.snapshot).includes('terminal')) {
        const allowed = [...(this.#terminalAccepts[prevPath] ?? this.#terminalAccepts[prev.state] ?? []), ...(this.lifecycle.archiveEvent ? [this.lifecycle.archiveEvent] : [])];
        checkTerminalAccepts(prevPath, eventKeyOf(event, this.#payloads), allowed, where);
      }
      model = next!;
      lifeTimes.enter(this.#tagsOf(model), at);
      lifeTimes.check(after.job, where);
      checkStoredJob(after, { tags: this.#tagsOf(after.job.snapshot), states: this.#states }, where);
      record = after;
      stats.accepted++;
      stats.states.add(path);
      if (replayEachStep) this.#replay(engine, id, scenario.replayDelay, where);
    });
    const end = () => `after ${steps.length} events`;
    checkUnchanged(record, { job: record.job, history: engine.history(id) }, end);
    this.#replay(engine, id, scenario.replayDelay, end);
  }

  /** Replay the job's history later than it was written, as production does. */
  #replay(engine: Engine, id: number, delay: number, where: () => string): void {
    this.#wall = this.#now + delay;
    try {
      checkReplay(replayJob(engine, id).divergences, where);
    } finally {
      this.#wall = null;
    }
  }
}

/** The creation: the state the model is in, stamped at the clock, returned as stored. */
function checkAcceptedCreation(record: StoredRecord, created: StoredRecord['job'], path: string, now: number, where: () => string): void {
  const fail = (rule: RuleId, detail: string) => {
    throw new RuleViolation(rule, detail, where());
  };
  const { job } = record;
  if (statePathOf(job.snapshot.value) !== path) fail('transition-target', `created in ${statePathOf(job.snapshot.value)}, expected ${path}`);
  if (job.createdAt !== now || job.updatedAt !== now) fail('clock-stamp', `created ${job.createdAt}, updated ${job.updatedAt}, clock ${now}`);
  if (!sameJson(created, job)) fail('returned-row', `create() returned vs stored: ${diffJson(created, job)}`);
}

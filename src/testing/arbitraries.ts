/**
 * Random events for property checks: every type of the engine's vocabulary, a lifecycle's own
 * events (with the payload variants its tests name), other lifecycles' commands, unknown names,
 * well-formed and malformed payloads, and clock moves that sometimes go backwards. Each generated
 * event says whether its payload is well formed, so a check knows whether INVALID_INPUT is the
 * right answer.
 *
 * Built from the fast-check instance a caller passes (checkLifecycle loads its own), once per instance.
 */
import type { Arbitrary } from 'fast-check';
import type { FastCheck } from './fast-check.ts';
import { COMMAND_TYPES, type PayloadVariants } from './vocabulary.ts';

/** A random event and whether validation must refuse it. */
export interface GeneratedEvent {
  /** What is passed to `send` (usually an object with a `type`). */
  event: unknown;
  /**
   * False when validation must refuse it with INVALID_INPUT. `either` when refusing it with
   * INVALID_INPUT is as right as accepting it: it holds a string with a lone surrogate, which JSON
   * carries but UTF-8 text columns cannot, so the engine may refuse it or must store it exactly.
   */
  valid: boolean | 'either';
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether any string in a JSON-like value (keys included) has a lone surrogate. */
export function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => LONE_SURROGATE.test(k) || hasLoneSurrogate(v));
  }
  return false;
}

const ok = (event: Record<string, unknown>): GeneratedEvent => ({ event, valid: hasLoneSurrogate(event) ? 'either' : true });
const bad = (event: unknown): GeneratedEvent => ({ event, valid: false });
const strip = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

class Opaque {
  readonly n = 1;
}

/** Names no lifecycle of the repository knows. */
export const UNKNOWN_TYPES = ['FROBNICATE', 'UNKNOWN', 'JOB_STATUS_UNSPECIFIED', 'DONE', 'START', 'X1'] as const;

/**
 * One step of a parked job's life (src/engine/parking.ts): a sleep or a signal wait (its record
 * index taken relative to the job's `waits`: 0 is the next one, 1 one past it, which must be
 * refused), a signal, a claim (which wakes a due parked job), a finish, a cancellation, and the
 * clock's move before it.
 */
export type ParkingStep =
  | { kind: 'sleep'; ms: number; indexOffset: 0 | 1; dt: number }
  | { kind: 'wait'; signal: string; timeoutMs: number | null; indexOffset: 0 | 1; dt: number }
  | { kind: 'signal'; name: string; payload: unknown; dt: number }
  | { kind: 'claim'; dt: number }
  | { kind: 'succeed'; dt: number }
  | { kind: 'cancel'; dt: number };

/** The arbitraries of one fast-check instance. */
export interface EventArbitraries {
  /** Steps of a job that sleeps, waits for signals, is signalled and woken. */
  parkingSteps: Arbitrary<ParkingStep[]>;
  /** Events for a lifecycle whose own (non-common) event types are `own`: those weigh most, others' commands and unknown names a little. */
  events(own: readonly string[], payloads?: PayloadVariants): Arbitrary<GeneratedEvent>;
  /** Clock moves: mostly forward by up to an hour, sometimes not at all, sometimes back by up to a minute. */
  clockMove: Arbitrary<number>;
}

const built = new WeakMap<FastCheck, EventArbitraries>();

/** The event arbitraries of this fast-check instance. */
export function eventArbitraries(fc: FastCheck): EventArbitraries {
  let arbitraries = built.get(fc);
  if (!arbitraries) built.set(fc, (arbitraries = build(fc)));
  return arbitraries;
}

function build(fc: FastCheck): EventArbitraries {
  /** Any UTF-16 code unit: NUL, lone surrogates, non-characters. */
  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
  const text = fc.oneof(
    { weight: 12, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constantFrom('Proceeding', 'Überprüfung läuft', '進行中', '🚀 done', 'a\u0000b', '\u200b') },
    // Strings JSON can carry but UTF-8 cannot (lone surrogates): stored text must keep them, or be refused.
    // (Not `unit: 'binary'`: building that arbitrary alone takes seconds.)
    { weight: 1, arbitrary: fc.string({ unit: codeUnit, minLength: 1, maxLength: 4 }) },
  );
  const json = fc.jsonValue({ maxDepth: 2 });
  const instant = fc.integer({ min: 0, max: 2 ** 42 });
  const nat = fc.nat({ max: 1_000_000 });
  const amount = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.double({ min: 0, max: 1_000, noNaN: true }));
  const percent = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true }));
  /** Optional keys: each present or absent. */
  const some = <T>(arb: Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

  const progress = fc
    .record({ percent: some(percent), current: some(amount), total: some(amount), message: some(fc.option(text, { nil: null })) })
    .map(({ current, total, ...rest }) => {
      // Within one event current ≤ total (the engine refuses the reverse).
      if (current !== undefined && total !== undefined && current > total) [current, total] = [total, current];
      return ok(strip({ type: 'PROGRESS', ...rest, current, total }));
    });
  const failError = fc
    .record({ message: text, name: some(fc.constantFrom('Error', 'TypeError', 'HandlerError')), kind: some(fc.constantFrom('transient', 'fatal')) })
    .map(strip);
  const setEvent = fc
    .record({
      priority: some(fc.integer({ min: -1_000, max: 1_000 })),
      runAfter: some(fc.option(instant, { nil: null })),
      executionDuration: some(nat),
      destruction: some(fc.option(instant, { nil: null })),
      quote: some(fc.option(instant, { nil: null })),
      params: fc.option(json, { nil: undefined, freq: 4 }),
    })
    .map((e) => ok(strip({ type: 'SET', ...e })));

  /** Well-formed events of the engine's common vocabulary. */
  const c = {
    CLAIM: fc.constant(ok({ type: 'CLAIM' })),
    PROGRESS: progress,
    ASK: fc.record({ question: json, message: some(fc.option(text, { nil: null })) }).map((e) => ok(strip({ type: 'ASK', ...e }))),
    REPLY: json.map((reply) => ok({ type: 'REPLY', reply })),
    CHECKPOINT: fc
      .record({ inside: some(json), step: some(fc.option(fc.nat({ max: 100 }), { nil: null })) })
      .map((e) => ok(strip({ type: 'CHECKPOINT', ...e }))),
    STEP: fc.record({ name: fc.constantFrom('fetch', 'parse', 'store', 'x'), result: json }).map((e) => ok({ type: 'STEP', ...e })),
    SUCCEED: json.map((result) => ok({ type: 'SUCCEED', result })),
    FAIL: fc.record({ error: failError, retryAt: some(instant) }).map((e) => ok(strip({ type: 'FAIL', ...e }))),
    CANCEL: some(text).map((reason) => ok(strip({ type: 'CANCEL', reason }))),
    CANCEL_DONE: fc.constant(ok({ type: 'CANCEL_DONE' })),
    LEASE_LOST: some(instant).map((retryAt) => ok(strip({ type: 'LEASE_LOST', retryAt }))),
    TIMEOUT: some(instant).map((retryAt) => ok(strip({ type: 'TIMEOUT', retryAt }))),
    RELEASE: fc.constant(ok({ type: 'RELEASE' })),
    SET: setEvent,
  } as const;

  const unknownType = fc.constantFrom(...UNKNOWN_TYPES).map((type) => ok({ type }));

  /** Malformed events: each must be refused with INVALID_INPUT before anything is read or written. */
  const malformed: Arbitrary<GeneratedEvent> = fc.oneof(
    fc.constantFrom(101, -1, 100.5, Number.NaN, Number.POSITIVE_INFINITY, '50', null, true).map((p) => bad({ type: 'PROGRESS', percent: p })),
    fc.tuple(amount, fc.double({ min: 0.001, max: 100, noNaN: true })).map(([total, more]) => bad({ type: 'PROGRESS', current: total + more, total })),
    fc.constantFrom(-1, Number.NaN, Number.NEGATIVE_INFINITY, '3').map((current) => bad({ type: 'PROGRESS', current })),
    fc.constantFrom(-0.5, Number.NaN, Number.POSITIVE_INFINITY).map((total) => bad({ type: 'PROGRESS', total })),
    fc.constantFrom(42, {}, ['m']).map((message) => bad({ type: 'PROGRESS', message })),
    fc.constant(bad({ type: 'ASK' })),
    fc.constant(bad({ type: 'ASK', question: undefined })),
    fc.constant(bad({ type: 'REPLY' })),
    fc.constantFrom({ name: '', result: 1 }, { result: 1 }, { name: 'x' }, { name: 7, result: 1 }).map((e) => bad({ type: 'STEP', ...e })),
    fc.constant(bad({ type: 'SUCCEED' })),
    fc.constantFrom({}, { error: 'boom' }, { error: {} }, { error: { message: 5 } }, { error: null }).map((e) => bad({ type: 'FAIL', ...e })),
    fc.constantFrom(-1, 1.5, '2030-01-01', Number.NaN).map((retryAt) => bad({ type: 'FAIL', error: { message: 'x' }, retryAt })),
    fc.constantFrom('LEASE_LOST', 'TIMEOUT').chain((type) => fc.constantFrom(-5, 0.5, 'soon').map((retryAt) => bad({ type, retryAt }))),
    fc.constantFrom<Record<string, unknown>>(
      { priority: 1.5 }, { priority: '1' }, { runAfter: -1 }, { runAfter: 1.25 }, { executionDuration: -1 },
      { executionDuration: 2.5 }, { destruction: 'tomorrow' }, { quote: -3 }, { params: () => 1 },
      { params: new Date(0) }, { params: Number.NaN }, { params: { deep: [Number.POSITIVE_INFINITY] } }, { params: new Opaque() },
    ).map((e) => bad({ type: 'SET', ...e })),
    fc.constantFrom(-1, 1.5, '2').map((step) => bad({ type: 'CHECKPOINT', step })),
    // Bad names: not upper case, empty, reserved, not a string.
    fc.constantFrom<unknown>('', 'claim', 'Claim', 'CREATE', 'xstate.init', '*', 'RUN NOW', '9LIVES', 7, undefined, null).map((type) => bad({ type })),
    // Not an event object at all.
    fc.constantFrom<unknown>(null, 'CLAIM', ['CLAIM'], 42).map(bad),
    // A well-formed type with a payload that is not JSON.
    fc
      .tuple(
        fc.constantFrom('CLAIM', 'PROGRESS', 'CANCEL', 'RUN', 'KILL', 'ADMIT', 'QUEUE'),
        fc.constantFrom<unknown>(new Date(0), () => 0, 10n, Number.NaN, new Map(), [Number.NEGATIVE_INFINITY], Symbol('s'), new Opaque()),
      )
      .map(([type, extra]) => bad({ type, extra })),
  );

  /** A well-formed event with an `at` of its own, which the engine must ignore (it stamps its clock). */
  const withOwnAt = (arb: Arbitrary<GeneratedEvent>) =>
    fc.tuple(arb, fc.integer({ min: 0, max: 2 ** 45 })).map(([g, at]) => ({ ...g, event: { ...(g.event as Record<string, unknown>), at } }));

  /** An own event: bare, or one of the payload variants named for its type. */
  const ownEvent = (type: string, payloads: PayloadVariants) => {
    const variants = Object.values(payloads[type] ?? {});
    return variants.length === 0 ? fc.constant(ok({ type })) : fc.constantFrom({}, ...variants).map((payload) => ok({ ...payload, type }));
  };

  const events = (own: readonly string[], payloads: PayloadVariants = {}): Arbitrary<GeneratedEvent> => {
    const others = COMMAND_TYPES.filter((type) => !own.includes(type));
    return fc.oneof(
      { weight: 8, arbitrary: c.CLAIM },
      { weight: 8, arbitrary: c.PROGRESS },
      { weight: 2, arbitrary: c.ASK },
      { weight: 3, arbitrary: c.REPLY },
      { weight: 2, arbitrary: c.CHECKPOINT },
      { weight: 2, arbitrary: c.STEP },
      { weight: 3, arbitrary: c.SUCCEED },
      { weight: 4, arbitrary: c.FAIL },
      { weight: 1, arbitrary: c.CANCEL },
      { weight: 2, arbitrary: c.CANCEL_DONE },
      { weight: 2, arbitrary: c.LEASE_LOST },
      { weight: 2, arbitrary: c.TIMEOUT },
      { weight: 3, arbitrary: c.RELEASE },
      { weight: 3, arbitrary: c.SET },
      // Commands that end a job at once weigh less, so that sequences get somewhere first.
      ...own.map((type) => ({ weight: type === 'KILL' || type === 'ABORT' ? 2 : 4, arbitrary: ownEvent(type, payloads) })),
      ...(others.length > 0 ? [{ weight: 2, arbitrary: fc.constantFrom(...others).map((type) => ok({ type })) }] : []),
      { weight: 1, arbitrary: unknownType },
      { weight: 1, arbitrary: withOwnAt(fc.oneof(c.CLAIM, c.PROGRESS, c.SUCCEED, c.FAIL, ...own.map((type) => ownEvent(type, payloads)))) },
      { weight: 4, arbitrary: malformed },
    );
  };

  const clockMove = fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 1, max: 3_600_000 }) },
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 3, arbitrary: fc.integer({ min: -60_000, max: -1 }) },
  );

  const signalName = fc.constantFrom('go', 'stop', 'approval');
  const offset = fc.oneof({ weight: 6, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) });
  const dt = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 5_000 }) }, { weight: 1, arbitrary: fc.integer({ min: -2_000, max: 60_000 }) });
  const parkingStep: Arbitrary<ParkingStep> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 10_000 }), indexOffset: offset, dt }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('wait' as const), signal: signalName, timeoutMs: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: null }), indexOffset: offset, dt,
      }),
    },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('signal' as const), name: signalName, payload: json, dt }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('claim' as const), dt }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('succeed' as const), dt }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), dt }) },
  );
  const parkingSteps = fc.array(parkingStep, { minLength: 1, maxLength: 20 });

  return { events, clockMove, parkingSteps };
}

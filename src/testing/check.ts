/**
 * `checkLifecycle`: random event sequences through a real engine, every rule checked after every
 * step, a failure shrunk by fast-check to a short sequence that still breaks the rule.
 */
import type { Arbitrary } from 'fast-check';
import type { Json, Lifecycle } from '../../machines/common.ts';
import { InvalidInputError } from '../errors.ts';
import { eventArbitraries } from './arbitraries.ts';
import { LifecycleCheckError } from './check-error.ts';
import { LifecycleBench, ScenarioFailure, type Scenario } from './check-run.ts';
import type { CheckOptions, CheckSummary } from './check-types.ts';
import { fastCheck } from './fast-check.ts';

const DAY = 24 * 3600_000;

/**
 * Send random event sequences to new jobs of `lifecycle` on a real engine (an in-memory SQLite
 * database of its own) and check, after every step, every rule the engine promises: timestamps
 * ordered and monotonic, started and ended set exactly when they should be, progress within
 * bounds and never backwards within an attempt (100 on success), one history event and version + 1
 * per accepted event, refused events change nothing, terminal states accept only what
 * `terminalAccepts` allows, and replay (run later, on a later wall clock) rebuilds the row. Whether
 * an event must be accepted, and where it leads, is the lifecycle's own machine's answer.
 *
 * The sequences mix the machine's own events, the engine's common ones (with malformed payloads
 * among them), other lifecycles' commands and unknown names, while the clock moves forward by
 * random amounts and sometimes back. Works under any test runner: it throws, and never asserts.
 *
 * @throws LifecycleCheckError with the rule broken and the shrunk sequence, and the `seed` and `path` that repeat it
 * @throws InvalidInputError when the lifecycle is refused at registration (what is wrong is said), or an option is out of range
 */
export function checkLifecycle(lifecycle: Lifecycle, options: CheckOptions = {}): CheckSummary {
  const runs = options.runs ?? 200;
  const maxEvents = options.maxEvents ?? 25;
  const shrinkMs = options.shrinkMs ?? 10_000;
  if (!Number.isSafeInteger(runs) || runs < 1) throw new InvalidInputError('runs', 'must be an integer of at least 1');
  if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) throw new InvalidInputError('maxEvents', 'must be an integer of at least 1');
  if (typeof shrinkMs !== 'number' || !(shrinkMs >= 0)) throw new InvalidInputError('shrinkMs', 'must be a number of milliseconds of at least 0');
  if (options.path !== undefined && options.seed === undefined) throw new InvalidInputError('path', 'repeats a failure only together with its seed');
  const seed = options.seed ?? (Date.now() ^ Math.floor(Math.random() * 0x1_0000_0000)) | 0;
  const fc = fastCheck();
  const bench = new LifecycleBench(lifecycle, options);
  const { events, clockMove } = eventArbitraries(fc);
  const scenario: Arbitrary<Scenario> = fc.record({
    start: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    cached: fc.boolean(),
    // Instants are shrunk no further: any serves, and bisecting them would cost a run per step.
    createdAt: fc.noShrink(fc.integer({ min: 1_000_000_000_000, max: 2_000_000_000_000 })),
    params: fc.jsonValue({ maxDepth: 2 }) as Arbitrary<Json>,
    steps: fc.array(
      fc.record({
        // An event's payload shrinks a little only (a double could take a hundred runs): what
        // matters in a counterexample is which events it takes, and those the array shrinks.
        candidates: fc.array(fc.limitShrink(events(bench.ownEvents, options.payloads), 12), { minLength: 1, maxLength: 3 }),
        steer: fc.oneof({ weight: 2, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        dt: clockMove,
      }),
      { minLength: 1, maxLength: maxEvents, size: 'max' },
    ),
    replayDelay: fc.noShrink(fc.integer({ min: 60_000, max: 30 * DAY })),
  });
  const started = performance.now();
  let details;
  try {
    // Past the shrinking budget every candidate passes untried, so fast-check settles on the
    // shortest counterexample found by then (still repeatable from its seed and path).
    let failedAt: number | null = null;
    const property = (s: Scenario): void => {
      if (failedAt !== null && performance.now() - failedAt > shrinkMs) return;
      try {
        bench.run(s);
      } catch (error) {
        failedAt ??= performance.now();
        throw error;
      }
    };
    details = fc.check(fc.property(scenario, property), {
      seed,
      numRuns: runs,
      endOnFailure: false,
      ...(options.path !== undefined ? { path: options.path } : {}),
    });
  } finally {
    bench.close();
  }
  if (details.failed) {
    const failure = details.errorInstance;
    const example = details.counterexample?.[0];
    if (!(failure instanceof ScenarioFailure) || !example) {
      throw new Error(`checkLifecycle(${lifecycle.name}@${lifecycle.version}) failed at seed ${seed}, path ${JSON.stringify(details.counterexamplePath)}: ${String(failure)}`, { cause: failure });
    }
    throw new LifecycleCheckError({
      lifecycle: lifecycle.name,
      version: lifecycle.version,
      rule: failure.violation.rule,
      detail: failure.violation.where ? `${failure.violation.where}: ${failure.violation.detail}` : failure.violation.detail,
      events: failure.trace,
      start: example.start,
      params: example.params,
      seed,
      path: details.counterexamplePath ?? '',
      runs: details.numRuns,
      shrinks: details.numShrinks,
    });
  }
  const { stats } = bench;
  return {
    lifecycle: lifecycle.name,
    version: lifecycle.version,
    runs: stats.runs,
    events: stats.events,
    accepted: stats.accepted,
    refused: stats.refused,
    states: [...stats.states].sort(),
    seed,
    ms: Math.round(performance.now() - started),
  };
}

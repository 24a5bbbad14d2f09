/**
 * `phaseline/testing`: verify your own lifecycles, and test your handlers, in your own tests.
 * Framework-free: every check throws a typed error with a readable message and never calls a test
 * runner's `expect`, so it works the same under vitest, jest or node:test.
 *
 * - {@link checkLifecycle}: random event sequences through a real engine, every rule it promises
 *   checked after every step; a failure comes shrunk, with the seed and path that repeat it.
 *   Needs fast-check (an optional peer dependency).
 * - {@link exploreLifecycle}: every reachable state by exhaustive search; unreachable states, dead
 *   ends, terminal states that can be left, events that throw, clock-dependent transitions, tags
 *   that break the engine's contract; Mermaid and DOT diagrams.
 * - {@link expectTransitions} and {@link printTransitions}: pin the transition table in a test,
 *   so a machine changed without a new version fails it, cell by cell.
 * - {@link createTestHarness}: a Phaseline on `:memory:` with a manual clock, `drain()`, `waitFor()`
 *   and a recorder of the events it emitted.
 *
 * Every type named here comes from a module that names no store or driver type.
 */
export { checkLifecycle } from './check.ts';
export type { CheckOptions, CheckStep, CheckSummary } from './check-types.ts';
export { LifecycleCheckError, type LifecycleCheckFailure } from './check-error.ts';
export { RULES, type RuleId } from './rules.ts';
export { LifecycleTestError } from './errors.ts';

export {
  exploreLifecycle, LifecycleExploreError,
  type DiagramOptions, type Exploration, type ExploredEdge, type ExploredState, type ExploreOptions, type ExploreProblem,
  type ExploreProblemKind, type SearchOptions,
} from './explore.ts';

export {
  expectTransitions, printTransitions, transitionTableOf, TransitionTableError,
  type CellDifference, type TableOptions, type TransitionTable,
} from './table.ts';

export { createTestHarness } from './harness.ts';
export { HarnessError, HarnessTimeoutError, type DrainOptions, type DrainReport, type HarnessOptions, type TestHarness } from './harness-types.ts';
export type { ManualClock } from './manual-clock.ts';
export { RECORDED_EVENTS, type EventRecorder, type RecordedEvent, type RecordedEventName } from './recorder.ts';

export { EVENT_KEYS, SAMPLE_EVENTS, eventKeyOf, type EventKey, type PayloadVariants, type SampleEvent } from './vocabulary.ts';

/**
 * phaseline/testing finds the faults it is for. A user's lifecycle made with defineLifecycle (the
 * README's document review, test/support/review.ts) passes every check; copies of it with one planted fault each are
 * caught by the function meant for it, with a shrunk counterexample where one applies:
 *
 * - a terminal state that can be left: checkLifecycle (terminal-accepts) and exploreLifecycle;
 * - progress that can drop: checkLifecycle (progress-monotonic);
 * - a state nothing leads to: exploreLifecycle (unreachable);
 * - a missing tag (the reviewing state not tagged running; a final state not tagged terminal):
 *   exploreLifecycle (tags, dead end);
 * - a transition changed without a new version: expectTransitions against the pinned table;
 * - a guard that reads the wall clock: checkLifecycle (replay, run later, does not rebuild the row)
 *   and exploreLifecycle (the transition answers differently at another instant).
 *
 * The five built-in lifecycles pass too. Each planted fault prints one line saying what was
 * produced, and the test prints how many sequences per second checkLifecycle checks.
 *
 * Environment: PHASELINE_SEED (default 20261203) seeds every checkLifecycle call.
 */
import { describe, expect, it } from 'vitest';
import { builtInLifecycles, type Lifecycle } from '../machines/index.ts';
import {
  checkLifecycle, exploreLifecycle, expectTransitions, LifecycleCheckError, LifecycleExploreError, printTransitions,
  TransitionTableError, type RuleId, type TransitionTable,
} from '../src/testing/index.ts';
import { envInt } from './support/env.ts';
import { apply, IN_REVIEW, review } from './support/review.ts';

const SEED = envInt('PHASELINE_SEED', 20261203);
const RUNS = 200;

/** The review lifecycle's table as printTransitions printed it, pasted here: what its tests pin. */
const PINNED: TransitionTable = {
  queued: {
    CLAIM: 'in_review',
    CANCEL: 'withdrawn',
  },
  in_review: {
    CANCEL: 'withdrawn',
    PROGRESS: 'in_review',
    STEP: 'in_review',
    ASK: 'needs_answer',
    SUCCEED: 'approved',
    FAIL: 'rejected',
    'FAIL+retry': 'queued',
    TIMEOUT: 'rejected',
    'TIMEOUT+retry': 'queued',
    LEASE_LOST: 'rejected',
    'LEASE_LOST+retry': 'queued',
    RELEASE: 'queued',
  },
  withdrawn: {},
  needs_answer: {
    CANCEL: 'withdrawn',
    REPLY: 'queued',
  },
  approved: {},
  rejected: {},
};

/** What each terminal state of a built-in lifecycle may accept (its machine's doc comment). */
const TERMINAL_ACCEPTS: Record<string, Record<string, readonly string[]>> = {
  ecotaxa: { E: ['RESTART'] },
  uws: { COMPLETED: ['ARCHIVE', 'SET'], ERROR: ['ARCHIVE', 'SET'], ABORTED: ['ARCHIVE', 'SET'] },
};

function caught<E extends Error>(type: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error(`expected a ${type.name}`);
}

/** The check's failure, said in one line: the rule, the shrunk sequence's event types, the seed and path. */
function caughtByCheck(lifecycle: Lifecycle, rule: RuleId): LifecycleCheckError {
  const error = caught(LifecycleCheckError, () => checkLifecycle(lifecycle, { runs: RUNS, seed: SEED }));
  expect(error.rule).toBe(rule);
  expect(error.seed).toBe(SEED);
  expect(error.message).toContain(`repeat: checkLifecycle(lifecycle, { seed: ${SEED}, path: ${JSON.stringify(error.path)} })`);
  // The counterexample repeats from its seed and path alone.
  expect(caught(LifecycleCheckError, () => checkLifecycle(lifecycle, { seed: error.seed, path: error.path })).rule).toBe(rule);
  return error;
}

const typesOf = (error: LifecycleCheckError) => error.events.map((step) => (step.event as { type?: unknown })?.type).join(', ');

function report(fault: string, produced: string): void {
  console.log(`[testing.faults] ${fault}: ${produced}`);
}

describe('the unmutated lifecycle and the five built-in ones pass', () => {
  it('review: checkLifecycle, exploreLifecycle and the pinned table; and how many sequences per second checkLifecycle checks', () => {
    const lifecycle = review();
    const summary = checkLifecycle(lifecycle, { runs: 200, seed: SEED });
    expect(summary).toMatchObject({ lifecycle: 'review', version: 1, runs: 200, seed: SEED });
    expect(summary.accepted + summary.refused).toBe(summary.events);
    expect(summary.states).toEqual(['approved', 'in_review', 'needs_answer', 'queued', 'rejected', 'withdrawn']);
    console.log(
      `[testing.faults] checkLifecycle(review): ${summary.runs} sequences, ${summary.events} events (${summary.accepted} accepted, ${summary.refused} refused) in ${summary.ms} ms: ` +
        `${Math.round((summary.runs * 1000) / Math.max(1, summary.ms))} sequences/s, ${Math.round((summary.events * 1000) / Math.max(1, summary.ms))} events/s`,
    );
    const exploration = exploreLifecycle(lifecycle);
    expect(exploration.problems).toEqual([]);
    exploration.assertNoProblems();
    expectTransitions(lifecycle, PINNED, { version: 1 });
    // The pinned table is what printTransitions prints, as source.
    const printed = printTransitions(lifecycle);
    expect(new Function(`return ${printed.replace(/^\/\/.*\n/, '')}`)()).toEqual(PINNED);
  });

  it.each(Object.values(builtInLifecycles).map((l) => [l.name, l] as const))('%s', (name, lifecycle) => {
    const terminalAccepts = TERMINAL_ACCEPTS[name] ?? {};
    const summary = checkLifecycle(lifecycle, { runs: 60, seed: SEED, terminalAccepts });
    expect(summary.runs).toBe(60);
    const exploration = exploreLifecycle(lifecycle, { terminalAccepts });
    expect(exploration.problems).toEqual([]);
    expect(exploration.unreachable).toEqual([]);
    // EcoTaxa's E is left by RESTART, and that is allowed; nothing else leaves a terminal state.
    expect(exploration.terminalExits.map((e) => `${e.from} ${e.key}`)).toEqual(name === 'ecotaxa' ? ['E.killed RESTART', 'E.error RESTART'] : []);
    // The current table, printed and read back, is the machine's.
    expectTransitions(lifecycle, new Function(`return ${printTransitions(lifecycle).replace(/^\/\/.*\n/, '')}`)() as TransitionTable);
  });
});

describe('each planted fault is caught by the function meant for it', () => {
  it('a terminal state that can be left: checkLifecycle breaks terminal-accepts with a shrunk sequence; exploreLifecycle names the exit', () => {
    // A late reply reopens a rejected review.
    const leaky = review({ rejected: { tags: ['terminal', 'failed'], on: { REPLY: { target: 'queued', ...apply } } } });
    const error = caughtByCheck(leaky, 'terminal-accepts');
    expect(error.events.length).toBeLessThanOrEqual(4);
    expect(error.events.at(-1)?.event).toMatchObject({ type: 'REPLY' });
    expect(error.detail).toMatch(/terminal rejected accepted REPLY/);
    const exploration = exploreLifecycle(leaky);
    expect(exploration.terminalExits).toEqual([{ from: 'rejected', to: 'queued', event: 'REPLY', key: 'REPLY', variant: null }]);
    expect(exploration.problems.map((p) => p.kind)).toEqual(['terminal-exit']);
    expect(() => exploration.assertNoProblems()).toThrow(LifecycleExploreError);
    report('terminal state that can be left', `checkLifecycle: ${error.rule} after ${error.events.length} events (${typesOf(error)}), seed ${error.seed} path ${error.path}; exploreLifecycle: ${exploration.problems[0]!.message}`);
  });

  it('progress that can drop: checkLifecycle breaks progress-monotonic with a shrunk sequence', () => {
    // The reported percent stored as it is, instead of the shared reducer's highest figure so far.
    const dropping = review(
      { in_review: { ...IN_REVIEW, on: { ...IN_REVIEW.on, PROGRESS: { actions: ['apply', 'asReported'] } } } },
      { actions: { asReported: ({ context, event }) => ({ progress: { ...context.progress, percent: (event as { percent?: number }).percent ?? context.progress.percent } }) } },
    );
    const error = caughtByCheck(dropping, 'progress-monotonic');
    expect(error.events.length).toBeLessThanOrEqual(4);
    expect(error.events.filter((step) => (step.event as { type?: string }).type === 'PROGRESS').length).toBeGreaterThanOrEqual(2);
    expect(exploreLifecycle(dropping).problems).toEqual([]); // no shape problem: only running it shows
    report('progress that can drop', `checkLifecycle: ${error.rule} after ${error.events.length} events (${typesOf(error)}): ${error.detail.replace(/^.*: /, '')}, seed ${error.seed} path ${error.path}`);
  });

  it('a state nothing leads to: exploreLifecycle reports it unreachable', () => {
    const stranded = review({ on_hold: { tags: ['waiting'], on: { REPLY: { target: 'queued', ...apply }, CANCEL: { target: 'withdrawn', ...apply } } } });
    const exploration = exploreLifecycle(stranded);
    expect(exploration.unreachable).toEqual(['on_hold']);
    expect(exploration.problems.map((p) => `${p.kind} ${p.state}`)).toEqual(['unreachable on_hold']);
    expect(exploration.toMermaid()).toContain('state "on_hold (unreachable)" as u0');
    checkLifecycle(stranded, { runs: 50, seed: SEED }); // nothing the engine promises is broken
    report('unreachable state', `exploreLifecycle: ${exploration.problems[0]!.message}`);
  });

  it('a missing tag: exploreLifecycle names the state (not running although claimed; final but not terminal, a dead end)', () => {
    const notRunning = review({ in_review: { ...IN_REVIEW, tags: [] } });
    const exploration = exploreLifecycle(notRunning);
    expect(exploration.problems.map((p) => `${p.kind} ${p.state}`)).toEqual(['tags in_review', 'tags in_review']);
    expect(exploration.problems[0]!.message).toMatch(/CLAIM leads from queued to in_review, which is not tagged running/);
    expect(exploration.problems[1]!.message).toMatch(/in_review accepts PROGRESS, STEP, ASK, SUCCEED, .*not tagged running/);
    report('missing tag (running)', `exploreLifecycle: ${exploration.problems[0]!.message}`);

    const neverEnds = review({ withdrawn: { type: 'final' } });
    const stuck = exploreLifecycle(neverEnds);
    expect(stuck.deadEnds).toEqual(['withdrawn']);
    expect(stuck.problems.map((p) => `${p.kind} ${p.state}`)).toEqual(['dead-end withdrawn', 'tags withdrawn']);
    report('missing tag (terminal)', `exploreLifecycle: ${stuck.problems.map((p) => p.message).join('; ')}`);
  });

  it('a transition changed without a new version: expectTransitions against the pinned table names the cell', () => {
    // Cancelling a review in progress now rejects it; the version stays 1.
    const changed = review({ in_review: { ...IN_REVIEW, on: { ...IN_REVIEW.on, CANCEL: { target: 'rejected', ...apply } } } });
    const error = caught(TransitionTableError, () => expectTransitions(changed, PINNED, { version: 1 }));
    expect(error.differences).toEqual([{ state: 'in_review', event: 'CANCEL', expected: 'withdrawn', actual: 'rejected' }]);
    expect(error.message).toMatch(/in_review × CANCEL: expected withdrawn, actual rejected/);
    // Bumping the version alone does not pass either: the table was pinned for version 1.
    expect(() => expectTransitions({ ...changed, version: 2 }, PINNED, { version: 1 })).toThrow(/expected version 1, actual version 2/);
    report('transition changed without a new version', `expectTransitions: ${error.message.split('\n')[1]!.trim()}`);
  });

  it('a guard that reads the wall clock: checkLifecycle finds that replay does not rebuild the row; exploreLifecycle finds the transition nondeterministic', () => {
    // "A reply counts only within a minute": of Date.now(), not of the event's own instant.
    const clocked = review(
      { needs_answer: { tags: ['waiting'], on: { REPLY: { guard: 'answeredInTime', target: 'queued', ...apply }, CANCEL: { target: 'withdrawn', ...apply } } } },
      { guards: { answeredInTime: ({ event }) => Date.now() - event.at < 60_000 } },
    );
    const error = caughtByCheck(clocked, 'replay-rebuilds');
    expect(error.events.length).toBeLessThanOrEqual(4);
    expect(error.detail).toMatch(/needs_answer refuses REPLY/);
    const exploration = exploreLifecycle(clocked);
    expect(exploration.nondeterministic.map((n) => `${n.state} ${n.event}`)).toEqual(['needs_answer REPLY']);
    expect(exploration.problems.map((p) => p.kind)).toEqual(['nondeterministic']);
    report('guard that reads the clock', `checkLifecycle: ${error.rule} after ${error.events.length} events (${typesOf(error)}), seed ${error.seed} path ${error.path}; exploreLifecycle: ${exploration.problems[0]!.message}`);
  });
});

/**
 * phaseline/testing's pieces one by one: exploration (shortest ways in, events that throw, states
 * that never end, payload variants of a lifecycle's own events), the diagrams (names Mermaid or DOT
 * would read as syntax are escaped), the table's differences, the wall clock it sets and restores,
 * refused options, and that the kit runs under node:test as well (it throws, it never asserts).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { builtInLifecycles, defineLifecycle } from '../machines/index.ts';
import {
  checkLifecycle, eventKeyOf, exploreLifecycle, expectTransitions, LifecycleTestError, printTransitions, transitionTableOf,
  TransitionTableError,
} from '../src/testing/index.ts';
import { withWallClock } from '../src/testing/wall-clock.ts';
import { tempDir } from './support/sqlite.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const apply = { actions: 'apply' } as const;

/** A decision with an own event whose guard reads its payload; `withoutProgress` forgets that a success shows 100 percent. */
function decisionLifecycle(withoutProgress = false) {
  return defineLifecycle({
    name: 'decision', version: 1, initial: 'open',
    guards: { approves: ({ event }) => (event as { verdict?: unknown }).verdict === 'yes' },
    actions: { complete: ({ context }) => ({ progress: { ...context.progress, percent: 100 } }) },
    states: {
      open: { tags: ['queued'], on: { CLAIM: { target: 'deciding', ...apply } } },
      deciding: {
        tags: ['running'],
        on: {
          DECIDE: [{ guard: 'approves', target: 'approved', actions: withoutProgress ? ['apply'] : ['apply', 'complete'] }, { target: 'declined', ...apply }],
          FAIL: { target: 'declined', ...apply },
        },
      },
      approved: { type: 'final', tags: ['terminal', 'succeeded'] },
      declined: { type: 'final', tags: ['terminal', 'failed'] },
    },
  });
}
const decision = decisionLifecycle();
const VERDICTS = { DECIDE: { yes: { verdict: 'yes' }, no: { verdict: 'no' } } };

describe('exploreLifecycle', () => {
  it('sends the payload variants named for own events, and gives the shortest way into each state', () => {
    const exploration = exploreLifecycle(decision, { payloads: VERDICTS });
    expect(exploration.edges.filter((e) => e.event === 'DECIDE')).toEqual([
      { from: 'deciding', to: 'declined', event: 'DECIDE', key: 'DECIDE', variant: null },
      { from: 'deciding', to: 'approved', event: 'DECIDE', key: 'DECIDE+yes', variant: 'yes' },
      { from: 'deciding', to: 'declined', event: 'DECIDE', key: 'DECIDE+no', variant: 'no' },
    ]);
    expect(Object.fromEntries(exploration.states.map((s) => [s.label, s.via]))).toEqual({
      open: [], deciding: ['CLAIM'], declined: ['CLAIM', 'DECIDE'], approved: ['CLAIM', 'DECIDE+yes'],
    });
    // Without the variants, approval is out of reach.
    expect(exploreLifecycle(decision).unreachable).toEqual(['approved']);
    expect(eventKeyOf({ type: 'DECIDE', verdict: 'no' }, VERDICTS)).toBe('DECIDE+no');
    expect(checkLifecycle(decision, { runs: 30, seed: 7, payloads: VERDICTS }).states).toContain('approved');
    // An own event into a succeeded state must show 100 percent, as SUCCEED's reducer does.
    expect(() => checkLifecycle(decisionLifecycle(true), { runs: 100, seed: 7, payloads: VERDICTS })).toThrow(/breaks success-is-100/);
  });

  it('reports events that throw, and states a job can never end from', () => {
    const looping = defineLifecycle({
      name: 'looping', version: 1, initial: 'a',
      guards: { explodes: () => { throw new Error('no such field'); } },
      states: {
        a: { tags: ['queued'], on: { CLAIM: { target: 'b', ...apply }, CANCEL: { target: 'gone', ...apply } } },
        b: { tags: ['running'], on: { RELEASE: { target: 'c', ...apply }, SUCCEED: { guard: 'explodes', target: 'gone', ...apply } } },
        c: { tags: ['waiting'], on: { REPLY: { target: 'b', ...apply } } },
        gone: { type: 'final', tags: ['terminal', 'cancelled'] },
      },
    });
    const exploration = exploreLifecycle(looping);
    expect(exploration.throws).toEqual([{ state: 'b', event: 'SUCCEED', error: expect.stringMatching(/no such field/) }]);
    expect(exploration.cannotEnd).toEqual(['b', 'c']);
    expect(exploration.deadEnds).toEqual([]);
    expect(exploration.problems.map((p) => `${p.kind} ${p.state}`)).toEqual(['cannot-end b', 'cannot-end c', 'throws b']);
    expect(() => exploration.assertNoProblems()).toThrow(LifecycleTestError);
    // checkLifecycle says which rule: the machine must answer every event without throwing.
    expect(() => checkLifecycle(looping, { runs: 100, seed: 3 })).toThrow(/breaks machine-throws/);
  });
});

describe('diagrams', () => {
  // State names Mermaid would read as syntax: a quote, a colon and a semicolon, a comment, a direction.
  const odd = defineLifecycle({
    name: 'odd "one"', version: 1, initial: 'needs "answer"',
    states: {
      'needs "answer"': { tags: ['queued'], on: { CLAIM: { target: 'a:b;c', ...apply } } },
      'a:b;c': { tags: ['running'], on: { SUCCEED: { target: 'x # y %% z', ...apply }, FAIL: { target: 'direction LR', ...apply } } },
      'x # y %% z': { type: 'final', tags: ['terminal', 'succeeded'] },
      'direction LR': { type: 'final', tags: ['terminal', 'failed'] },
      'never <b>': { tags: ['waiting'] },
    },
  });

  it('Mermaid: every line is a statement of stateDiagram-v2, and the names are there as entity codes', () => {
    const mermaid = exploreLifecycle(odd).toMermaid();
    const lines = mermaid.trimEnd().split('\n');
    expect(lines[0]).toBe('stateDiagram-v2');
    const statement = [
      /^ {2}state "[^"\n]*" as [su]\d+$/, // a state and its label (a label cannot hold a quote)
      /^ {2}(\[\*\]|s\d+) --> (\[\*\]|s\d+)( : [^:;\n]+)?$/, // a transition, its label up to a colon or semicolon
      /^ {2}classDef \w+ [^\n]+$/,
      /^ {2}class [su]\d+(,[su]\d+)* \w+$/,
    ];
    for (const line of lines.slice(1)) expect(statement.some((re) => re.test(line)), line).toBe(true);
    // Nothing Mermaid's lexer takes for a comment or a direction.
    expect(mermaid).not.toMatch(/%%|direction\s+(TB|BT|RL|LR)/i);
    expect(lines.filter((l) => /#(?!\d+;)/.test(l))).toEqual([]); // every # begins an entity code
    expect(mermaid).toContain('state "needs #34;answer#34;" as s0');
    expect(mermaid).toContain('state "a#58;b#59;c" as s1');
    expect(mermaid).toContain('state "x #35; y #37;#37; z" as s2');
    expect(mermaid).toContain('state "direction#32;LR" as s3');
    expect(mermaid).toContain('state "never #60;b#62; (unreachable)" as u0');
    expect(mermaid).toContain('s1 --> s2 : SUCCEED');
    expect(mermaid).toContain('class s2,s3 terminal');
  });

  it('DOT: labels are quoted and escaped; terminal states are drawn double; self-loops can be left out', () => {
    const dot = exploreLifecycle(odd).toDot();
    expect(dot).toMatch(/^digraph "odd \\"one\\"@1" \{\n/);
    expect(dot).toContain('"needs \\"answer\\"" -> "a:b;c" [label="CLAIM"];');
    expect(dot).toContain('"x # y %% z" [peripheries=2];');
    expect(dot).toContain('"never <b>" [style="rounded,dashed", fontcolor=gray, xlabel="unreachable"];');
    const rime = exploreLifecycle(builtInLifecycles.rime);
    expect(rime.toMermaid()).toMatch(/(s\d+) --> \1 : /);
    expect(rime.toMermaid({ selfLoops: false })).not.toMatch(/(s\d+) --> \1 : /);
    expect(rime.toDot({ selfLoops: false })).not.toMatch(/("[^"]+") -> \1 /);
  });
});

describe('expectTransitions', () => {
  it('names a state missing from the table, a state the table has that nothing reaches, and takes refused cells written out', () => {
    const table = transitionTableOf(decision, { payloads: VERDICTS });
    expect(table).toEqual({
      open: { CLAIM: 'deciding' },
      deciding: { DECIDE: 'declined', 'DECIDE+yes': 'approved', 'DECIDE+no': 'declined', FAIL: 'declined', 'FAIL+retry': 'declined' },
      declined: {},
      approved: {},
    });
    expectTransitions(decision, { ...table, open: { CLAIM: 'deciding', FAIL: 'refused', CANCEL: '-' } }, { payloads: VERDICTS });
    const { approved: _approved, ...missing } = table;
    const error = (() => {
      try {
        expectTransitions(decision, { ...missing, limbo: {} }, { payloads: VERDICTS });
      } catch (e) {
        return e as TransitionTableError;
      }
      throw new Error('expected a difference');
    })();
    expect(error).toBeInstanceOf(TransitionTableError);
    expect(error.differences).toEqual([
      { state: 'approved', event: '*', expected: 'not in the table', actual: 'reachable' },
      { state: 'limbo', event: '*', expected: 'reachable', actual: 'not reachable' },
    ]);
    expect(printTransitions(decision, { payloads: VERDICTS })).toBe(
      [
        '// decision@1: state → event → next state; an event missing from a state is refused there.',
        '{',
        '  open: {',
        "    CLAIM: 'deciding',",
        '  },',
        '  deciding: {',
        "    DECIDE:       'declined',",
        "    'DECIDE+yes': 'approved',",
        "    'DECIDE+no':  'declined',",
        "    FAIL:         'declined',",
        "    'FAIL+retry': 'declined',",
        '  },',
        '  declined: {},',
        '  approved: {},',
        '}',
        '',
      ].join('\n'),
    );
  });
});

describe('the wall clock the kit sets', () => {
  it('reads the instant inside, the real clock again afterwards, also after a throw', () => {
    const RealDate = Date;
    expect(withWallClock(5_000, () => [Date.now(), new Date().getTime(), new Date(7).getTime(), typeof Date()])).toEqual([5_000, 5_000, 7, 'string']);
    expect(() => withWallClock(1, () => {
      throw new Error('inside');
    })).toThrow('inside');
    expect(Date).toBe(RealDate);
    expect(Math.abs(Date.now() - performance.timeOrigin - performance.now())).toBeLessThan(60_000);
  });
});

describe('checkLifecycle options', () => {
  it('refuses options out of range, and a lifecycle registration refuses, saying what is wrong', () => {
    expect(() => checkLifecycle(decision, { runs: 0 })).toThrow(/runs: must be an integer of at least 1/);
    expect(() => checkLifecycle(decision, { maxEvents: 1.5 })).toThrow(/maxEvents/);
    expect(() => checkLifecycle(decision, { path: '1:2' })).toThrow(/only together with its seed/);
    const typo = defineLifecycle({ ...{ name: 'typo', version: 1, initial: 'q' }, states: { q: { tags: ['queued'], on: { CLAIM: { target: 'done', actions: 'aply' } } }, done: { type: 'final', tags: ['terminal', 'succeeded'] } } });
    expect(() => checkLifecycle(typo)).toThrow(/names the action "aply", which is not implemented/);
  });
});

describe('under node:test', () => {
  it('checks, explores and pins a lifecycle in a node:test file: no test framework needed', () => {
    const dir = tempDir('testing-node');
    const file = join(dir, 'review.test.mts');
    const kit = join(ROOT, 'src', 'testing', 'index.ts');
    const machines = join(ROOT, 'machines', 'index.ts');
    writeFileSync(file, `
import { test } from 'node:test';
import { defineLifecycle } from ${JSON.stringify(machines)};
import { checkLifecycle, exploreLifecycle, expectTransitions, transitionTableOf, LifecycleCheckError } from ${JSON.stringify(kit)};
const apply = { actions: 'apply' };
const states = {
  q: { tags: ['queued'], on: { CLAIM: { target: 'w', ...apply } } },
  w: { tags: ['running'], on: { PROGRESS: apply, SUCCEED: { target: 'done', ...apply } } },
  done: { type: 'final', tags: ['terminal', 'succeeded'] },
};
const chore = defineLifecycle({ name: 'chore', version: 1, initial: 'q', states });
test('a sound lifecycle passes', () => {
  checkLifecycle(chore, { runs: 20, seed: 1 });
  exploreLifecycle(chore).assertNoProblems();
  expectTransitions(chore, transitionTableOf(chore));
});
test('a broken one fails with a LifecycleCheckError', () => {
  const leaky = defineLifecycle({ name: 'chore', version: 1, initial: 'q', states: { ...states, done: { tags: ['terminal', 'succeeded'], on: { CLAIM: { target: 'w', ...apply } } } } });
  try { checkLifecycle(leaky, { runs: 100, seed: 1 }); } catch (error) { if (error instanceof LifecycleCheckError && error.rule === 'terminal-accepts') return; throw error; }
  throw new Error('not caught');
});
`);
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', file], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(`${result.stdout}${result.stderr}`).toMatch(/# pass 2\n# fail 0/);
    expect(result.status).toBe(0);
  });
});

/**
 * The engine's shared-scope transition functions (src/engine/transition.ts) must agree with
 * XState's own pure `transition()` / `initialTransition()` on every machine, for any event sequence.
 */
import fc from 'fast-check';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { describe, expect, it } from 'vitest';
import { builtInLifecycles, COMMON_EVENT_TYPES } from '../machines/index.ts';
import { firstSnapshot, nextSnapshot } from '../src/engine/transition.ts';

const seed = Number(process.env.PHASELINE_SEED ?? 20261125);
const numRuns = Number(process.env.PHASELINE_PROPERTY_RUNS ?? 1000);
const COMMANDS = ['RUN', 'ABORT', 'HOLD', 'SUSPEND', 'RESUME', 'ARCHIVE', 'KILL', 'RESTART', 'ADMIT', 'QUEUE', 'VALIDATED'];

const eventArb = fc.oneof(
  fc.constantFrom(...COMMON_EVENT_TYPES, ...COMMANDS).map((type) => ({ type })),
  fc.record({ type: fc.constant('PROGRESS'), percent: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ type: fc.constant('FAIL'), error: fc.record({ message: fc.string() }), retryAt: fc.option(fc.nat(), { nil: undefined }) }),
  fc.record({ type: fc.constant('SUCCEED'), result: fc.jsonValue() }),
  fc.record({ type: fc.constant('REPLY'), reply: fc.jsonValue() }),
);

const view = (s: AnyMachineSnapshot) => JSON.stringify({ value: s.value, context: s.context, status: s.status, tags: [...s.tags].sort() });

describe('shared-scope transitions agree with xstate', () => {
  console.log(`engine.transition: seed ${seed}, ${numRuns} runs per machine (PHASELINE_SEED, PHASELINE_PROPERTY_RUNS)`);
  for (const lifecycle of Object.values(builtInLifecycles)) {
    it(`${lifecycle.name}: same snapshots and same refusals`, () => {
      fc.assert(
        fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
          let ours = firstSnapshot(lifecycle.machine, { params: null });
          let theirs = initialTransition(lifecycle.machine, { params: null })[0];
          expect(view(ours)).toBe(view(theirs));
          events.forEach((event, i) => {
            const stamped = { ...event, at: i };
            const a = nextSnapshot(lifecycle.machine, ours, stamped);
            const b = transition(lifecycle.machine, theirs, stamped as never)[0];
            expect(a === ours).toBe(b === theirs);
            expect(view(a)).toBe(view(b));
            ours = a;
            theirs = b;
          });
        }),
        { seed, numRuns },
      );
    });
  }
});

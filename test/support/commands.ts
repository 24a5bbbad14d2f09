/**
 * fast-check arbitraries for engine.properties.test.ts and store.postgres.properties.test.ts: the
 * events of phaseline/testing's generators (src/testing/arbitraries.ts: every type, the lifecycle's
 * own, other lifecycles', unknown ones, well-formed and malformed payloads, clock moves that
 * sometimes go backwards), and on top of them send options that should be refused. Each generated
 * event says whether its payload is well formed, so a test knows whether INVALID_INPUT is the
 * right answer.
 */
import fc from 'fast-check';
import { eventArbitraries, type GeneratedEvent } from '../../src/testing/arbitraries.ts';

export type { GeneratedEvent } from '../../src/testing/arbitraries.ts';

export type SendOption =
  | { kind: 'none' }
  | { kind: 'expect-current' }
  | { kind: 'expect-stale'; delta: number }
  | { kind: 'owner-right' }
  | { kind: 'owner-wrong' }
  | { kind: 'fence-held' }
  | { kind: 'fence-wrong' }
  | { kind: 'lease'; leaseId: string; ttl: number }
  | { kind: 'missing-job' };

export interface Step {
  /**
   * Random events; the first is sent, unless `steer` is set and a later one is one the job accepts
   * now (per the lifecycle table), which is then sent instead. Steering lets sequences reach deep
   * states (UWS SUSPENDED, Qiskit RUNNING, a cancel-requested RIME job) instead of ending early.
   */
  candidates: GeneratedEvent[];
  steer: boolean;
  option: SendOption;
  /** Clock move before the send (ms); negative now and then. */
  dt: number;
}

const arbitraries = eventArbitraries(fc);

/** Events for one lifecycle: its own commands weigh most, others' commands and unknown names a little. */
export function eventArb(own: readonly string[]): fc.Arbitrary<GeneratedEvent> {
  return arbitraries.events(own);
}

export const optionArb: fc.Arbitrary<SendOption> = fc.oneof(
  { weight: 24, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'expect-current' as const }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1, 5).map((delta) => ({ kind: 'expect-stale' as const, delta })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'owner-right' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'owner-wrong' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'fence-held' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'fence-wrong' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({ leaseId: fc.constantFrom('L1', 'L2', 'L3'), ttl: fc.integer({ min: 1_000, max: 600_000 }) }).map((l) => ({
      kind: 'lease' as const,
      ...l,
    })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'missing-job' as const }) },
);

/** Clock moves: mostly forward by up to an hour, sometimes not at all, sometimes back by up to a minute. */
export const clockMoveArb: fc.Arbitrary<number> = arbitraries.clockMove;

export function stepsArb(own: readonly string[], maxLength = 25): fc.Arbitrary<Step[]> {
  const step = fc.record({
    candidates: fc.array(eventArb(own), { minLength: 1, maxLength: 3 }),
    steer: fc.oneof({ weight: 2, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    option: optionArb,
    dt: clockMoveArb,
  });
  return fc.array(step, { minLength: 1, maxLength, size: 'max' });
}

/**
 * What a test harness saw: every job event a Phaseline emitted (transitions, progress, ends,
 * deletions, lost leases, errors), in order, each with the harness clock's instant.
 */
import type { Phaseline } from '../phaseline.ts';
import type { PhaselineEventMap } from '../events.ts';

/** The events a recorder keeps (`runner:idle` is left out: how often a worker idles is no test's business). */
export const RECORDED_EVENTS = ['job:transition', 'job:progress', 'job:ended', 'job:deleted', 'job:lease-lost', 'error'] as const;
/** The name of a recorded event. */
export type RecordedEventName = (typeof RECORDED_EVENTS)[number];

/** One event as recorded. */
export type RecordedEvent = {
  [K in RecordedEventName]: { name: K; payload: PhaselineEventMap[K]; at: number };
}[RecordedEventName];

/** The events a harness saw, in the order they were emitted. */
export interface EventRecorder {
  /** Every recorded event. */
  all(): RecordedEvent[];
  /** The recorded events of one name, with their payloads typed. */
  of<K extends RecordedEventName>(name: K): Array<Extract<RecordedEvent, { name: K }>>;
  /** The transitions, as `TYPE: before → after` (`CREATE: - → queued`), of one job or of all. */
  transitions(jobId?: number): string[];
  /** Forget everything recorded so far. */
  clear(): void;
}

/** Record every event of {@link RECORDED_EVENTS} the Phaseline emits from now on, stamped by `clock`. */
export function recordEvents(phaseline: Phaseline, clock: () => number, onEvent?: (event: RecordedEvent) => void): EventRecorder {
  const events: RecordedEvent[] = [];
  for (const name of RECORDED_EVENTS) {
    phaseline.on(name, (payload: PhaselineEventMap[RecordedEventName]) => {
      const event = { name, payload, at: clock() } as RecordedEvent;
      events.push(event);
      onEvent?.(event);
    });
  }
  const of = <K extends RecordedEventName>(name: K) => events.filter((e): e is Extract<RecordedEvent, { name: K }> => e.name === name);
  return {
    all: () => [...events],
    of,
    transitions: (jobId) =>
      of('job:transition')
        .filter((e) => jobId === undefined || e.payload.job.id === jobId)
        .map(({ payload: { event } }) => `${event.type}: ${event.stateBefore ?? '-'} → ${event.stateAfter}`),
    clear: () => {
      events.length = 0;
    },
  };
}

/**
 * The events the toolkit sends, by key: each event type, and for a type whose payload a guard of
 * machines/common.ts reads, one key per answer of that guard. `FAIL` has no `retryAt` and
 * `FAIL+retry` has one (the `willRetry` guard; the same for `LEASE_LOST` and `TIMEOUT`), `SET`
 * leaves the parameters alone and `SET+params` edits them (`keepsParams`). A lifecycle's own
 * events are sent bare (`APPROVE`), plus one key per payload variant its tests name
 * (`APPROVE+yes` for `payloads: { APPROVE: { yes: { verdict: 'yes' } } }`).
 */
import type { CommandEvent, Json } from '../../machines/common.ts';
import { sameJson } from './json.ts';

/** Every lifecycle command of machines/common.ts `CommandEvent`. */
export const COMMAND_TYPES = [
  'RUN', 'ABORT', 'HOLD', 'SUSPEND', 'RESUME', 'ARCHIVE', 'KILL', 'RESTART', 'ADMIT', 'QUEUE', 'VALIDATED',
] as const satisfies readonly CommandEvent['type'][];
// Exhaustive both ways: a command added to CommandEvent must be added here.
type MissingCommand = Exclude<CommandEvent['type'], (typeof COMMAND_TYPES)[number]>;
const _allCommandsListed: [MissingCommand] extends [never] ? true : never = true;
void _allCommandsListed;

/** The keys of the built-in vocabulary: each common event and command, and the guard variants. */
export const EVENT_KEYS = [
  'CLAIM', 'PROGRESS', 'ASK', 'REPLY', 'CHECKPOINT', 'STEP', 'SUCCEED', 'FAIL', 'FAIL+retry',
  'CANCEL', 'CANCEL_DONE', 'LEASE_LOST', 'LEASE_LOST+retry', 'TIMEOUT', 'TIMEOUT+retry', 'RELEASE',
  'SET', 'SET+params',
  ...COMMAND_TYPES,
] as const;
/** A key of the built-in vocabulary. */
export type EventKey = (typeof EVENT_KEYS)[number];

/** An event without the instant the engine stamps on it. */
export type SampleEvent = { type: string } & Record<string, Json>;

/** One well-formed event per key of the built-in vocabulary. */
export const SAMPLE_EVENTS: Readonly<Record<EventKey, SampleEvent>> = {
  CLAIM: { type: 'CLAIM' },
  PROGRESS: { type: 'PROGRESS', percent: 40, message: 'working' },
  ASK: { type: 'ASK', question: { pick: ['a', 'b'] }, message: 'Which one?' },
  REPLY: { type: 'REPLY', reply: { pick: 'a' } },
  CHECKPOINT: { type: 'CHECKPOINT', inside: { cursor: 3 }, step: 2 },
  STEP: { type: 'STEP', name: 'fetch', result: [1, 2] },
  SUCCEED: { type: 'SUCCEED', result: { ok: true } },
  FAIL: { type: 'FAIL', error: { message: 'boom', name: 'Error' } },
  'FAIL+retry': { type: 'FAIL', error: { message: 'boom', name: 'Error', kind: 'transient' }, retryAt: 9_000_000 },
  CANCEL: { type: 'CANCEL', reason: 'user' },
  CANCEL_DONE: { type: 'CANCEL_DONE' },
  LEASE_LOST: { type: 'LEASE_LOST' },
  'LEASE_LOST+retry': { type: 'LEASE_LOST', retryAt: 9_000_000 },
  TIMEOUT: { type: 'TIMEOUT' },
  'TIMEOUT+retry': { type: 'TIMEOUT', retryAt: 9_000_000 },
  RELEASE: { type: 'RELEASE' },
  SET: { type: 'SET', priority: 7, quote: 8_000_000 },
  'SET+params': { type: 'SET', params: { edited: true } },
  RUN: { type: 'RUN' },
  ABORT: { type: 'ABORT' },
  HOLD: { type: 'HOLD' },
  SUSPEND: { type: 'SUSPEND' },
  RESUME: { type: 'RESUME' },
  ARCHIVE: { type: 'ARCHIVE' },
  KILL: { type: 'KILL' },
  RESTART: { type: 'RESTART' },
  ADMIT: { type: 'ADMIT' },
  QUEUE: { type: 'QUEUE' },
  VALIDATED: { type: 'VALIDATED' },
};

/**
 * Payload variants of a lifecycle's own events, by event type and then by variant name:
 * `{ APPROVE: { yes: { verdict: 'yes' }, no: { verdict: 'no' } } }` adds the keys `APPROVE+yes`
 * and `APPROVE+no` beside the bare `APPROVE`.
 */
export type PayloadVariants = Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, Json>>>>>>;

/** One event the toolkit can send, under its key. */
export interface EventVariant {
  /** `CLAIM`, `FAIL+retry`, `APPROVE+yes`. */
  key: string;
  type: string;
  /** The variant's name (`retry`, `params`, `yes`), or null for the bare event. */
  variant: string | null;
  event: SampleEvent;
}

const BUILT_IN = new Set<string>(EVENT_KEYS);

/** Every variant of each given event type: the built-in ones for the vocabulary's types, the bare event and the named payloads for the others. */
export function variantsOf(types: Iterable<string>, payloads: PayloadVariants = {}): EventVariant[] {
  const out: EventVariant[] = [];
  for (const type of types) {
    if (BUILT_IN.has(type)) {
      for (const key of EVENT_KEYS) {
        if (key === type || key.startsWith(`${type}+`)) out.push({ key, type, variant: variantName(key), event: SAMPLE_EVENTS[key] });
      }
    } else {
      out.push({ key: type, type, variant: null, event: { type } });
    }
    for (const [name, payload] of Object.entries(payloads[type] ?? {})) {
      out.push({ key: `${type}+${name}`, type, variant: name, event: { ...payload, type } });
    }
  }
  return out;
}

/** The event a key names: a built-in key's sample, a named payload variant, else the bare type. */
export function eventOfKey(key: string, payloads: PayloadVariants = {}): SampleEvent {
  if (BUILT_IN.has(key)) return SAMPLE_EVENTS[key as EventKey];
  const plus = key.indexOf('+');
  if (plus > 0) {
    const type = key.slice(0, plus);
    const payload = payloads[type]?.[key.slice(plus + 1)];
    if (payload) return { ...payload, type };
  }
  return { type: key };
}

/**
 * The key an event falls under: `FAIL+retry` for a FAIL with a numeric `retryAt`, `SET+params`
 * for a SET that edits the parameters, `APPROVE+yes` for an own event whose payload is that
 * variant's, else its type.
 */
export function eventKeyOf(event: { type: string } & Record<string, unknown>, payloads: PayloadVariants = {}): string {
  const { type } = event;
  if ((type === 'FAIL' || type === 'LEASE_LOST' || type === 'TIMEOUT') && typeof event.retryAt === 'number') return `${type}+retry`;
  if (type === 'SET' && event.params !== undefined) return 'SET+params';
  const variants = payloads[type];
  if (variants) {
    const { type: _type, at: _at, ...payload } = event;
    for (const [name, variant] of Object.entries(variants)) if (sameJson(payload, variant)) return `${type}+${name}`;
  }
  return type;
}

function variantName(key: string): string | null {
  const plus = key.indexOf('+');
  return plus < 0 ? null : key.slice(plus + 1);
}

/** The engine's common events that a job's handler sends while it runs. */
export const HANDLER_EVENTS: readonly string[] = ['PROGRESS', 'ASK', 'CHECKPOINT', 'STEP', 'SUCCEED'];

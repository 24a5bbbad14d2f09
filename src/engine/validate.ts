/**
 * Input checks that run before any transition: malformed input is refused with an
 * {@link InvalidInputError} and nothing is written.
 */
import type { Json } from '../../machines/common.ts';
import { InvalidInputError } from '../errors.ts';

/** Throws unless `value` survives JSON unchanged: plain objects, arrays, finite numbers, strings, booleans, null. */
export function assertJson(value: unknown, field: string, depth = 0): asserts value is Json {
  if (depth > 64) throw new InvalidInputError(field, 'nested deeper than 64 levels');
  if (typeof value === 'string') return assertText(value, field);
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidInputError(field, `${value} is not a finite number`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJson(item, `${field}[${i}]`, depth + 1));
    return;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (value as object).constructor?.name;
      const hint = value instanceof Date ? ' (store the instant as an ISO string or a number of ms)' : '';
      throw new InvalidInputError(field, `must be JSON: ${kind ? `a ${kind}` : 'an object with a prototype'} is not a plain object${hint}`);
    }
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue; // JSON drops it, as JSON.stringify does
      assertJson(item, `${field}.${key}`, depth + 1);
    }
    return;
  }
  throw new InvalidInputError(field, `a ${typeof value} is not JSON`);
}

/** Throws unless `value` is a string SQLite can store as it is (no lone UTF-16 surrogates). */
export function assertText(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string') throw new InvalidInputError(field, 'must be a string');
  if (!value.isWellFormed()) throw new InvalidInputError(field, 'contains a lone UTF-16 surrogate, which cannot be stored');
}

export function assertInstant(value: unknown, field: string): asserts value is number | null {
  if (value === null) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(field, 'must be an instant in UTC milliseconds (a non-negative integer) or null');
  }
}

export function assertCount(value: unknown, field: string, { min = 0 } = {}): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidInputError(field, `must be an integer of at least ${min}`);
  }
}

function assertFinite(value: unknown, field: string, min: number, max = Infinity): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidInputError(field, `must be a number from ${min} to ${max}`);
  }
}

function optional<T>(event: Record<string, unknown>, key: string, check: (v: unknown, f: string) => void): void {
  if (event[key] !== undefined) check(event[key], key);
}

/** Checks the payload of the engine's common events; lifecycle commands carry nothing to check. */
export function validateEvent(event: unknown): asserts event is { type: string } & Record<string, unknown> {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new InvalidInputError('event', 'must be an object');
  const e = event as Record<string, unknown>;
  if (typeof e.type !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(e.type) || e.type === 'CREATE') {
    throw new InvalidInputError('event.type', 'must be an upper-case event name');
  }
  if (e.type === 'UPGRADE') throw new InvalidInputError('event.type', 'UPGRADE is written by upgrade(), which moves a job to another lifecycle version; it is not sent');
  const { type: _type, at: _at, ...payload } = e;
  assertJson(payload, 'event');
  switch (e.type) {
    case 'PROGRESS': {
      optional(e, 'percent', (v, f) => assertFinite(v, f, 0, 100));
      optional(e, 'current', (v, f) => assertFinite(v, f, 0));
      optional(e, 'total', (v, f) => assertFinite(v, f, 0));
      if (typeof e.current === 'number' && typeof e.total === 'number' && e.current > e.total) {
        throw new InvalidInputError('current', `${e.current} is more than total ${e.total}`);
      }
      optional(e, 'message', (v, f) => {
        if (v !== null && typeof v !== 'string') throw new InvalidInputError(f, 'must be a string or null');
      });
      break;
    }
    case 'ASK':
      if (e.question === undefined) throw new InvalidInputError('question', 'is required');
      break;
    case 'REPLY':
      if (e.reply === undefined) throw new InvalidInputError('reply', 'is required');
      break;
    case 'STEP':
      if (typeof e.name !== 'string' || e.name.length === 0) throw new InvalidInputError('name', 'must be a non-empty string');
      if (e.result === undefined) throw new InvalidInputError('result', 'is required (null for none)');
      break;
    case 'SUCCEED':
      if (e.result === undefined) throw new InvalidInputError('result', 'is required (null for none)');
      break;
    case 'CHECKPOINT':
      optional(e, 'step', (v, f) => v === null || assertCount(v, f));
      break;
    case 'FAIL': {
      const error = e.error as Record<string, unknown> | undefined;
      if (typeof error !== 'object' || error === null || typeof error.message !== 'string') {
        throw new InvalidInputError('error', 'must be an object with a message');
      }
      optional(e, 'retryAt', assertInstant);
      break;
    }
    case 'LEASE_LOST':
    case 'TIMEOUT':
      optional(e, 'retryAt', assertInstant);
      break;
    case 'SLEEP':
      assertInstant(e.until, 'until');
      if (e.until === null) throw new InvalidInputError('until', 'is required');
      assertCount(e.index, 'index');
      break;
    case 'WAIT':
      if (typeof e.signal !== 'string' || e.signal.length === 0) throw new InvalidInputError('signal', 'must be a non-empty string');
      if (e.until !== undefined) assertInstant(e.until, 'until');
      assertCount(e.index, 'index');
      break;
    case 'SIGNAL':
      if (typeof e.name !== 'string' || e.name.length === 0) throw new InvalidInputError('name', 'must be a non-empty string');
      break;
    case 'BLOCK':
      if (!Array.isArray(e.on) || e.on.length === 0 || !e.on.every((id) => Number.isSafeInteger(id) && (id as number) > 0)) throw new InvalidInputError('on', 'must be a non-empty array of job ids');
      break;
    case 'DEPENDENT':
    case 'UNBLOCK':
      if (!Number.isSafeInteger(e.id) || (e.id as number) <= 0) throw new InvalidInputError('id', 'must be a job id');
      break;
    case 'SET':
      optional(e, 'priority', (v, f) => {
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new InvalidInputError(f, 'must be an integer');
      });
      optional(e, 'runAfter', assertInstant);
      optional(e, 'destruction', assertInstant);
      optional(e, 'quote', assertInstant);
      optional(e, 'executionDuration', assertCount);
      break;
  }
}

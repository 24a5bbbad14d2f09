/**
 * The checks of a listing's and a count's filter, made once before any store sees them, so that
 * both stores refuse the same malformed input with the same typed error ({@link InvalidInputError})
 * instead of a driver's error or a silently empty page.
 */
import { InvalidInputError } from '../errors.ts';
import type { CountFilter, ListFilter } from './types.ts';
import { assertInstant, assertText } from './validate.ts';

function assertPositive(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidInputError(field, 'must be a positive integer');
  }
}

function assertOwnerTypeLifecycle(filter: CountFilter): void {
  if (filter.owner !== undefined && filter.owner !== null) assertText(filter.owner, 'owner');
  if (filter.type !== undefined) assertText(filter.type, 'type');
  if (filter.lifecycle !== undefined) assertText(filter.lifecycle, 'lifecycle');
}

/** Throws unless `filter` is a well-formed listing filter. */
export function checkListFilter(filter: unknown): asserts filter is ListFilter {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw new InvalidInputError('filter', 'must be an object');
  const f = filter as ListFilter;
  if (f.states !== undefined) {
    if (!Array.isArray(f.states)) throw new InvalidInputError('states', 'must be an array of state names');
    f.states.forEach((state, i) => assertText(state, `states[${i}]`));
  }
  if (f.after !== undefined) {
    if (f.after === null) throw new InvalidInputError('after', 'must be an instant in UTC milliseconds');
    assertInstant(f.after, 'after');
  }
  assertOwnerTypeLifecycle(f);
  if (f.limit !== undefined) assertPositive(f.limit, 'limit');
  if (f.last !== undefined) assertPositive(f.last, 'last');
  if (f.beforeId !== undefined) assertPositive(f.beforeId, 'beforeId');
  if (f.id !== undefined) assertPositive(f.id, 'id');
  if (f.order !== undefined && f.order !== 'created' && f.order !== 'newest') throw new InvalidInputError('order', "must be 'created' or 'newest'");
  if (f.beforeId !== undefined && f.order === 'created') throw new InvalidInputError('beforeId', "pages by id, newest first: it cannot be combined with order 'created'");
  if (f.last !== undefined && (f.beforeId !== undefined || f.order === 'newest')) {
    throw new InvalidInputError('last', "takes the newest by creation: use limit with order 'newest' or beforeId instead");
  }
}

/** Throws unless `filter` is a well-formed count filter. */
export function checkCountFilter(filter: unknown): asserts filter is CountFilter {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw new InvalidInputError('filter', 'must be an object');
  assertOwnerTypeLifecycle(filter as CountFilter);
}

/** Whether a listing pages by id, newest first. */
export function newestFirst(filter: ListFilter): boolean {
  return filter.order === 'newest' || filter.beforeId !== undefined;
}

/**
 * Whether a listing is asked as one query per state (a page newest first over several states,
 * src/db/columns.ts): those queries must then read one moment, in one read transaction, or a job
 * that changed state between two of them would be listed twice, or not at all.
 */
export function splitsByState(filter: ListFilter): boolean {
  return newestFirst(filter) && filter.limit !== undefined && filter.id === undefined && new Set(filter.states ?? []).size > 1;
}

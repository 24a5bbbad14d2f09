/**
 * Small pieces every view shares: instants on the wire, owners as numeric user ids, the errors a
 * view shows, and a strict reader for parsing wire models back (`from_dict` / `from_json`).
 */
import type { Json, JobError } from '../../machines/common.ts';
import type { AnyJob, Job } from '../engine/job-types.ts';
import { InvalidInputError } from '../errors.ts';

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/** Largest instant printed as a plain four-digit-year ISO 8601 string (9999-12-31T23:59:59.999Z). */
const MAX_INSTANT = 253402300799999;

/**
 * A stored instant (UTC milliseconds) as ISO 8601 with `T`, milliseconds and `Z`, as
 * every view prints instants. Years outside 0000..9999 have no plain
 * ISO 8601 / xs:dateTime spelling, so they are refused rather than printed as `+010000-...`.
 */
export function isoInstant(ms: number, field = 'instant'): string {
  if (!Number.isFinite(ms) || ms < -62167219200000 || ms > MAX_INSTANT) {
    throw new InvalidInputError(field, `${ms} is not an instant between years 0000 and 9999`);
  }
  return new Date(ms).toISOString();
}

export function isoInstantOrNull(ms: number | null, field?: string): string | null {
  return ms === null ? null : isoInstant(ms, field);
}

/**
 * EcoTaxa `owner_id` and Synapse `startedByUserId` are integer user ids; Phaseline owners are
 * strings. A canonical decimal integer (`"42"`, not `"042"`, `"+42"` or `"4.2"`) that is a safe
 * integer becomes that number; any other owner stays the string it is (so no owner is lost or
 * confused with another), and no owner is `null`.
 */
export function ownerAsUserId(owner: string | null): number | string | null {
  if (owner === null) return null;
  if (/^(0|[1-9][0-9]*)$/.test(owner)) {
    const n = Number(owner);
    if (Number.isSafeInteger(n)) return n;
  }
  return owner;
}

/** How an absolute server path starts: `/`, `\`, `file://`, `file:///` or a drive `C:\`, `C:/`. */
const ROOT = String.raw`(?:file:\/\/\/?|[A-Za-z]:[\\/]|[\\/])`;

/**
 * Server file paths, up to and including their last separator, in three shapes:
 * - a stack frame's file, whose directories may hold spaces: `(/home/J S/app/job.ts:3:9)`,
 *   `at /a b/x.ts:1:2`;
 * - a quoted path, which may hold spaces: `'/home/J S/data.json'`;
 * - any other path, up to a space: after a space, bracket, quote, `@`, `=`, `,` or `:`
 *   (`cwd:/srv/app/x`). A lone `/` must not be followed by another, so URLs (`https://host/a`,
 *   `//host/a`) and fractions (`1/2`) are left alone.
 * Paths with spaces are capped at 512 characters, so a long line cannot make the search quadratic.
 */
const SERVER_PATHS = [
  new RegExp(String.raw`(\(|\bat )${ROOT}[^\n()]{0,512}[\\/](?=[^\\/\n()]*:\d+(?::\d+)?\)?$)`, 'gm'),
  // Mid-line, the first separator whose (space-free) file name reaches `:line`: not the last on the line.
  new RegExp(String.raw`(\(|\bat )${ROOT}[^\n]{0,512}?[\\/](?=[^\\/\s()]*:\d)`, 'g'),
  new RegExp(String.raw`(['"\x60])${ROOT}[^'"\x60\n]{0,512}[\\/](?=[^\\/'"\x60\n]*\1)`, 'g'),
  new RegExp(String.raw`(^|[\s([{@'"\x60=,:])(?:file:\/\/\/?|[A-Za-z]:[\\/]|[\\/](?![\\/]))(?:(?:[^\s()'"\x60\\/]*[\\/])+|(?=[^\s()'"\x60\\/]+:\d))`, 'gm'),
];

/**
 * Text without the directories of server file paths: each path is cut to its file name, so a
 * stack frame `at run (/srv/app/job.ts:3:9)` reads `at run (job.ts:3:9)`. Errors are captured
 * from exceptions, whose messages and stacks name files on the server; clients see the names only.
 */
export function withoutPaths(text: string): string {
  return SERVER_PATHS.reduce((out, pattern) => out.replace(pattern, '$1'), text);
}

/** A recorded error as a view shows it: message and stack {@link withoutPaths}. */
function shown(error: JobError): JobError {
  return { ...error, message: withoutPaths(error.message), ...(error.stack === undefined ? {} : { stack: withoutPaths(error.stack) }) };
}

/**
 * A job as Phaseline itself models it: the view of a job whose lifecycle no seed API speaks (a
 * lifecycle of the app's own). Errors without server paths; no lease, which is bookkeeping.
 */
export function toPhaselineJob(job: AnyJob): Omit<AnyJob, 'lease'> {
  const { lease: _lease, ...rest } = job;
  return { ...rest, errors: job.errors.map(shown) };
}

/** The last error the job recorded, if any (as views show it: without server paths). */
export function lastError(job: Pick<Job, 'errors'>): JobError | undefined {
  const error = job.errors.at(-1);
  return error && shown(error);
}

/** The errors of the job's current (latest) attempt, oldest first (without server paths). */
export function lastAttemptErrors(job: Pick<Job, 'errors' | 'attempt'>): JobError[] {
  return job.errors.filter((e) => e.attempt === job.attempt).map(shown);
}

/** Copies an object without its `undefined` members, so absent optional fields are really absent. */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as T;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const INSTANT_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** True when `text` is an ISO 8601 instant with date, time and zone (`Z` or `±hh:mm`), all in range. */
export function isIsoInstant(text: string): boolean {
  const m = INSTANT_RE.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  const daysInMonth = new Date(Date.UTC(2000, mo, 0)).getUTCDate(); // Feb has 29 in a leap year
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > (mo === 2 && !leap ? 28 : daysInMonth)) return false;
  const zone = m[8]!;
  if (zone !== 'Z') {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 23 || zm > 59) return false;
  }
  return true;
}

/** Json values only: finite numbers, plain objects and arrays (what `JSON.parse` can return). */
export function isJson(value: unknown): value is Json {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJson);
  if (isPlainObject(value)) return Object.values(value).every(isJson);
  return false;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/**
 * Reads one wire object, field by field, and throws {@link InvalidInputError} naming
 * `Model.field` and what is wrong with it. Optional readers treat an absent key and `null`
 * alike (as the generated Python clients do) and return `undefined`.
 */
export class WireReader {
  readonly #model: string;
  readonly #data: Record<string, unknown>;
  readonly #seen = new Set<string>();

  constructor(model: string, data: unknown) {
    this.#model = model;
    if (!isPlainObject(data)) throw new InvalidInputError(model, `expected an object, got ${describe(data)}`);
    this.#data = data;
  }

  fail(key: string, problem: string): never {
    throw new InvalidInputError(`${this.#model}.${key}`, problem);
  }

  #get(key: string): unknown {
    this.#seen.add(key);
    return Object.prototype.hasOwnProperty.call(this.#data, key) ? this.#data[key] : undefined;
  }

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.#data, key);
  }

  /** A required key: present, and not `undefined` (null is passed to `read`). */
  required<T>(key: string, read: (v: unknown, key: string) => T): T {
    if (!this.has(key)) this.fail(key, 'is required');
    return read(this.#get(key), key);
  }

  /** An optional key: absent or null → undefined. */
  optional<T>(key: string, read: (v: unknown, key: string) => T): T | undefined {
    const v = this.#get(key);
    return v === undefined || v === null ? undefined : read(v, key);
  }

  /** An optional key whose `null` is kept (Safir's `None` fields); absent → `fallback`. */
  nullable<T>(key: string, read: (v: unknown, key: string) => T, fallback: T | null = null): T | null {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    return v === null ? null : read(v, key);
  }

  string = (v: unknown, key: string): string => (typeof v === 'string' ? v : this.fail(key, `expected a string, got ${describe(v)}`));

  boolean = (v: unknown, key: string): boolean => (typeof v === 'boolean' ? v : this.fail(key, `expected a boolean, got ${describe(v)}`));

  number = (v: unknown, key: string): number =>
    typeof v === 'number' && Number.isFinite(v) ? v : this.fail(key, `expected a finite number, got ${describe(v)}`);

  integer = (v: unknown, key: string): number =>
    typeof v === 'number' && Number.isSafeInteger(v) ? v : this.fail(key, `expected an integer, got ${describe(v)}`);

  instant = (v: unknown, key: string): string => {
    const s = this.string(v, key);
    return isIsoInstant(s) ? s : this.fail(key, `expected an ISO 8601 instant such as 2024-05-01T12:00:00Z, got ${describe(s)}`);
  };

  json = (v: unknown, key: string): Json => (isJson(v) ? v : this.fail(key, `expected a JSON value, got ${describe(v)}`));

  jsonObject = (v: unknown, key: string): { [key: string]: Json } =>
    isPlainObject(v) && isJson(v) ? v : this.fail(key, `expected a JSON object, got ${describe(v)}`);

  oneOf<T extends string>(values: readonly T[]): (v: unknown, key: string) => T {
    return (v, key) => {
      const s = this.string(v, key);
      return (values as readonly string[]).includes(s) ? (s as T) : this.fail(key, `unknown value ${JSON.stringify(s)}; expected one of ${values.join(', ')}`);
    };
  }

  arrayOf<T>(read: (v: unknown, key: string) => T): (v: unknown, key: string) => T[] {
    return (v, key) => (Array.isArray(v) ? v.map((item, i) => read(item, `${key}[${i}]`)) : this.fail(key, `expected an array, got ${describe(v)}`));
  }

  /** A nested model, read by its own reader (whose errors name `Model.key.field`). */
  nested<T>(read: (r: WireReader) => T): (v: unknown, key: string) => T {
    return (v, key) => {
      const r = new WireReader(`${this.#model}.${key}`, v);
      const out = read(r);
      r.done();
      return out;
    };
  }

  /** Keys this reader has not read. */
  rest(): string[] {
    return Object.keys(this.#data).filter((k) => !this.#seen.has(k));
  }

  /** Refuses keys the model does not define: a misspelt or wrongly cased key is an error, not silently dropped. */
  done(): void {
    const extra = this.rest();
    if (extra.length > 0) throw new InvalidInputError(`${this.#model}.${extra[0]}`, 'is not a field of this model');
  }

  /** The raw value of a key the caller reads itself (marks it as read). */
  raw(key: string): unknown {
    return this.#get(key);
  }
}

/** `JSON.parse` with an {@link InvalidInputError} instead of a SyntaxError. */
export function parseJsonText(model: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidInputError(model, `not valid JSON: ${(error as Error).message}`);
  }
}

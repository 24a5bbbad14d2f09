/**
 * Job types: a name, a lifecycle, a parameter validator, defaults, and the handler.
 */
import type { Json } from '../machines/common.ts';
import { InvalidInputError } from './errors.ts';
import type { RateLimit, TypeLimits } from './engine/limit-types.ts';
import type { HandlerContext } from './runner/context.ts';

export type { RateLimit } from './engine/limit-types.ts';

/**
 * The part of the Standard Schema interface (standardschema.dev) Phaseline calls, so that zod,
 * valibot, arktype and friends work as validators without Phaseline depending on any of them.
 */
export interface StandardSchemaLike<Output> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) =>
      | { readonly value: Output; readonly issues?: undefined }
      | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }> }
      | Promise<unknown>;
  };
}

/** A plain function that returns the typed parameters or throws, or a Standard Schema. */
export type ParamsValidator<Params> = ((params: unknown) => Params) | StandardSchemaLike<Params>;

export interface Backoff {
  /** Delay before the second attempt. Default 1000 ms; doubles with each attempt. */
  baseMs?: number;
  /** The longest delay. Default 5 minutes. */
  maxMs?: number;
  /** Spread each delay uniformly over [delay/2, delay] so failed jobs do not return in step. Default true. */
  jitter?: boolean;
}

/**
 * A job type. Parameters and result may be ordinary interfaces; their values must survive JSON
 * (no `Date`, `Map`, functions or `undefined` inside): the engine checks them when they are stored
 * and refuses others with INVALID_INPUT.
 */
export interface JobTypeDefinition<Params = Json, Result = Json> {
  name: string;
  /** The lifecycle machine: `ecotaxa`, `uws`, `rime`, `synapse`, `qiskit`, or one registered by the app. */
  lifecycle: string;
  /** Checks parameters at enqueue; invalid ones are refused and no row is written. */
  validate?: ParamsValidator<Params>;
  /** Default 0; higher runs first. */
  priority?: number;
  /** Attempts in all, the first included. Default 3, or 1 on a lifecycle that never retries. */
  attempts?: number;
  backoff?: Backoff;
  /** Seconds an attempt may run; 0 (default) is unlimited. */
  executionDuration?: number;
  /** Most jobs of this type running at once, in all processes together (a positive integer). Default (or null): no limit. */
  concurrency?: number | null;
  /** Most claims of this type started per window of `perMs` ms, in all processes together. Default: no limit. */
  rateLimit?: RateLimit | null;
  /** Most running jobs of this type with one `concurrencyKey` (an enqueue option). Default 1. */
  keyConcurrency?: number;
  handler: (context: HandlerContext<Params>) => Promise<Result>;
}

export type JobType<Params = Json, Result = Json> = Readonly<
  Required<Omit<JobTypeDefinition<Params, Result>, 'validate' | 'backoff' | 'concurrency' | 'rateLimit'>>
> & { validate?: ParamsValidator<Params>; backoff: Required<Backoff>; concurrency: number | null; rateLimit: Readonly<RateLimit> | null };

/** Any job type, for heterogeneous lists (as XState's `AnyStateMachine`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJobType = JobType<any, any>;

/** Declare a job type; the types of its parameters and result follow the handler. */
export function defineJobType<Params = Json, Result = Json>(
  definition: JobTypeDefinition<Params, Result>,
): JobType<Params, Result> {
  if (!definition.name) throw new InvalidInputError('name', 'a job type needs a name');
  const attempts = definition.attempts ?? 3;
  if (!Number.isSafeInteger(attempts) || attempts < 1) throw new InvalidInputError('attempts', 'must be an integer of at least 1');
  const made: JobType<Params, Result> = {
    name: definition.name,
    lifecycle: definition.lifecycle,
    validate: definition.validate,
    priority: definition.priority ?? 0,
    attempts,
    backoff: { baseMs: 1000, maxMs: 5 * 60_000, jitter: true, ...definition.backoff },
    executionDuration: definition.executionDuration ?? 0,
    ...limitsOfDefinition(definition),
    handler: definition.handler,
  };
  if (definition.attempts === undefined || defaultedAttempts.has(definition)) defaultedAttempts.add(made);
  return made;
}

/** A definition's limits, checked: INVALID_INPUT for a count that is not a positive integer or a rate limit without both fields. */
function limitsOfDefinition(definition: Pick<JobTypeDefinition, 'concurrency' | 'rateLimit' | 'keyConcurrency'>): TypeLimits {
  const count = (field: string, value: unknown): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new InvalidInputError(field, 'must be a positive integer');
    return value;
  };
  const concurrency = definition.concurrency == null ? null : count('concurrency', definition.concurrency);
  const keyConcurrency = definition.keyConcurrency === undefined ? 1 : count('keyConcurrency', definition.keyConcurrency);
  let rateLimit: RateLimit | null = null;
  const given = definition.rateLimit as unknown;
  if (given !== undefined && given !== null) {
    if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new InvalidInputError('rateLimit', 'must be { max, perMs }');
    const extra = Object.keys(given).filter((key) => key !== 'max' && key !== 'perMs');
    if (extra.length > 0) throw new InvalidInputError('rateLimit', `has unknown fields: ${extra.join(', ')} (it takes max and perMs)`);
    const { max, perMs } = given as Record<string, unknown>;
    rateLimit = Object.freeze({ max: count('rateLimit.max', max), perMs: count('rateLimit.perMs', perMs) });
  }
  return { concurrency, rateLimit, keyConcurrency };
}

/** A job type's limits, as the engine's claim takes them. */
export function limitsOf(type: Pick<JobType<unknown, unknown>, 'concurrency' | 'rateLimit' | 'keyConcurrency'>): TypeLimits {
  return { concurrency: type.concurrency, rateLimit: type.rateLimit, keyConcurrency: type.keyConcurrency };
}

/** Job types whose `attempts` nobody chose: registration may lower them to what the lifecycle can do. */
const defaultedAttempts = new WeakSet<object>();

/** Whether the type's `attempts` is the default rather than the definition's own. */
export function attemptsDefaulted(type: object): boolean {
  return defaultedAttempts.has(type);
}

/** Run a type's validator; throws {@link InvalidInputError} with the validator's own message. */
export function validateParams<Params>(type: Pick<JobType<Params, unknown>, 'name' | 'validate'>, params: unknown): Params {
  const validator = type.validate;
  if (!validator) return params as Params;
  if (typeof validator === 'function') {
    try {
      return validator(params);
    } catch (error) {
      throw new InvalidInputError(`params of ${type.name}`, error instanceof Error ? error.message : String(error));
    }
  }
  const outcome = validator['~standard'].validate(params);
  if (outcome instanceof Promise) throw new InvalidInputError(`params of ${type.name}`, 'asynchronous validators are not supported');
  const result = outcome as { value?: Params; issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }> };
  if (result.issues) {
    const text = result.issues
      .map((i) => (i.path?.length ? `${i.path.map((p) => (typeof p === 'object' && p !== null ? String((p as { key: PropertyKey }).key) : String(p))).join('.')}: ` : '') + i.message)
      .join('; ');
    throw new InvalidInputError(`params of ${type.name}`, text);
  }
  return result.value as Params;
}

/** When attempt `attempt` (1-based) failed, the next one may start after this many ms. */
export function backoffDelay(backoff: Required<Backoff>, attempt: number, random: () => number = Math.random): number {
  const delay = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(backoff.jitter ? delay / 2 + (random() * delay) / 2 : delay);
}

/**
 * Hand-made jobs for the view tests: a full {@link Job} with defaults, the tags of every state of the
 * five built-in lifecycles (as machines/*.ts declare them), and a fast-check arbitrary of jobs.
 */
import fc from 'fast-check';
import type { Json, Outcome } from '../machines/common.ts';
import type { Job } from '../src/engine/job.ts';

/** 2024-05-01T12:00:00.000Z */
export const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

type Tags = Pick<Job, 'state' | 'queued' | 'running' | 'waiting' | 'terminal' | 'outcome'>;

function tags(state: string, t: Partial<Omit<Tags, 'state'>> = {}): Tags {
  return { state, queued: false, running: false, waiting: false, terminal: false, outcome: null, ...t };
}
const done = (state: string, outcome: Outcome): Tags => tags(state, { terminal: true, outcome });

/** Every stored state of each built-in lifecycle with its tags (ARCHIVED and E once per outcome). */
export const LIFECYCLE_STATES: Record<'ecotaxa' | 'uws' | 'rime' | 'synapse' | 'qiskit', Tags[]> = {
  ecotaxa: [
    tags('P', { queued: true }),
    tags('R', { running: true }),
    tags('A', { waiting: true }),
    done('E', 'failed'),
    done('E', 'cancelled'),
    done('F', 'succeeded'),
  ],
  uws: [
    tags('PENDING'),
    tags('QUEUED', { queued: true }),
    tags('EXECUTING', { running: true }),
    tags('HELD', { waiting: true }),
    tags('SUSPENDED', { waiting: true, queued: true }),
    done('COMPLETED', 'succeeded'),
    done('ERROR', 'failed'),
    done('ABORTED', 'cancelled'),
    done('ARCHIVED', 'succeeded'),
    done('ARCHIVED', 'failed'),
    done('ARCHIVED', 'cancelled'),
  ],
  rime: [
    tags('JOB_STATUS_REQUESTED'),
    tags('JOB_STATUS_PENDING', { queued: true }),
    tags('JOB_STATUS_RUNNING', { running: true }),
    done('JOB_STATUS_SUCCEEDED', 'succeeded'),
    done('JOB_STATUS_FAILED', 'failed'),
    done('JOB_STATUS_CANCELLED', 'cancelled'),
  ],
  synapse: [
    tags('PROCESSING', { queued: true }),
    tags('PROCESSING', { running: true }),
    done('COMPLETE', 'succeeded'),
    done('FAILED', 'failed'),
    done('FAILED', 'cancelled'),
  ],
  qiskit: [
    tags('INITIALIZING'),
    tags('QUEUED', { queued: true }),
    tags('VALIDATING', { running: true }),
    tags('RUNNING', { running: true }),
    done('DONE', 'succeeded'),
    done('ERROR', 'failed'),
    done('CANCELLED', 'cancelled'),
  ],
};

/** A full job with defaults: a queued UWS job created at T0 with params `{ n: 1 }`. */
export function makeJob(overrides: Partial<Job> = {}): Job {
  const job: Job = {
    id: 7,
    lifecycle: 'uws',
    lifecycleVersion: 1,
    type: 'resize',
    state: 'QUEUED',
    stateValue: 'QUEUED',
    version: 2,
    stateVersion: 2,
    queued: true,
    running: false,
    waiting: false,
    terminal: false,
    outcome: null,
    owner: null,
    runId: null,
    idempotencyKey: null,
    concurrencyKey: null,
    traceparent: null,
    params: { n: 1 },
    result: null,
    errors: [],
    question: null,
    reply: null,
    inside: null,
    step: null,
    progress: { percent: 0, message: null, current: null, total: null },
    cancelRequested: false,
    createdAt: T0,
    updatedAt: T0,
    startedAt: null,
    endedAt: null,
    destructionAt: null,
    executionDuration: 0,
    quoteAt: null,
    priority: 0,
    runAfter: 0,
    attempt: 0,
    steps: {},
    replies: [],
    parked: null,
    waits: [],
    signals: [],
    parentId: null,
    children: [],
    blockedBy: [],
    dependencies: [],
    lease: null,
    ...overrides,
  };
  return job;
}

/** A job in the given state of a lifecycle, with the tags that state has. */
export function jobIn(lifecycle: keyof typeof LIFECYCLE_STATES, state: string, outcome?: Outcome, overrides: Partial<Job> = {}): Job {
  const spec = LIFECYCLE_STATES[lifecycle].find((s) => s.state === state && (outcome === undefined || s.outcome === outcome));
  if (!spec) throw new Error(`no state ${state} (${outcome ?? 'any outcome'}) in ${lifecycle}`);
  return makeJob({ lifecycle, stateValue: state, ...spec, ...overrides });
}

/** Property-test seed: PHASELINE_SEED when set, else a fixed one. Printed so a failure can be replayed. */
export function seed(file: string): number {
  const fromEnv = process.env.PHASELINE_SEED;
  const value = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : 20240501;
  if (!Number.isInteger(value)) throw new Error(`PHASELINE_SEED must be an integer, got ${fromEnv}`);
  console.log(`[${file}] fast-check seed ${value} (set PHASELINE_SEED to replay another)`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

/** Instants whose ISO spelling has a four-digit year (1970..9999). */
const instant = fc.integer({ min: 0, max: 253402300799999 });

/** Any JSON value (fast-check's, which includes `__proto__` keys, -0 and odd strings). */
export const jsonArb: fc.Arbitrary<Json> = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>;

/** Strings of any code units, lone surrogates and control characters included. */
const anyString = fc.string({ unit: 'binary', maxLength: 24 });

const errorArb = fc.record(
  {
    message: anyString,
    name: fc.option(fc.constantFrom('Error', 'TypeError', 'JobCanceledException', 'ValidationError'), { nil: undefined }),
    stack: fc.option(anyString, { nil: undefined }),
    kind: fc.option(fc.constantFrom('transient' as const, 'fatal' as const), { nil: undefined }),
    attempt: fc.integer({ min: 0, max: 4 }),
    at: instant,
  },
  { requiredKeys: ['message', 'attempt', 'at'] },
);

const resultArb: fc.Arbitrary<Json | null> = fc.oneof(
  fc.constant(null),
  jsonArb,
  fc.record({
    results: fc.array(
      fc.record(
        {
          id: fc.string({ minLength: 1, maxLength: 8 }),
          href: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), anyString, fc.constantFrom('%zz', 'http://[bad', '#a#b', 'a:b', 'rel/path file.fits', 'http://[::1]:8080/x?q=1#f')),
          size: fc.nat(),
          mimeType: fc.constantFrom('image/fits', 'application/x-votable+xml', 'text/plain'),
        },
        { requiredKeys: ['id', 'href'] },
      ),
      { maxLength: 3 },
    ),
  }) as fc.Arbitrary<Json>,
);

/** Any job a store could hold: a lifecycle state with its tags, and anything in the other fields. */
export const jobArb: fc.Arbitrary<Job> = fc
  .record({
    lifecycle: fc.constantFrom('ecotaxa', 'uws', 'rime', 'synapse', 'qiskit', 'custom') as fc.Arbitrary<keyof typeof LIFECYCLE_STATES | 'custom'>,
    pick: fc.nat(),
    id: fc.integer({ min: 1, max: 2 ** 31 }),
    type: fc.oneof(fc.constantFrom('resize', 'JOB_TYPE_FILE_SCAN'), fc.string({ maxLength: 10 })),
    version: fc.integer({ min: 1, max: 1000 }),
    owner: fc.option(fc.oneof(fc.nat().map(String), anyString), { nil: null }),
    runId: fc.option(anyString, { nil: null }),
    params: jsonArb,
    result: resultArb,
    errors: fc.array(errorArb, { maxLength: 3 }),
    question: fc.option(jsonArb, { nil: null }),
    reply: fc.option(jsonArb, { nil: null }),
    inside: fc.option(jsonArb, { nil: null }),
    step: fc.option(fc.nat(20), { nil: null }),
    percent: fc.double({ min: 0, max: 100, noNaN: true }),
    message: fc.option(anyString, { nil: null }),
    current: fc.option(fc.nat(1000), { nil: null }),
    total: fc.option(fc.nat(1000), { nil: null }),
    cancelRequested: fc.boolean(),
    times: fc.array(instant, { minLength: 4, maxLength: 4 }).map((t) => t.sort((a, b) => a - b)),
    started: fc.boolean(),
    destructionAt: fc.option(instant, { nil: null }),
    quoteAt: fc.option(instant, { nil: null }),
    executionDuration: fc.oneof(fc.constant(0), fc.nat(86400 * 30)),
    attempt: fc.nat(4),
    workerId: fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: null }),
  })
  .map((g) => {
    const lifecycle = g.lifecycle === 'custom' ? (['ecotaxa', 'uws', 'rime', 'synapse', 'qiskit'] as const)[g.pick % 5]! : g.lifecycle;
    const states = LIFECYCLE_STATES[lifecycle];
    const spec = states[g.pick % states.length]!;
    const [created, started, updated, ended] = g.times as [number, number, number, number];
    const everStarted = g.started || spec.running;
    return makeJob({
      ...spec,
      // A user-defined lifecycle with the same tags but its own state names.
      lifecycle: g.lifecycle,
      state: g.lifecycle === 'custom' ? `custom_${spec.state.toLowerCase()}` : spec.state,
      stateValue: spec.state,
      id: g.id,
      type: g.type,
      version: g.version,
      stateVersion: Math.max(1, g.version - (g.pick % 3)),
      owner: g.owner,
      runId: g.runId,
      params: g.params,
      result: spec.outcome === 'succeeded' || spec.running ? g.result : null,
      errors: g.errors,
      question: g.question,
      reply: g.reply,
      inside: g.inside,
      step: g.step,
      progress: { percent: g.percent, message: g.message, current: g.current, total: g.total },
      cancelRequested: g.cancelRequested,
      createdAt: created,
      startedAt: everStarted ? started : null,
      updatedAt: spec.terminal ? ended : updated,
      endedAt: spec.terminal ? ended : null,
      destructionAt: g.destructionAt,
      quoteAt: g.quoteAt,
      executionDuration: g.executionDuration,
      attempt: g.attempt,
      lease: spec.running ? { id: 'lease-1', expiresAt: ended, workerId: g.workerId } : null,
    });
  });

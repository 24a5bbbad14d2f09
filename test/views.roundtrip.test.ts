/**
 * Property tests: every view with a parser round-trips (job → model → JSON → parse → same model,
 * same JSON text), and a model with one field given a value of the wrong type is refused with an
 * InvalidInputError naming that field. Seed: fixed, printed, PHASELINE_SEED overrides it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPhaselineError } from '../src/errors.ts';
import {
  fromEcotaxaJobModel,
  fromEcotaxaJson,
  fromQiskitDict,
  fromRimeJobMetadata,
  fromRimeJson,
  fromSafirJob,
  fromSafirJson,
  toEcotaxaJobModel,
  toQiskitDict,
  toRimeJobMetadata,
  toSafirJob,
} from '../src/views/index.ts';
import { jobArb, jsonArb, seed } from './views.helpers.ts';

const SEED = seed('views.roundtrip');
const params = { seed: SEED, numRuns: 300 };
const BASE = { baseUrl: 'https://example.org/jobs' };

/** to → JSON text → parse → same model, and printing it again gives the same text. */
function roundTrips<M>(model: M, parse: (wire: unknown) => M, parseText: ((text: string) => M) | null): void {
  const text = JSON.stringify(model);
  const wire = JSON.parse(text) as unknown;
  const parsed = parse(wire);
  expect(parsed).toEqual(wire);
  expect(JSON.stringify(parsed)).toBe(text);
  if (parseText) expect(JSON.stringify(parseText(text))).toBe(text);
}

/** Setting `key` to `bad` makes the parser throw INVALID_INPUT naming `${model}.${key}` (or a path below it). */
function refuses(parse: (wire: unknown) => unknown, model: string, wire: Record<string, unknown>, key: string, bad: unknown): void {
  let caught: unknown;
  try {
    parse({ ...wire, [key]: bad });
  } catch (error) {
    caught = error;
  }
  expect(isPhaselineError(caught, 'INVALID_INPUT'), `${key} = ${JSON.stringify(bad)} was accepted`).toBe(true);
  expect((caught as { field: string }).field.startsWith(`${model}.${key}`)).toBe(true);
}

const nowArb = fc.integer({ min: 0, max: 253402300799999 });

describe('EcoTaxa JobModel', () => {
  it('round-trips', () => {
    fc.assert(fc.property(jobArb, (job) => roundTrips(toEcotaxaJobModel(job), fromEcotaxaJobModel, fromEcotaxaJson)), params);
  });

  const bad: Record<string, unknown[]> = {
    id: ['7', 1.5, null, true],
    owner_id: [true, 1.5, {}],
    type: [3, null, []],
    state: ['X', 'p', 1],
    step: ['2', 2.5],
    progress_pct: [101, -1, '50', 33.3],
    progress_msg: [5, {}],
    errors: ['oops', [1]],
    params: [Number.NaN, [undefined]],
    creation_date: ['2024-13-01T00:00:00Z', '2024-05-01', 0, null],
    updated_on: ['yesterday', '2024-05-01T12:00:00+25:00'],
  };
  it('refuses a wrong-typed field, naming it', () => {
    fc.assert(
      fc.property(jobArb, fc.constantFrom(...Object.keys(bad)), fc.nat(), (job, key, i) => {
        const values = bad[key]!;
        refuses(fromEcotaxaJobModel, 'EcoTaxa JobModel', toEcotaxaJobModel(job) as unknown as Record<string, unknown>, key, values[i % values.length]);
      }),
      params,
    );
  });
});

describe('RIME JobMetadata', () => {
  it('round-trips, BASIC and FULL', () => {
    fc.assert(
      fc.property(jobArb, nowArb, fc.constantFrom('JOB_VIEW_BASIC' as const, 'JOB_VIEW_FULL' as const), (job, now, view) =>
        roundTrips(toRimeJobMetadata(job, { now, view }), fromRimeJobMetadata, fromRimeJson),
      ),
      params,
    );
  });

  const bad: Record<string, unknown[]> = {
    jobId: [12, true],
    jobType: ['STRESS', 'job_type_file_scan'],
    status: ['JOB_STATUS_DONE', 'RUNNING', 3],
    startTime: ['2024-05-01T12:00Z', 'now'],
    creationTime: [1714564800000],
    runningTimeSecs: [-0.5, '1', Number.POSITIVE_INFINITY],
    jobData: ['x', [1]],
    jobProgressStr: [40],
    cancellationRequested: ['false', 0],
    agentId: ['w', { uuid: 1 }, { id: 'w' }],
    errorMsg: [{}],
  };
  it('refuses a wrong-typed field, naming it', () => {
    fc.assert(
      fc.property(jobArb, nowArb, fc.constantFrom(...Object.keys(bad)), fc.nat(), (job, now, key, i) => {
        const values = bad[key]!;
        const wire = toRimeJobMetadata(job, { now, view: 'JOB_VIEW_FULL' }) as Record<string, unknown>;
        refuses(fromRimeJobMetadata, 'RIME JobMetadata', wire, key, values[i % values.length]);
      }),
      params,
    );
  });
});

describe('Safir (UWS) Job', () => {
  it('round-trips', () => {
    fc.assert(fc.property(jobArb, (job) => roundTrips(toSafirJob(job, BASE), fromSafirJob, fromSafirJson)), params);
  });

  const bad: Record<string, unknown[]> = {
    json_parameters: [null, [], 'x'],
    run_id: [5],
    destruction_time: ['2024-05-31', 5],
    execution_duration: [-1, 1.5, '60'],
    id: [null, 1.5, {}],
    service: [null, 1],
    owner: [1, []],
    phase: ['UNKNOWN_PHASE', 'completed', null],
    message_id: [1],
    creation_time: [null, '2024-05-01T12:00:00.000'],
    start_time: ['soon'],
    end_time: [0],
    quote: ['2024-05-01T12:00:00.000+0000'],
    errors: [null, [{ type: 'fatal' }], [{ type: 'warning', code: 'x', message: 'y' }]],
    results: [null, [{ id: 'r' }], [{ id: 'r', url: 'u', size: -1 }]],
  };
  it('refuses a wrong-typed field, naming it', () => {
    fc.assert(
      fc.property(jobArb, fc.constantFrom(...Object.keys(bad)), fc.nat(), (job, key, i) => {
        const values = bad[key]!;
        refuses(fromSafirJob, 'Safir Job', toSafirJob(job, BASE) as unknown as Record<string, unknown>, key, values[i % values.length]);
      }),
      params,
    );
  });
});

describe('Qiskit JobStatus', () => {
  const extrasArb = fc
    .dictionary(fc.string({ maxLength: 8 }), jsonArb, { maxKeys: 4 })
    .map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => !['job_id', 'status', 'status_msg'].includes(k))));

  it('round-trips, extras included', () => {
    fc.assert(fc.property(jobArb, extrasArb, (job, extras) => roundTrips(toQiskitDict(job, { extras }), fromQiskitDict, null)), params);
  });

  const bad: Record<string, unknown[]> = {
    job_id: [7, null],
    status: ['done', 'job has successfully run', 'UNKNOWN', 1],
    status_msg: [null, 0],
  };
  it('refuses a wrong-typed field, naming it', () => {
    fc.assert(
      fc.property(jobArb, fc.constantFrom(...Object.keys(bad)), fc.nat(), (job, key, i) => {
        const values = bad[key]!;
        refuses(fromQiskitDict, 'Qiskit JobStatus', toQiskitDict(job), key, values[i % values.length]);
      }),
      params,
    );
  });
});

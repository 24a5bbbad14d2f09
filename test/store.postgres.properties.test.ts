/**
 * Property test: PostgreSQL and SQLite agree. Each run creates one job of a built-in lifecycle on
 * both stores and sends both the same random events (test/support/commands.ts: well-formed,
 * malformed, other lifecycles', with options that must be refused) at the same instants; every
 * answer (the state reached, or the error's code) must be the same, and so must the final row and
 * history. Replay of the PostgreSQL job must find nothing to report. Sequences alternate which
 * store runs the compiled lifecycles and which XState alone, so both paths give the same answers,
 * rows and histories, and the job replays through both.
 *
 * One known difference is left out: a string with U+0000 bound for a text column (a progress
 * message), which SQLite stores and PostgreSQL refuses (test/store.postgres.test.ts).
 *
 * Environment: PHASELINE_PG_PROPERTY_RUNS (default 50 per lifecycle), PHASELINE_SEED (default 20261201).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { PgStore } from '../src/db/pg-store.ts';
import type { JobRow } from '../src/db/schema.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import type { Store } from '../src/db/store.ts';
import { Engine, type SendOptions } from '../src/engine/engine.ts';
import { isPhaselineError } from '../src/errors.ts';
import { replayJobAsync } from '../src/replay/replay.ts';
import { stepsArb, type SendOption, type Step } from './support/commands.ts';
import { emptyDatabase, startPostgresWithAdmin, type AdminPostgres } from './support/postgres.ts';
import { envInt } from './support/env.ts';

const RUNS = envInt('PHASELINE_PG_PROPERTY_RUNS', 50);
const SEED = envInt('PHASELINE_SEED', 20261201);

const OWN_COMMANDS: Record<string, readonly string[]> = {
  ecotaxa: ['KILL', 'RESTART'],
  uws: ['RUN', 'ABORT', 'HOLD', 'SUSPEND', 'RESUME', 'ARCHIVE'],
  rime: ['ADMIT'],
  synapse: [],
  qiskit: ['QUEUE', 'VALIDATED'],
};

let server: AdminPostgres;
let pgStore: PgStore;

beforeAll(async () => {
  server = await startPostgresWithAdmin();
  await emptyDatabase(server.admin);
  pgStore = await PgStore.open(server.url, { max: 2 });
}, 60_000);

afterAll(async () => {
  await pgStore?.close();
  await server?.stop();
});

/**
 * The same clock for both engines: the test sets the instant before each operation. Each store has
 * an engine with the compiled lifecycles (src/engine/compiled.ts) and one on XState alone;
 * sequences alternate which store takes which, so the two paths are compared too.
 */
interface Side {
  engine: Engine<Store>;
  paths: { compiled: Engine<Store>; xstate: Engine<Store> };
  now: number;
}

function side(store: Store): Side {
  const s = { now: 0 } as Side;
  const engine = (compiledLifecycles: boolean) => new Engine(store, { clock: () => s.now, compiledLifecycles });
  s.paths = { compiled: engine(true), xstate: engine(false) };
  s.engine = s.paths.compiled;
  return s;
}

let sequence = 0;

const MISSING_JOB = 2 ** 31;

function optionsOf(option: SendOption, row: JobRow, now: number): { jobId?: number; options: SendOptions } {
  switch (option.kind) {
    case 'none': return { options: {} };
    case 'expect-current': return { options: { expectVersion: row.version } };
    case 'expect-stale': return { options: { expectVersion: row.version + option.delta } };
    case 'owner-right': return { options: { owner: 'alice' } };
    case 'owner-wrong': return { options: { owner: 'mallory' } };
    case 'fence-held': return { options: { fence: { leaseId: row.leaseId ?? 'none' } } };
    case 'fence-wrong': return { options: { fence: { leaseId: 'not-mine' } } };
    case 'lease': return { options: { lease: { leaseId: option.leaseId, leaseExpiresAt: now + option.ttl, workerId: 'w' } } };
    case 'missing-job': return { jobId: MISSING_JOB, options: {} };
  }
}

/** What one call gave: the state reached, the refusal's code, or any other failure's message. */
async function answer(call: () => Promise<JobRow> | JobRow): Promise<string> {
  try {
    return `state ${(await call()).state}`;
  } catch (error) {
    return isPhaselineError(error) ? `refused ${error.code}` : `failed ${(error as Error).message}`;
  }
}

/** A top-level string with U+0000 (a message would go to a text column). */
const hasNulText = (event: unknown) =>
  typeof event === 'object' && event !== null && Object.values(event).some((v) => typeof v === 'string' && v.includes('\u0000'));

const sqlite = side(new SqliteStore(openDatabase(':memory:')));

describe.each(Object.keys(OWN_COMMANDS))('%s: PostgreSQL gives what SQLite gives', (lifecycle) => {
  it('for random event sequences', async () => {
    const pgSide = side(pgStore);
    console.log(`[store.postgres.properties] ${lifecycle}: seed=${SEED} numRuns=${RUNS} (PHASELINE_SEED, PHASELINE_PG_PROPERTY_RUNS)`);
    const scenario = fc.record({ params: fc.jsonValue({ maxDepth: 2 }), start: fc.boolean(), steps: stepsArb(OWN_COMMANDS[lifecycle]!, 15) });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ params, start, steps }: { params: unknown; start: boolean; steps: Step[] }) => {
        const sides = [sqlite, pgSide];
        // Half the sequences: SQLite compiled and PostgreSQL on XState; the other half the other way round.
        const flip = sequence++ % 2 === 1;
        sqlite.engine = flip ? sqlite.paths.xstate : sqlite.paths.compiled;
        pgSide.engine = flip ? pgSide.paths.compiled : pgSide.paths.xstate;
        let now = 1_700_000_000_000;
        for (const s of sides) s.now = now;
        const created = await Promise.all(
          sides.map((s) => answer(() => s.engine.create({ lifecycle, type: 'job', owner: 'alice', start, input: { params: params as never } }))),
        );
        expect(created[1]).toBe(created[0]);
        if (!created[0]!.startsWith('state')) return;
        const [id] = (await sqlite.engine.list({ last: 1 })).map((row) => row.id);
        const [pgId] = (await pgSide.engine.list({ last: 1 })).map((row) => row.id);
        for (const step of steps) {
          now = Math.max(0, now + step.dt);
          for (const candidate of step.candidates) {
            if (hasNulText(candidate.event)) continue;
            const answers: string[] = [];
            for (const [s, jobId] of [[sqlite, id!], [pgSide, pgId!]] as const) {
              s.now = now;
              const row = await s.engine.get(jobId);
              const { jobId: target = jobId, options } = optionsOf(step.option, row, now);
              answers.push(await answer(() => s.engine.send(target, candidate.event as never, options)));
            }
            expect(answers[1], fc.stringify(candidate.event)).toBe(answers[0]);
          }
        }
        const [liteRow, pgRow] = [await sqlite.engine.get(id!), await pgSide.engine.get(pgId!)];
        expect({ ...pgRow, id: 0 }).toEqual({ ...liteRow, id: 0 });
        const strip = (events: Array<{ jobId: number }>) => events.map((e) => ({ ...e, jobId: 0 }));
        expect(strip(await pgSide.engine.history(pgId!))).toEqual(strip(await sqlite.engine.history(id!)));
        expect((await replayJobAsync(pgSide.paths.compiled, pgId!)).divergences).toEqual([]);
        expect((await replayJobAsync(pgSide.paths.xstate, pgId!)).divergences).toEqual([]);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  });
});

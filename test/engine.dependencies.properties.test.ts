/**
 * Property test of dependencies (`dependsOn`, src/engine/parking.ts) at the engine door, on a real
 * SQLite file: random sequences of creations naming random earlier jobs, cancellations, claims and
 * endings (succeed, fail). After every command, every job's row is claimable exactly when its state
 * is queued and every dependency it was created with has ended; its `blockedBy` is those still
 * running; a claim never takes a job with an unfinished dependency; a creation naming an unknown id
 * is refused and writes nothing. At the end every history has one event per version and replays
 * exactly, on the compiled lifecycles and on XState alone.
 *
 * Environment: PHASELINE_SEED (default 20261125), PHASELINE_PROPERTY_RUNS (default 200).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import type { JobRow } from '../src/db/schema.ts';
import { Engine } from '../src/engine/engine.ts';
import type { ParkingContext } from '../src/engine/parking.ts';
import { replayJob } from '../src/replay/replay.ts';
import { makeTempDir } from './helpers/processes.ts';

const SEED = Number(process.env.PHASELINE_SEED || 20261125);
const RUNS = Number(process.env.PHASELINE_PROPERTY_RUNS || 200);
const QUEUED: Record<string, string> = { uws: 'QUEUED', rime: 'JOB_STATUS_PENDING' };
const LIFECYCLES = ['uws', 'rime'] as const;

type Command =
  | { kind: 'create'; lifecycle: (typeof LIFECYCLES)[number]; deps: number[] }
  | { kind: 'cancel'; pick: number }
  | { kind: 'claim' }
  | { kind: 'end'; pick: number; ok: boolean }
  | { kind: 'unknown' };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('create' as const), lifecycle: fc.constantFrom(...LIFECYCLES), deps: fc.array(fc.nat(40), { maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat(40) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'claim' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat(40), ok: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'unknown' as const }) },
);

const temp = makeTempDir('phaseline-deps-prop-');
afterAll(() => temp.remove());

describe('dependsOn at the engine door', () => {
  it('claimable exactly when queued and every dependency has ended; claims never take a blocked job; replay exact', () => {
    console.log(`[engine.dependencies.properties] seed=${SEED} numRuns=${RUNS} (PHASELINE_SEED, PHASELINE_PROPERTY_RUNS)`);
    let run = 0;
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 40 }), fc.boolean(), (commands, compiledLifecycles) => {
        const file = join(temp.dir, `run-${run++}.db`);
        const database = openDatabase(file);
        let now = 1_000;
        const engine = new Engine(new SqliteStore(database), { clock: () => now, compiledLifecycles });
        try {
          const ids: number[] = [];
          const depsOf = new Map<number, number[]>();
          const leases = new Map<number, string>();
          let leaseNo = 0;
          const row = (id: number): JobRow => engine.get(id);
          const check = (): void => {
            for (const id of ids) {
              const job = row(id);
              const deps = depsOf.get(id)!;
              const open = deps.filter((d) => row(d).endedAt === null);
              const blockedBy = (job.snapshot.context as ParkingContext).blockedBy ?? [];
              if (job.endedAt !== null) continue; // a finished job waits for nothing, whatever it recorded
              const byId = (a: number, b: number) => a - b;
              expect([...blockedBy].sort(byId), `job ${id} blockedBy`).toEqual(open.sort(byId));
              expect(job.claimable, `job ${id} (${job.state}, open ${open}) claimable`).toBe(job.state === QUEUED[job.lifecycle] && open.length === 0);
            }
          };
          for (const c of commands) {
            now += 7;
            if (c.kind === 'create') {
              const deps = [...new Set(c.deps.filter((i) => i < ids.length).map((i) => ids[i]!))];
              const created = engine.create({ lifecycle: c.lifecycle, type: `t-${c.lifecycle}`, input: { params: null }, ...(deps.length > 0 ? { dependsOn: deps } : {}) });
              ids.push(created.id);
              // Only the dependencies unfinished at creation are waited for (an ended one never runs again here).
              depsOf.set(created.id, deps);
            } else if (c.kind === 'unknown') {
              const before = ids.map((id) => row(id).version);
              expect(() => engine.create({ lifecycle: 'rime', type: 't-rime', input: { params: null }, dependsOn: [...ids.slice(0, 1), 10_000] })).toThrow(expect.objectContaining({ code: 'JOB_NOT_FOUND' }));
              expect(ids.map((id) => row(id).version)).toEqual(before);
              expect(engine.idRange()?.max ?? 0).toBe(ids.at(-1) ?? 0);
            } else if (c.kind === 'cancel' && ids.length > 0) {
              const id = ids[c.pick % ids.length]!;
              try {
                engine.send(id, { type: 'CANCEL' });
              } catch (error) {
                expect((error as { code?: string }).code).toBe('ILLEGAL_TRANSITION');
              }
            } else if (c.kind === 'claim') {
              const claimed = engine.claimDue(1, ['t-uws', 't-rime'], () => ({ leaseId: `L${++leaseNo}`, leaseExpiresAt: now + 60_000, workerId: 'w', actor: 'w' }));
              for (const job of claimed) {
                for (const d of depsOf.get(job.id)!) expect(row(d).endedAt, `claimed job ${job.id}: dependency ${d} ended`).not.toBeNull();
                leases.set(job.id, job.leaseId!);
              }
            } else if (c.kind === 'end' && leases.size > 0) {
              const running = [...leases.keys()];
              const id = running[c.pick % running.length]!;
              const leaseId = leases.get(id)!;
              leases.delete(id);
              const event = c.ok ? { type: 'SUCCEED', result: null } : { type: 'FAIL', error: { message: 'no' } };
              const current = row(id);
              if (current.leaseId === leaseId && current.running) {
                const after = engine.send(id, event, { fence: { leaseId } });
                // A cancelled job asked to stop ends cancelled whichever way its handler ends.
                expect(after.endedAt === null && after.running, `job ${id} left running`).toBe(false);
              }
            }
            check();
          }
          for (const id of ids) {
            const history = engine.history(id);
            expect(history.map((e) => e.seq)).toEqual(history.map((_e, i) => i + 1));
            expect(replayJob(engine, id).divergences, `job ${id} replays`).toEqual([]);
          }
        } finally {
          database.sqlite.close();
          rmSync(file, { force: true });
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  });
});

/**
 * Replay's comparisons after its read path was made cheaper (a fast structural `sameValue`, rows
 * derived in full only where they are compared, a generated row decoder in the SQLite store):
 * - `sameValue` answers exactly what `JSON.stringify(a) === JSON.stringify(b)` answers for any two
 *   objects, checked by property on JSON values, their key-reordered and mutated copies, and values
 *   stringify treats specially (undefined, NaN, -0, Infinity, Dates, toJSON, class instances, holes);
 * - a corruption planted in the SQLite file (an event's payload, any JSON column of the row, a
 *   column's key order, an intermediate event's state or sequence) is reported by `replayAll`.
 *
 * Environment: PHASELINE_PROPERTY_RUNS (default 2000), PHASELINE_SEED (default 20261202).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtInLifecycles } from '../machines/index.ts';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { Engine } from '../src/engine/engine.ts';
import { sameValue } from '../src/replay/fold.ts';
import { replayAll } from '../src/replay/replay.ts';
import { envInt } from './support/env.ts';

const RUNS = envInt('PHASELINE_PROPERTY_RUNS', 2000);
const SEED = envInt('PHASELINE_SEED', 20261202);

class Box {
  constructor(readonly v: unknown) {}
}

/** JSON values with, now and then, something stringify writes specially. */
const special = fc.constantFrom<unknown>(undefined, Number.NaN, -0, 0, Infinity, -Infinity, new Date(0), { toJSON: () => 'x' }, 'x', '"x"', null, new Box(1), () => 1, [, 1]); // eslint-disable-line no-sparse-arrays
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -3, max: 3 }), fc.double(), fc.constantFrom('a', 'b', '')),
    special,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c', 'toJSON'), tie('v'), { maxKeys: 4 }),
  ),
})).v;

/** A copy with keys reordered, one leaf changed, or unchanged. */
function variant(v: unknown, rng: () => number): unknown {
  if (Array.isArray(v)) return v.map((x) => (rng() < 0.3 ? variant(x, rng) : x));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const entries = Object.entries(v).map(([k, x]) => [k, rng() < 0.3 ? variant(x, rng) : x] as const);
    if (rng() < 0.4) entries.reverse();
    return Object.fromEntries(entries);
  }
  if (rng() < 0.2) return typeof v === 'number' ? v + 1 : typeof v === 'string' ? `${v}!` : v === undefined ? null : v;
  return v;
}

describe('sameValue is JSON.stringify equality', () => {
  it('on random pairs, copies and variants', () => {
    console.log(`[replay.compare] seed=${SEED} numRuns=${RUNS} (PHASELINE_SEED, PHASELINE_PROPERTY_RUNS)`);
    let equalPairs = 0;
    let differentPairs = 0;
    fc.assert(
      fc.property(value, value, fc.integer(), (a, other, salt) => {
        let s = salt >>> 0;
        const rng = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
        for (const b of [other, variant(a, rng), structuredCloneOrSelf(a)]) {
          for (const [x, y] of [[{ v: a }, { v: b }], [[a], [b]], [a, b]] as const) {
            const expected = x === y || (typeof x === 'object' && typeof y === 'object' && x !== null && y !== null && JSON.stringify(x) === JSON.stringify(y));
            expect(sameValue(x, y), `${String(JSON.stringify(x))} vs ${String(JSON.stringify(y))}`).toBe(expected);
            if (expected) equalPairs++;
            else differentPairs++;
          }
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // Both answers were exercised.
    expect(equalPairs).toBeGreaterThan(RUNS / 2);
    expect(differentPairs).toBeGreaterThan(RUNS / 2);
  });

  it('on the cases stringify writes specially', () => {
    expect(sameValue({ a: undefined, b: 1 }, { b: 1 })).toBe(true);
    expect(sameValue([undefined], [null])).toBe(true);
    expect(sameValue([Number.NaN], [null])).toBe(true);
    expect(sameValue({ a: -0 }, { a: 0 })).toBe(true);
    expect(sameValue([new Date(0)], ['1970-01-01T00:00:00.000Z'])).toBe(true);
    expect(sameValue({ toJSON: () => 1 }, [1])).toBe(false);
    expect(sameValue({ toJSON: () => [1] }, [1])).toBe(true);
    expect(sameValue({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(sameValue({ a: 1 }, { a: 1, b: () => 2 })).toBe(true);
    expect(sameValue([1, 2], [1, 2, 3])).toBe(false);
    expect(sameValue({ a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] })).toBe(true);
    expect(sameValue({ a: [1, { b: 'x' }] }, { a: [1, { b: 'y' }] })).toBe(false);
  });
});

function structuredCloneOrSelf(v: unknown): unknown {
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}

/** A database of finished jobs of every built-in lifecycle, replaying clean. */
function seeded() {
  const database = openDatabase(':memory:');
  let now = 1_700_000_000_000;
  const engine = new Engine(new SqliteStore(database), { clock: () => (now += 3) });
  const ids: number[] = [];
  engine.transaction(() => {
    for (const lifecycle of Object.values(builtInLifecycles)) {
      for (let j = 0; j < 3; j++) {
        const { id } = engine.create({ lifecycle: lifecycle.name, type: 't', input: { params: { j, name: `p${j}` } } });
        engine.send(id, { type: 'CLAIM' });
        if (lifecycle.validatedEvent) engine.send(id, { type: lifecycle.validatedEvent });
        engine.send(id, { type: 'PROGRESS', percent: 30, message: 'thirty' });
        engine.send(id, { type: 'FAIL', error: { message: 'x' }, retryAt: 5 });
        engine.send(id, { type: 'CLAIM' });
        if (lifecycle.validatedEvent) engine.send(id, { type: lifecycle.validatedEvent });
        engine.send(id, { type: 'SUCCEED', result: { ok: true, list: [1, 2] } });
        ids.push(id);
      }
    }
  });
  const sql = database.sqlite;
  const check = () => replayAll(new Engine(new SqliteStore(database)));
  return { sql, ids, check, close: () => sql.close() };
}

describe('replayAll reports what is planted in the SQLite file', () => {
  it('replays clean before anything is planted', () => {
    const db = seeded();
    const summary = db.check();
    expect(summary.diverged).toBe(0);
    expect(summary.jobs).toBe(15);
    db.close();
  });

  const plants: Array<{ name: string; sql: string; field: string }> = [
    { name: "the first event's payload (the parameters it created the job with)", sql: `UPDATE job_events SET payload = json_set(payload, '$.input.params.name', 'q') WHERE job_id = ? AND seq = 1`, field: 'params' },
    { name: "an intermediate event's payload (the error of the retried failure)", sql: `UPDATE job_events SET payload = json_set(payload, '$.error.message', 'z') WHERE job_id = ? AND type = 'FAIL'`, field: 'errors' },
    { name: "the last event's payload, one nested value", sql: `UPDATE job_events SET payload = '{"result":{"ok":true,"list":[1,3]}}' WHERE job_id = ? AND type = 'SUCCEED'`, field: 'result' },
    { name: 'the result column, its keys reordered', sql: `UPDATE jobs SET result = '{"list":[1,2],"ok":true}' WHERE id = ?`, field: 'result' },
    { name: 'the params column, one nested value', sql: `UPDATE jobs SET params = json_set(params, '$.name', 'q') WHERE id = ?`, field: 'params' },
    { name: "the errors column, an error's message", sql: `UPDATE jobs SET errors = json_set(errors, '$[0].message', 'y') WHERE id = ?`, field: 'errors' },
    { name: 'the snapshot column, a key added to its context', sql: `UPDATE jobs SET snapshot = json_set(snapshot, '$.context.extra', 1) WHERE id = ?`, field: 'snapshot' },
    { name: 'the snapshot column, its state value', sql: `UPDATE jobs SET snapshot = json_set(snapshot, '$.value', 'NOPE') WHERE id = ?`, field: 'snapshot' },
    { name: 'a number column', sql: 'UPDATE jobs SET progress_percent = progress_percent + 0.5 WHERE id = ?', field: 'progressPercent' },
    { name: 'a boolean column', sql: 'UPDATE jobs SET cancel_requested = 1 - cancel_requested WHERE id = ?', field: 'cancelRequested' },
    { name: "an intermediate event's state", sql: `UPDATE job_events SET state_after = 'ELSEWHERE' WHERE job_id = ? AND seq = 3`, field: 'state' },
    { name: "an intermediate event's payload, read by a guard (a retry turned into a failure)", sql: `UPDATE job_events SET payload = json_remove(payload, '$.retryAt') WHERE job_id = ? AND type = 'FAIL'`, field: 'state' },
  ];
  for (const plant of plants) {
    it(`${plant.name}: reported, on every lifecycle, and only for that job`, () => {
      const db = seeded();
      // One job of each lifecycle.
      const victims = db.ids.filter((_, i) => i % 3 === 1);
      for (const id of victims) expect(db.sql.prepare(plant.sql).run(id).changes, `${plant.name} planted in job ${id}`).toBeGreaterThan(0);
      const summary = db.check();
      expect(summary.reports.map((r) => r.jobId)).toEqual(victims);
      for (const report of summary.reports) {
        expect(report.divergences.map((d) => d.field), `job ${report.jobId}`).toContain(plant.field);
      }
      db.close();
    });
  }
});

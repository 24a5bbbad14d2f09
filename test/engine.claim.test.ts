/** The claim query walks an index in claim order: its cost grows neither with the backlog nor with finished jobs. */
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { Engine } from '../src/engine/engine.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { claimableQuery } from '../src/db/statements.ts';

describe('claim query plan', () => {
  it('uses jobs_claim in claim order, with or without a type filter, and no sort', () => {
    const db = openDatabase(':memory:');
    const engine = new Engine(new SqliteStore(db));
    for (let i = 0; i < 50; i++) engine.create({ lifecycle: 'rime', type: i % 2 ? 'a' : 'b', input: { params: null, priority: i % 3 } });
    db.sqlite.exec('ANALYZE');
    // The engine's own claim queries, as Drizzle builds them.
    const plan = (query: { toSQL(): { sql: string; params: unknown[] } }) => {
      const { sql, params } = query.toSQL();
      const values = params.map((v) => (typeof v === 'object' && v !== null ? (v.toString() === '[object Object]' && 'name' in v ? ((v as { name: string }).name === 'now' ? 5 : 8) : v) : v));
      return db.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...values).map((r) => (r as { detail: string }).detail).join('; ');
    };
    for (const p of [plan(claimableQuery(db.db)), plan(claimableQuery(db.db, ['a', 'b']))]) {
      expect(p).toContain('jobs_claim');
      expect(p).not.toContain('TEMP B-TREE');
    }
    expect(engine.claimableIds(Date.now(), 5, ['a', 'b'])).toEqual(engine.claimableIds(Date.now(), 5));
    const ids = engine.claimableIds(Date.now(), 50);
    const rows = ids.map((id) => engine.get(id));
    for (let i = 1; i < rows.length; i++) {
      const [a, b] = [rows[i - 1]!, rows[i]!];
      expect(a.priority > b.priority || (a.priority === b.priority && a.id < b.id)).toBe(true);
    }
  });
});

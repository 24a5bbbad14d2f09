/**
 * The PostgreSQL queries of limits (src/engine/limits.ts), as sqlite-limits.ts has them for SQLite.
 * The store's operations (pg-store.ts) run them inside its transactions: job rows a claim reads are
 * locked `FOR UPDATE SKIP LOCKED` as in every claim, and a limited type's counter row `FOR UPDATE`,
 * so claims of that type take turns across hosts while claims of other types do not wait.
 */
import { and, asc, desc, eq, getTableColumns, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { jobs, jobSlots } from './pg-schema.ts';

type PgDb = NodePgDatabase<Record<string, never>>;
const p = sql.placeholder;
const c = getTableColumns(jobs);

export function prepareLimitQueries(db: PgDb) {
  return {
    ofType: db
      .select()
      .from(jobs)
      .where(and(eq(jobs.type, p('type')), eq(jobs.claimable, true), isNull(jobs.concurrencyKey), lte(jobs.runAfter, p('now'))))
      .orderBy(desc(jobs.priority), asc(jobs.id))
      .limit(p('limit'))
      .for('update', { skipLocked: true })
      .prepare('phaseline_claimable_of_type'),
    heads: db
      .select(c)
      .from(jobSlots)
      .innerJoin(jobs, eq(jobs.id, jobSlots.headId))
      // The job's own conditions too: a head claimed by a transaction that committed meanwhile is
      // checked again on the locked row (READ COMMITTED re-evaluates them) and left out.
      .where(and(
        eq(jobSlots.type, p('type')), isNotNull(jobSlots.headId), lte(jobSlots.headRunAfter, p('now')), lt(jobSlots.running, p('keyLimit')),
        eq(jobs.claimable, true), lte(jobs.runAfter, p('now')),
      ))
      .orderBy(desc(jobSlots.headPriority), asc(jobSlots.headId))
      .limit(p('limit'))
      .for('update', { of: jobs, skipLocked: true })
      .prepare('phaseline_claimable_heads'),
    anyHead: db
      .select({ type: jobSlots.type })
      .from(jobSlots)
      .where(and(sql`${jobSlots.type} = any(${p('types')})`, isNotNull(jobSlots.headId)))
      .limit(1)
      .prepare('phaseline_any_head'),
    typeSlots: db
      .select({ type: jobSlots.type, running: jobSlots.running, windowStart: jobSlots.windowStart, windowCount: jobSlots.windowCount })
      .from(jobSlots)
      .where(and(sql`${jobSlots.type} = any(${p('types')})`, eq(jobSlots.key, '')))
      .orderBy(asc(jobSlots.type))
      .for('update')
      .prepare('phaseline_type_slots'),
    typeRunning: db
      .update(jobSlots)
      .set({ running: sql`${jobSlots.running} + ${p('delta')}::integer` })
      .where(and(eq(jobSlots.type, p('type')), eq(jobSlots.key, '')))
      .prepare('phaseline_type_running'),
    window: db
      .update(jobSlots)
      .set({ windowStart: sql`${p('windowStart')}::bigint`, windowCount: sql`${p('windowCount')}::integer` })
      .where(and(eq(jobSlots.type, p('type')), eq(jobSlots.key, '')))
      .prepare('phaseline_window'),
    dropKey: db
      .delete(jobSlots)
      .where(and(eq(jobSlots.type, p('type')), eq(jobSlots.key, p('key')), eq(jobSlots.running, 0), isNull(jobSlots.headId)))
      .prepare('phaseline_drop_key'),
  };
}

/**
 * Rows for limited types that have none, each with its running jobs counted. Under a lock that
 * waits for every transaction writing jobs, so that no claim or end between the count and the
 * commit goes uncounted (once per type and database).
 */
export function createTypeSlots(types: readonly string[]) {
  return sql`INSERT INTO ${jobSlots} (type, key, running, window_start, window_count)
    SELECT t.type, '', (SELECT count(*) FROM ${jobs} WHERE ${jobs.running} AND ${jobs.type} = t.type), 0, 0
    FROM unnest(${sql.param([...types])}::text[]) AS t(type)
    ON CONFLICT (type, key) DO NOTHING`;
}

export const LOCK_JOBS = sql`LOCK TABLE ${jobs} IN SHARE ROW EXCLUSIVE MODE`;

/** A key's counter moved by `delta`, its head looked up again; returns whether the row is now empty. */
export function upsertKeySlot(type: string, key: string, delta: number) {
  return sql`INSERT INTO ${jobSlots} (type, key, running, window_start, window_count, head_id, head_priority, head_run_after)
    SELECT ${type}, ${key}, ${delta}::integer, 0, 0, h.id, h.priority, h.run_after
    FROM (SELECT 1) AS one LEFT JOIN LATERAL (
      SELECT ${jobs.id} AS id, ${jobs.priority} AS priority, ${jobs.runAfter} AS run_after FROM ${jobs}
      WHERE ${jobs.type} = ${type} AND ${jobs.concurrencyKey} = ${key} AND ${jobs.claimable}
      ORDER BY ${jobs.priority} DESC, ${jobs.id} LIMIT 1
    ) AS h ON true
    ON CONFLICT (type, key) DO UPDATE SET running = ${jobSlots}.running + excluded.running,
      head_id = excluded.head_id, head_priority = excluded.head_priority, head_run_after = excluded.head_run_after
    RETURNING (running = 0 AND head_id IS NULL) AS empty`;
}

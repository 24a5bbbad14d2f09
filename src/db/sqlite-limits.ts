/**
 * The SQLite statements of limits (src/engine/limits.ts): the claim's reads of one type's jobs
 * without a key and of its keys' heads, and the counters in `job_slots`. Prepared once per
 * database, like statements.ts; the store's limit operations run them.
 */
import { and, asc, desc, eq, getTableColumns, inArray, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import { compileRead, compileWrite } from './compile.ts';
import type { OpenDatabase } from './open.ts';
import { jobs, jobSlots, type JobRow } from './schema.ts';
import type { SlotChange, SlotFields, TypeSlot } from './store.ts';

const p = sql.placeholder;
const c = getTableColumns(jobs);
const slotColumns = { type: jobSlots.type, running: jobSlots.running, windowStart: jobSlots.windowStart, windowCount: jobSlots.windowCount };
const headColumns = { id: jobs.id, priority: jobs.priority, runAfter: jobs.runAfter };
const fieldColumns = { type: jobs.type, concurrencyKey: jobs.concurrencyKey, running: jobs.running, claimable: jobs.claimable };

export function prepareLimitStatements({ db, sqlite }: Pick<OpenDatabase, 'db' | 'sqlite'>) {
  const ofType = compileRead<JobRow>(
    sqlite,
    db
      .select()
      .from(jobs)
      // The partial index jobs_claim_type, walked in claim order from the type's first row.
      .where(and(eq(jobs.type, p('type')), eq(jobs.claimable, true), isNull(jobs.concurrencyKey), lte(jobs.runAfter, p('now'))))
      .orderBy(desc(jobs.priority), asc(jobs.id))
      .limit(p('limit')),
    c,
  );
  const heads = compileRead<JobRow>(
    sqlite,
    db
      .select(c)
      .from(jobSlots)
      .innerJoin(jobs, eq(jobs.id, jobSlots.headId))
      // job_slots_heads in claim order: the rows passed over are saturated keys (each runs a job) and heads not yet due.
      .where(and(eq(jobSlots.type, p('type')), isNotNull(jobSlots.headId), lte(jobSlots.headRunAfter, p('now')), lt(jobSlots.running, p('keyLimit'))))
      .orderBy(desc(jobSlots.headPriority), asc(jobSlots.headId))
      .limit(p('limit')),
    c,
  );
  const anyHead = compileRead<{ type: string }>(
    sqlite,
    db.select({ type: jobSlots.type }).from(jobSlots).where(and(eq(jobSlots.type, p('type')), isNotNull(jobSlots.headId))).limit(1),
    { type: jobSlots.type },
  );
  const typeSlot = compileRead<TypeSlot>(sqlite, db.select(slotColumns).from(jobSlots).where(and(eq(jobSlots.type, p('type')), eq(jobSlots.key, ''))), slotColumns);
  const createTypeSlot = compileWrite(
    sqlite,
    db
      .insert(jobSlots)
      .values({
        type: p('type'),
        key: '',
        running: sql`(SELECT count(*) FROM ${jobs} WHERE ${jobs.running} = 1 AND ${jobs.type} = ${p('type')})`,
        windowStart: 0,
        windowCount: 0,
      } as never)
      .onConflictDoNothing(),
  );
  const window = compileWrite(
    sqlite,
    db.update(jobSlots).set({ windowStart: p('windowStart'), windowCount: p('windowCount') } as never).where(and(eq(jobSlots.type, p('type')), eq(jobSlots.key, ''))),
  );
  const typeRunning = compileWrite(
    sqlite,
    db.update(jobSlots).set({ running: sql`${jobSlots.running} + ${p('delta')}` }).where(and(eq(jobSlots.type, p('type')), eq(jobSlots.key, ''))),
  );
  const keyHead = compileRead<{ id: number; priority: number; runAfter: number }>(
    sqlite,
    db
      .select(headColumns)
      .from(jobs)
      .where(and(eq(jobs.type, p('type')), eq(jobs.concurrencyKey, p('key')), eq(jobs.claimable, true)))
      .orderBy(desc(jobs.priority), asc(jobs.id))
      .limit(1),
    headColumns,
  );
  const upsertKey = compileWrite(
    sqlite,
    db
      .insert(jobSlots)
      .values({ type: p('type'), key: p('key'), running: p('delta'), windowStart: 0, windowCount: 0, headId: p('headId'), headPriority: p('headPriority'), headRunAfter: p('headRunAfter') } as never)
      .onConflictDoUpdate({
        target: [jobSlots.type, jobSlots.key],
        set: {
          running: sql`${jobSlots.running} + excluded.running`,
          headId: sql`excluded.head_id`,
          headPriority: sql`excluded.head_priority`,
          headRunAfter: sql`excluded.head_run_after`,
        },
      }),
  );
  // A key with nothing queued or running keeps no row: the table stays as small as the work in flight.
  const dropKey = compileWrite(
    sqlite,
    db.delete(jobSlots).where(and(eq(jobSlots.type, p('type')), eq(jobSlots.key, p('key')), eq(jobSlots.running, 0), isNull(jobSlots.headId))),
  );
  return {
    claimableOfType: (type: string, now: number, limit: number) => ofType.all({ type, now, limit }),
    claimableHeads: (type: string, now: number, keyLimit: number, limit: number) => heads.all({ type, now, keyLimit, limit }),
    hasKeyHeads: (types: readonly string[]) => types.some((type) => anyHead.get({ type }) !== undefined),
    lockTypeSlots(types: readonly string[]): TypeSlot[] {
      return types.map((type) => {
        let slot = typeSlot.get({ type });
        if (!slot) {
          createTypeSlot.run({ type });
          slot = typeSlot.get({ type })!;
        }
        return slot;
      });
    },
    writeWindow: (type: string, windowStart: number, windowCount: number) => void window.run({ type, windowStart, windowCount }),
    applySlotChanges(changes: readonly SlotChange[]): void {
      for (const { type, key, delta } of changes) {
        if (key === '') {
          if (delta !== 0) typeRunning.run({ type, delta });
          continue;
        }
        const head = keyHead.get({ type, key });
        upsertKey.run({ type, key, delta, headId: head?.id ?? null, headPriority: head?.priority ?? null, headRunAfter: head?.runAfter ?? null });
        if (!head) dropKey.run({ type, key });
      }
    },
    slotFieldsOf: (ids: readonly number[]): SlotFields[] =>
      ids.length === 0 ? [] : db.select(fieldColumns).from(jobs).where(inArray(jobs.id, [...ids])).all(),
  };
}

export type LimitStatements = ReturnType<typeof prepareLimitStatements>;

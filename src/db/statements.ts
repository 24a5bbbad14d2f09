/**
 * Every query on the hot path, prepared once when the database opens.
 */
import { and, asc, desc, eq, getTableColumns, gt, gte, inArray, isNull, lt, lte, ne, or, sql } from 'drizzle-orm';
import { compileRead, compileWrite } from './compile.ts';
import type { OpenDatabase, PhaselineDb } from './open.ts';
import { jobEvents, jobs, type JobEventRow, type JobRow } from './schema.ts';

const p = sql.placeholder;

/**
 * What a transition reads of the row before it: identity, version, timestamps and lease. Not the
 * snapshot (a live one is usually cached) nor the JSON columns (the new row derives them from the
 * snapshot), so nothing is parsed on the hot path.
 */
const c = getTableColumns(jobs);
const headColumns = {
  id: c.id, lifecycle: c.lifecycle, lifecycleVersion: c.lifecycleVersion, type: c.type, owner: c.owner, runId: c.runId,
  idempotencyKey: c.idempotencyKey, state: c.state, version: c.version, stateVersion: c.stateVersion,
  createdAt: c.createdAt, updatedAt: c.updatedAt, startedAt: c.startedAt, endedAt: c.endedAt,
  leaseId: c.leaseId, leaseExpiresAt: c.leaseExpiresAt, workerId: c.workerId,
};
export type JobHead = { [K in keyof typeof headColumns]: (typeof jobs.$inferSelect)[K] };

/** The columns a transition writes: all but the id and the identity fixed at creation. */
const DERIVED = [
  'state', 'snapshot', 'version', 'stateVersion', 'claimable', 'running', 'waiting', 'outcome',
  'params', 'result', 'errors', 'question', 'reply', 'inside', 'step',
  'progressPercent', 'progressMessage', 'progressCurrent', 'progressTotal', 'cancelRequested',
  'updatedAt', 'startedAt', 'endedAt', 'destructionAt', 'executionDuration', 'quoteAt',
  'priority', 'runAfter', 'attempt', 'leaseId', 'leaseExpiresAt', 'workerId',
] as const;

/**
 * `{ col: sql.placeholder('col') }` for each key. Drizzle binds each placeholder to its column, so
 * JSON and boolean columns are encoded on execution; its `set()` types do not admit placeholders,
 * hence the cast.
 */
const placeholders = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((k) => [k, p(k)])) as unknown as Record<K, never>;

export function prepareStatements({ db, sqlite }: OpenDatabase) {
  const jobColumns = getTableColumns(jobs);
  const eventColumns = getTableColumns(jobEvents);
  const expiredColumns = { id: c.id, type: c.type, attempt: c.attempt, leaseId: c.leaseId, cancelRequested: c.cancelRequested };
  const destructionColumns = { id: c.id, lifecycle: c.lifecycle, state: c.state, endedAt: c.endedAt, cancelRequested: c.cancelRequested };
  return {
    insertJob: compileWrite(
      sqlite,
      db.insert(jobs).values({
        ...placeholders(DERIVED),
        ...placeholders(['lifecycle', 'lifecycleVersion', 'type', 'owner', 'runId', 'idempotencyKey', 'createdAt'] as const),
      }),
    ),
    updateJob: compileWrite(
      sqlite,
      db
        .update(jobs)
        .set(placeholders(DERIVED))
        // The version guard: the row must still be at the version this transition started from.
        .where(and(eq(jobs.id, p('id')), eq(jobs.version, sql`${p('version')} - 1`))),
    ),
    insertEvent: compileWrite(
      sqlite,
      db.insert(jobEvents).values(placeholders(['jobId', 'seq', 'at', 'type', 'payload', 'stateBefore', 'stateAfter', 'actor'] as const)),
    ),
    /** A heartbeat: fenced by the lease id, and only while the job is running. */
    renewLease: compileWrite(
      sqlite,
      db
        .update(jobs)
        .set({ leaseExpiresAt: sql`${p('expiresAt')}` })
        .where(and(eq(jobs.id, p('id')), eq(jobs.leaseId, p('leaseId')), eq(jobs.running, true))),
    ),
    selectHead: compileRead<JobHead>(sqlite, db.select(headColumns).from(jobs).where(eq(jobs.id, p('id'))), headColumns),
    selectJob: compileRead<JobRow>(sqlite, db.select().from(jobs).where(eq(jobs.id, p('id'))), jobColumns),
    selectByIdempotencyKey: compileRead<JobRow>(
      sqlite,
      db
        .select()
        .from(jobs)
        .where(and(eq(jobs.type, p('type')), eq(jobs.idempotencyKey, p('key')))),
      jobColumns,
    ),
    selectJobsAfter: compileRead<JobRow>(
      sqlite,
      db.select().from(jobs).where(gt(jobs.id, p('after'))).orderBy(asc(jobs.id)).limit(p('limit')),
      jobColumns,
    ),
    selectEventsBetween: compileRead<JobEventRow>(
      sqlite,
      db
        .select()
        .from(jobEvents)
        .where(and(gte(jobEvents.jobId, p('from')), lte(jobEvents.jobId, p('to'))))
        .orderBy(asc(jobEvents.jobId), asc(jobEvents.seq)),
      eventColumns,
    ),
    selectEvents: compileRead<JobEventRow>(
      sqlite,
      db.select().from(jobEvents).where(eq(jobEvents.jobId, p('id'))).orderBy(asc(jobEvents.seq)),
      eventColumns,
    ),
    selectExpiredLeases: compileRead<Pick<JobRow, keyof typeof expiredColumns>>(
      sqlite,
      db
        .select(expiredColumns)
        .from(jobs)
        .where(and(eq(jobs.running, true), or(isNull(jobs.leaseExpiresAt), lt(jobs.leaseExpiresAt, p('now')))))
        .limit(p('limit')),
      expiredColumns,
    ),
    selectDueForDestruction: compileRead<Pick<JobRow, keyof typeof destructionColumns>>(
      sqlite,
      db
        .select(destructionColumns)
        .from(jobs)
        .where(and(lte(jobs.destructionAt, p('now')), ne(jobs.state, 'ARCHIVED')))
        .limit(p('limit')),
      destructionColumns,
    ),
    selectClaimable: compileClaimable({ db, sqlite }),
  };
}

/** The claim query, compiled; `types` narrows it to the job types a worker runs. */
export function compileClaimable({ db, sqlite }: Pick<OpenDatabase, 'db' | 'sqlite'>, types?: readonly string[]) {
  return compileRead<{ id: number }>(sqlite, claimableQuery(db, types), { id: jobs.id });
}

/**
 * Due claimable jobs in claim order: highest priority, then oldest. The partial index `jobs_claim`
 * serves it; with a type filter, the unary plus keeps SQLite on that index (claim order, no sort)
 * instead of the type index.
 */
export function claimableQuery(db: PhaselineDb, types?: readonly string[]) {
  const due = and(eq(jobs.claimable, true), lte(jobs.runAfter, p('now')));
  return db
    .select({ id: jobs.id })
    .from(jobs)
    .where(types ? and(due, inArray(sql`+${jobs.type}`, [...types])) : due)
    .orderBy(desc(jobs.priority), asc(jobs.id))
    .limit(p('limit'));
}

export type Statements = ReturnType<typeof prepareStatements>;

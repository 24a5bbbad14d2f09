/**
 * Every query on the hot path, prepared once when the database opens.
 */
import { and, asc, desc, eq, getTableColumns, gt, gte, inArray, lte, not, sql } from 'drizzle-orm';
import type Database from 'better-sqlite3';
import { compileInsertMany, compileRead, compileWrite, type CompiledWrite } from './compile.ts';
import type { OpenDatabase, PhaselineDb } from './open.ts';
import { jobEvents, jobs, type JobEventRow, type JobRow } from './schema.ts';
import { DERIVED, selections } from './columns.ts';
import type { DestructionRow, JobHead, LeaseRow, SettledStates } from './store.ts';


const p = sql.placeholder;

const c = getTableColumns(jobs);
const { head: headColumns, lease: leaseColumns, destruction: destructionColumns } = selections(c);
// narrowUpdate keeps the set of changed columns in the bits of one 32-bit integer.
if (DERIVED.length > 32) throw new Error('DERIVED has more columns than a 32-bit mask holds');

/**
 * `{ col: sql.placeholder('col') }` for each key. Drizzle binds each placeholder to its column, so
 * JSON and boolean columns are encoded on execution; its `set()` types do not admit placeholders,
 * hence the cast.
 */
const placeholders = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((k) => [k, p(k)])) as unknown as Record<K, never>;

export function prepareStatements({ db, sqlite }: OpenDatabase) {
  const eventColumns = getTableColumns(jobEvents);
  const jobValues = {
    ...placeholders(DERIVED),
    ...placeholders(['lifecycle', 'lifecycleVersion', 'type', 'owner', 'runId', 'idempotencyKey', 'concurrencyKey', 'traceparent', 'createdAt'] as const),
  };
  const eventValues = placeholders(['jobId', 'seq', 'at', 'type', 'payload', 'stateBefore', 'stateAfter', 'actor'] as const);
  const rowsOf = <T>(values: T, n: number): T[] => Array.from({ length: n }, () => values);
  return {
    insertJob: compileWrite(sqlite, db.insert(jobs).values(jobValues)),
    insertJobs: compileInsertMany(sqlite, (n) => db.insert(jobs).values(rowsOf(jobValues, n))),
    updateJob: narrowUpdate({ db, sqlite }),
    insertEvent: compileWrite(sqlite, db.insert(jobEvents).values(eventValues)),
    insertEvents: compileInsertMany(sqlite, (n) => db.insert(jobEvents).values(rowsOf(eventValues, n))),
    /**
     * A heartbeat: fenced by the lease id, and only while the job is running. The expiry always
     * moves on, even when the holder's clock stood still or stepped back: observers take a lease
     * record that stays the same for the lease's duration as its holder's death (src/runner/leases.ts).
     */
    renewLease: compileWrite(
      sqlite,
      db
        .update(jobs)
        .set({ leaseExpiresAt: sql`max(${p('expiresAt')}, ifnull(${jobs.leaseExpiresAt} + 1, ${p('expiresAt')}))` })
        .where(and(eq(jobs.id, p('id')), eq(jobs.leaseId, p('leaseId')), eq(jobs.running, true))),
    ),
    selectHead: compileRead<JobHead>(sqlite, db.select(headColumns).from(jobs).where(eq(jobs.id, p('id'))), headColumns),
    selectJob: compileRead<JobRow>(sqlite, db.select().from(jobs).where(eq(jobs.id, p('id'))), c),
    selectByIdempotencyKey: compileRead<JobRow>(
      sqlite,
      db
        .select()
        .from(jobs)
        .where(and(eq(jobs.type, p('type')), eq(jobs.idempotencyKey, p('key')))),
      c,
    ),
    selectJobsAfter: compileRead<JobRow>(
      sqlite,
      db.select().from(jobs).where(gt(jobs.id, p('after'))).orderBy(asc(jobs.id)).limit(p('limit')),
      c,
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
    /** Every running job's lease record, from the partial index `jobs_lease`: as many rows as jobs run now. */
    selectRunningLeases: compileRead<LeaseRow>(
      sqlite,
      db.select(leaseColumns).from(jobs).where(eq(jobs.running, true)),
      leaseColumns,
    ),
    selectClaimable: compileClaimable({ db, sqlite }),
  };
}

/**
 * A transition's UPDATE, narrowed to the columns it changes against the row as last written: SQLite
 * then rewrites only the indexes on those columns, and unchanged JSON columns are not encoded again
 * (a claim changes about a dozen of the 32 columns a transition may write). One statement per set
 * of changed columns, compiled on first use; a lifecycle needs a few dozen. The lease columns are always
 * written: heartbeats change them without a new version, so the row in memory may be behind.
 */
function narrowUpdate({ db, sqlite }: Pick<OpenDatabase, 'db' | 'sqlite'>) {
  const always = DERIVED.map((key) => key === 'version' || key === 'leaseId' || key === 'leaseExpiresAt' || key === 'workerId');
  const byColumns = new Map<number, CompiledWrite>();
  const compile = (mask: number) =>
    compileWrite(
      sqlite,
      db
        .update(jobs)
        .set(placeholders(DERIVED.filter((_key, i) => (mask & (1 << i)) !== 0)))
        // The version guard: the row must still be at the version this transition started from.
        .where(and(eq(jobs.id, p('id')), eq(jobs.version, sql`${p('version')} - 1`))),
    );
  return {
    /** Write `row` over `before`, the row at the version `row` follows. */
    run(row: JobRow, before: JobRow): Database.RunResult {
      let mask = 0;
      for (let i = 0; i < DERIVED.length; i++) {
        const key = DERIVED[i]!;
        // JSON columns compare by reference: an unchanged context field keeps its object.
        if (always[i] || row[key] !== before[key]) mask |= 1 << i;
      }
      let statement = byColumns.get(mask);
      if (!statement) byColumns.set(mask, (statement = compile(mask)));
      return statement.run(row);
    },
  };
}

/** The claim query, compiled; `types` narrows it to the job types a worker runs. */
export function compileClaimable({ db, sqlite }: Pick<OpenDatabase, 'db' | 'sqlite'>, types?: readonly string[]) {
  return compileRead<JobRow>(sqlite, claimableQuery(db, types), c);
}

/**
 * Due claimable jobs, whole rows, in claim order: highest priority, then oldest. The partial index
 * `jobs_claim` serves it; with a type filter, the unary plus keeps SQLite on that index (claim
 * order, no sort) instead of the type index. Whole rows, so that claiming needs no second read.
 */
export function claimableQuery(db: PhaselineDb, types?: readonly string[]) {
  const due = and(eq(jobs.claimable, true), lte(jobs.runAfter, p('now')));
  return db
    .select()
    .from(jobs)
    .where(types ? and(due, inArray(sql`+${jobs.type}`, [...types])) : due)
    .orderBy(desc(jobs.priority), asc(jobs.id))
    .limit(p('limit'));
}

/**
 * Jobs whose destruction instant has come, outside the states destruction has settled (UWS
 * ARCHIVED): which states those are is the lifecycles' to say, so the query is compiled for them.
 */
export function compileDueForDestruction({ db, sqlite }: Pick<OpenDatabase, 'db' | 'sqlite'>, settled: readonly SettledStates[]) {
  const unsettled = settled
    .filter((s) => s.states.length > 0)
    .map((s) => not(and(eq(jobs.lifecycle, s.lifecycle), inArray(jobs.state, [...s.states]))!));
  return compileRead<DestructionRow>(
    sqlite,
    db.select(destructionColumns).from(jobs).where(and(lte(jobs.destructionAt, p('now')), ...unsettled)).limit(p('limit')),
    destructionColumns,
  );
}

export type Statements = ReturnType<typeof prepareStatements>;

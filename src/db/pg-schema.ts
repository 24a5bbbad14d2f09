/**
 * The PostgreSQL schema: the same tables, columns and row types as the SQLite one (schema.ts), so
 * that the engine, replay and views read one `JobRow` from either store. Instants are UTC
 * milliseconds in `bigint` columns read as numbers (they pass 2^31 but stay far below 2^53).
 * JSON is kept as text, byte for byte as written: `jsonb` would reorder keys and drop duplicates,
 * and replay compares what it rebuilds with what was stored.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, customType, doublePrecision, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import type { Json, JobError } from '../../machines/common.ts';
import type { StoredSnapshot } from './schema.ts';

const json = <T>(name: string) =>
  customType<{ data: T; driverData: string | null }>({
    dataType: () => 'text',
    toDriver: (value) => (value === null || value === undefined ? null : JSON.stringify(value)),
    fromDriver: (value) => (value === null ? (null as T) : (JSON.parse(value) as T)),
  })(name);

/** A JSON column that is never null. */
const jsonNotNull = <T>(name: string) =>
  customType<{ data: T; driverData: string }>({
    dataType: () => 'text',
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => JSON.parse(value) as T,
  })(name).notNull();

const instant = (name: string) => bigint(name, { mode: 'number' });

export const jobs = pgTable(
  'jobs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    lifecycle: text('lifecycle').notNull(),
    lifecycleVersion: integer('lifecycle_version').notNull(),
    type: text('type').notNull(),
    state: text('state').notNull(),
    snapshot: jsonNotNull<StoredSnapshot>('snapshot'),
    version: integer('version').notNull(),
    stateVersion: integer('state_version').notNull(),
    claimable: boolean('claimable').notNull(),
    running: boolean('running').notNull(),
    waiting: boolean('waiting').notNull(),
    outcome: text('outcome', { enum: ['succeeded', 'failed', 'cancelled'] }),
    owner: text('owner'),
    runId: text('run_id'),
    idempotencyKey: text('idempotency_key'),
    params: json<Json>('params'),
    result: json<Json>('result'),
    errors: jsonNotNull<JobError[]>('errors'),
    question: json<Json>('question'),
    reply: json<Json>('reply'),
    inside: json<Json>('inside'),
    step: integer('step'),
    progressPercent: doublePrecision('progress_percent').notNull(),
    progressMessage: text('progress_message'),
    progressCurrent: doublePrecision('progress_current'),
    progressTotal: doublePrecision('progress_total'),
    cancelRequested: boolean('cancel_requested').notNull(),
    createdAt: instant('created_at').notNull(),
    updatedAt: instant('updated_at').notNull(),
    startedAt: instant('started_at'),
    endedAt: instant('ended_at'),
    destructionAt: instant('destruction_at'),
    executionDuration: bigint('execution_duration', { mode: 'number' }).notNull(),
    quoteAt: instant('quote_at'),
    priority: integer('priority').notNull(),
    runAfter: instant('run_after').notNull(),
    attempt: integer('attempt').notNull(),
    leaseId: text('lease_id'),
    leaseExpiresAt: instant('lease_expires_at'),
    workerId: text('worker_id'),
    concurrencyKey: text('concurrency_key'),
    traceparent: text('traceparent'),
  },
  (t) => [
    // Claims walk this index in claim order (FOR UPDATE SKIP LOCKED), as on SQLite.
    index('jobs_claim').on(t.priority.desc().nullsFirst(), t.id).where(sql`${t.claimable}`),
    index('jobs_lease').on(t.leaseExpiresAt).where(sql`${t.running}`),
    index('jobs_created').on(t.createdAt),
    // The dashboard's keyset pages (newest first by id, src/db/columns.ts listQueries) walk one of these
    // from a filter's value down the ids and stop at the page's end; without them a filter that
    // matches few jobs scanned the whole table (bench/RESULTS.md, dashboard queries).
    index('jobs_state_id').on(t.state, t.id),
    index('jobs_owner_id').on(t.owner, t.id),
    index('jobs_type_id').on(t.type, t.id),
    index('jobs_lifecycle_id').on(t.lifecycle, t.id),
    // And countByState reads this one alone (it covers lifecycle and state), never the table.
    index('jobs_lifecycle_state_id').on(t.lifecycle, t.state, t.id),
    index('jobs_ended').on(t.endedAt).where(sql`${t.endedAt} IS NOT NULL`),
    index('jobs_destruction').on(t.destructionAt).where(sql`${t.destructionAt} IS NOT NULL`),
    uniqueIndex('jobs_idempotency').on(t.type, t.idempotencyKey).where(sql`${t.idempotencyKey} IS NOT NULL`),
    index('jobs_claim_type').on(t.type, t.priority.desc().nullsFirst(), t.id).where(sql`${t.claimable} AND ${t.concurrencyKey} IS NULL`),
    index('jobs_claim_key').on(t.type, t.concurrencyKey, t.priority.desc().nullsFirst(), t.id).where(sql`${t.claimable} AND ${t.concurrencyKey} IS NOT NULL`),
  ],
);

/** The limits' counters, as on SQLite (schema.ts). */
export const jobSlots = pgTable(
  'job_slots',
  {
    type: text('type').notNull(),
    key: text('key').notNull(),
    running: integer('running').notNull(),
    windowStart: instant('window_start').notNull(),
    windowCount: integer('window_count').notNull(),
    headId: bigint('head_id', { mode: 'number' }),
    headPriority: integer('head_priority'),
    headRunAfter: instant('head_run_after'),
  },
  (t) => [
    primaryKey({ columns: [t.type, t.key] }),
    index('job_slots_heads').on(t.type, t.headPriority.desc().nullsFirst(), t.headId).where(sql`${t.headId} IS NOT NULL`),
  ],
);

export const jobEvents = pgTable(
  'job_events',
  {
    jobId: bigint('job_id', { mode: 'number' })
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    at: instant('at').notNull(),
    type: text('type').notNull(),
    payload: json<Record<string, unknown> | null>('payload'),
    stateBefore: text('state_before'),
    stateAfter: text('state_after').notNull(),
    actor: text('actor'),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.seq] })],
);

export type PgJobRow = typeof jobs.$inferSelect;
export type PgJobEventRow = typeof jobEvents.$inferSelect;

/** Cron schedules, as on SQLite (schema.ts). */
export const schedules = pgTable(
  'schedules',
  {
    name: text('name').primaryKey(),
    cron: text('cron').notNull(),
    timezone: text('timezone'),
    type: text('type').notNull(),
    params: json<Json>('params'),
    overlap: text('overlap', { enum: ['allow', 'skip'] }).notNull(),
    missed: text('missed', { enum: ['skip', 'latest', 'backfill'] }).notNull(),
    backfill: integer('backfill'),
    paused: boolean('paused').notNull(),
    nextAt: instant('next_at').notNull(),
    lastJobId: bigint('last_job_id', { mode: 'number' }),
    createdAt: instant('created_at').notNull(),
    updatedAt: instant('updated_at').notNull(),
  },
  (t) => [index('schedules_due').on(t.nextAt).where(sql`NOT ${t.paused}`)],
);

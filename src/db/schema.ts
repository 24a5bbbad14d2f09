/**
 * The only place column names are spelled: snake_case in SQL, camelCase in TypeScript.
 * Instants are UTC milliseconds. Row types never leave `src/db` and `src/engine`;
 * the public surface speaks {@link Job} (src/engine/job.ts) and the views.
 */
import { sql } from 'drizzle-orm';
import { customType, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { Json, JobError } from '../../machines/common.ts';

/**
 * The persisted part of an XState snapshot: its state value and the context fields that have no
 * column of their own; with the row's columns, enough to resolve it again (src/engine/derive.ts).
 */
export interface StoredSnapshot {
  value: string | Record<string, unknown>;
  context: Record<string, unknown>;
}

/**
 * A JSON column whose null is SQL NULL (Drizzle's `mode: 'json'` stores the text `null`), so that
 * `WHERE result IS NULL` means what it says.
 */
const json = <T>(name: string) =>
  customType<{ data: T; driverData: string | null }>({
    dataType: () => 'text',
    toDriver: (value) => (value === null || value === undefined ? null : JSON.stringify(value)),
    fromDriver: (value) => (value === null ? (null as T) : (JSON.parse(value) as T)),
  })(name);

export const jobs = sqliteTable(
  'jobs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** The lifecycle machine's name (`uws`, `ecotaxa`, ...). */
    lifecycle: text('lifecycle').notNull(),
    /** The machine version the job runs on: the one it was created with, or the one an upgrade moved it to (an UPGRADE event). */
    lifecycleVersion: integer('lifecycle_version').notNull(),
    /** The job type: which handler runs it. */
    type: text('type').notNull(),
    /** The wire spelling of the top-level state (`P`, `EXECUTING`, `JOB_STATUS_RUNNING`, ...). */
    state: text('state').notNull(),
    snapshot: text('snapshot', { mode: 'json' }).$type<StoredSnapshot>().notNull(),
    /** Rises by one with every accepted event; equals the sequence number of the last event. */
    version: integer('version').notNull(),
    /** The version at which `state` last changed (Synapse's etag changes on state changes only). */
    stateVersion: integer('state_version').notNull(),
    /** The state carries the `queued` tag: a worker may claim the job. */
    claimable: integer('claimable', { mode: 'boolean' }).notNull(),
    /** The state carries the `running` tag: a handler holds the job under a lease. */
    running: integer('running', { mode: 'boolean' }).notNull(),
    /** The state carries the `waiting` tag. */
    waiting: integer('waiting', { mode: 'boolean' }).notNull(),
    /** `succeeded`, `failed` or `cancelled` once terminal. */
    outcome: text('outcome', { enum: ['succeeded', 'failed', 'cancelled'] }),
    owner: text('owner'),
    /** UWS runId: opaque to the server, may repeat. */
    runId: text('run_id'),
    idempotencyKey: text('idempotency_key'),
    params: json<Json>('params'),
    result: json<Json>('result'),
    errors: text('errors', { mode: 'json' }).$type<JobError[]>().notNull(),
    question: json<Json>('question'),
    reply: json<Json>('reply'),
    inside: json<Json>('inside'),
    step: integer('step'),
    progressPercent: real('progress_percent').notNull(),
    progressMessage: text('progress_message'),
    progressCurrent: real('progress_current'),
    progressTotal: real('progress_total'),
    cancelRequested: integer('cancel_requested', { mode: 'boolean' }).notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    startedAt: integer('started_at'),
    endedAt: integer('ended_at'),
    destructionAt: integer('destruction_at'),
    /** Seconds of wall clock an attempt may run; 0 = unlimited. */
    executionDuration: integer('execution_duration').notNull(),
    quoteAt: integer('quote_at'),
    /** Higher runs first. */
    priority: integer('priority').notNull(),
    /** Not claimable before this instant; 0 when due. */
    runAfter: integer('run_after').notNull(),
    attempt: integer('attempt').notNull(),
    // Lease bookkeeping: written by claims and heartbeats, not by the machine, so replay ignores it.
    leaseId: text('lease_id'),
    leaseExpiresAt: integer('lease_expires_at'),
    workerId: text('worker_id'),
    /** Jobs of one type with one key run at most the type's `keyConcurrency` at once (src/engine/limits.ts). Last: added by a migration. */
    concurrencyKey: text('concurrency_key'),
    /** The W3C traceparent of the context the job was enqueued in: its attempts' spans are its children (src/runner/telemetry.ts). */
    traceparent: text('traceparent'),
  },
  (t) => [
    // The claim query walks this index in claim order and stops at the first due row,
    // so its cost grows neither with the backlog of later jobs nor with finished ones.
    index('jobs_claim').on(sql`${t.priority} DESC`, t.id).where(sql`${t.claimable} = 1`),
    index('jobs_lease').on(t.leaseExpiresAt).where(sql`${t.running} = 1`),
    // Oldest-first listings (UWS AFTER) walk jobs_created; newest-first ones (keyset pages, UWS LAST)
    // walk an (x, id) index: (owner, created) and (type, created) would only cost every enqueue.
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
    // A limited claim reads one type's jobs without a key in claim order, and each key's best queued job.
    index('jobs_claim_type').on(t.type, sql`${t.priority} DESC`, t.id).where(sql`${t.claimable} = 1 AND ${t.concurrencyKey} IS NULL`),
    index('jobs_claim_key').on(t.type, t.concurrencyKey, sql`${t.priority} DESC`, t.id).where(sql`${t.claimable} = 1 AND ${t.concurrencyKey} IS NOT NULL`),
  ],
);

/**
 * The counters limits are enforced by (src/engine/limits.ts): one row per limited job type (`key`
 * '') with its running jobs and rate window, and one per concurrency key with queued or running
 * jobs: its running jobs and its head (its best queued job, the only one of the key a claim looks
 * at). Updated in the transaction that moves a job, so they always equal a recount.
 */
export const jobSlots = sqliteTable(
  'job_slots',
  {
    type: text('type').notNull(),
    /** '' for the type's own row. */
    key: text('key').notNull(),
    running: integer('running').notNull(),
    /** Rate limit: when the current window began (UTC ms) and the claims made in it. */
    windowStart: integer('window_start').notNull(),
    windowCount: integer('window_count').notNull(),
    headId: integer('head_id'),
    headPriority: integer('head_priority'),
    headRunAfter: integer('head_run_after'),
  },
  (t) => [
    primaryKey({ columns: [t.type, t.key] }),
    index('job_slots_heads').on(t.type, sql`${t.headPriority} DESC`, t.headId).where(sql`${t.headId} IS NOT NULL`),
  ],
);

export const jobEvents = sqliteTable(
  'job_events',
  {
    jobId: integer('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    /** 1 for the creation, then one more per accepted event; equals the job's version after it. */
    seq: integer('seq').notNull(),
    at: integer('at').notNull(),
    /** `CREATE` for the first event, `UPGRADE` for a move to another lifecycle version, else the machine event's type. */
    type: text('type').notNull(),
    /** The event without `type` and `at` (for CREATE: the machine input); null when empty. */
    payload: json<Record<string, unknown> | null>('payload'),
    stateBefore: text('state_before'),
    stateAfter: text('state_after').notNull(),
    /** Who sent it: a worker and lease, an owner, the sweeper. */
    actor: text('actor'),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.seq] })],
);

export type JobRow = typeof jobs.$inferSelect;
export type SlotRow = typeof jobSlots.$inferSelect;
export type JobEventRow = typeof jobEvents.$inferSelect;

/**
 * Cron schedules (src/schedules/): each enqueues one job per slot of its cron pattern. `next_at`
 * is the first slot not yet handled; a scheduler takes the schedules whose `next_at` has come
 * (the partial index), enqueues with an idempotency key per slot (so two schedulers on one
 * database make one job), and moves `next_at` on, guarded by the value it read.
 */
export const schedules = sqliteTable(
  'schedules',
  {
    name: text('name').primaryKey(),
    cron: text('cron').notNull(),
    /** An IANA time zone the pattern is read in; null for UTC. */
    timezone: text('timezone'),
    /** The job type each slot enqueues, with these parameters. */
    type: text('type').notNull(),
    params: json<Json>('params'),
    /** `allow`, or `skip`: no job for a slot while the schedule's previous job is unfinished. */
    overlap: text('overlap', { enum: ['allow', 'skip'] }).notNull(),
    /** After downtime: `skip` the missed slots, run the `latest` one, or `backfill` up to `backfill` of them. */
    missed: text('missed', { enum: ['skip', 'latest', 'backfill'] }).notNull(),
    backfill: integer('backfill'),
    paused: integer('paused', { mode: 'boolean' }).notNull(),
    /** The first slot not yet handled (UTC ms). */
    nextAt: integer('next_at').notNull(),
    /** The schedule's latest job, for `overlap: 'skip'`. */
    lastJobId: integer('last_job_id'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('schedules_due').on(t.nextAt).where(sql`${t.paused} = 0`)],
);

export type ScheduleRow = typeof schedules.$inferSelect;

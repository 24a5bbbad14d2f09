/**
 * Shared by the runner behaviour, error and sweeper tests: a Phaseline on a fresh database of the
 * project's store (test/support/stores.ts; closed after each test), a polling `waitFor`, raw-row
 * readers that bypass every layer above the database.
 */
import pg from 'pg';
import { afterEach } from 'vitest';
import { waitFor } from './wait.ts';
import { createPhaseline, type Phaseline, type PhaselineOptions } from '../../src/phaseline.ts';
import { engineOf } from '../../src/internal.ts';
import type { Job, JobEvent } from '../../src/engine/job.ts';
import { STORE, freshDatabase } from '../support/stores.ts';

const opened: Phaseline[] = [];
const cleanups: Array<() => void> = [];
/** The database each Phaseline of {@link open} is on, for the raw readers. */
const databases = new WeakMap<Phaseline, string>();
/** On PostgreSQL: a pool per database the raw readers have read, ended after the test. */
const pools = new Map<string, pg.Pool>();

export { freshDatabase };

/**
 * A Phaseline on `options.db` (default: a fresh database), ready; closed after the test whatever
 * happens. To open one database twice, pass the `db` of {@link freshDatabase} to both.
 */
export async function open(options: PhaselineOptions = {}): Promise<Phaseline> {
  const db = options.db ?? (await freshDatabase());
  const p = createPhaseline({ ...options, db });
  opened.push(p);
  databases.set(p, db);
  await p.ready();
  return p;
}

/** Run `fn` after the test (before the databases close): releases handlers left waiting. */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

afterEach(async () => {
  for (const fn of cleanups.splice(0)) fn();
  // Grace 0: a handler that ignores its signal must not hold the suite for the default 10 s.
  for (const p of opened.splice(0)) await p.close(0);
  for (const pool of pools.values()) await pool.end();
  pools.clear();
});

export { waitFor };

/** Wait until the job is in `state` (wire spelling) and return it. */
export function waitForState(p: Phaseline, id: number, state: string | ((job: Job) => boolean), timeoutMs = 3000 + LEAD_MS): Promise<Job> {
  const test = typeof state === 'string' ? (job: Job) => job.state === state : state;
  return waitFor(
    async () => {
      const job = await p.get(id);
      return test(job) ? job : null;
    },
    timeoutMs,
    `job ${id} ${typeof state === 'string' ? `in ${state}` : 'predicate'}`,
  );
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  settled: boolean;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const d = { settled: false } as Deferred<T>;
  d.promise = new Promise<T>((r) => (resolve = r));
  d.resolve = (value) => {
    d.settled = true;
    resolve(value);
  };
  return d;
}

/** Resolves when `signal` fires (at once if it has). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * Rows as SQLite returns them, whichever the store: PostgreSQL's `bigint` columns (ids, instants,
 * counts) as numbers, its booleans as 1 and 0.
 */
const SQLITE_VALUES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    if (oid === pg.types.builtins.BOOL) return (value: string) => (value === 't' ? 1 : 0);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Run `sql` (`?` placeholders) on the database of `p`, straight through the driver. */
async function rawQuery(p: Phaseline, sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  if (STORE === 'sqlite') return engineOf(p).store.database.sqlite.prepare(sql).all(...params) as Array<Record<string, unknown>>;
  const url = databases.get(p);
  if (!url) throw new Error('rawQuery: a Phaseline not opened by open()');
  let pool = pools.get(url);
  if (!pool) pools.set(url, (pool = new pg.Pool({ connectionString: url, max: 1, types: SQLITE_VALUES })));
  let n = 0;
  return (await pool.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as Array<Record<string, unknown>>;
}

/** `SELECT *` of the job's row, bypassing every layer above the database. */
export async function rawRow(p: Phaseline, id: number): Promise<Record<string, unknown> | undefined> {
  return (await rawQuery(p, 'SELECT * FROM jobs WHERE id = ?', [id]))[0];
}

/** `SELECT *` of the job's history rows, in order. */
export function rawHistory(p: Phaseline, id: number): Promise<Array<Record<string, unknown>>> {
  return rawQuery(p, 'SELECT * FROM job_events WHERE job_id = ? ORDER BY seq', [id]);
}

export async function countRows(p: Phaseline, table: 'jobs' | 'job_events' = 'jobs'): Promise<number> {
  return (await rawQuery(p, `SELECT count(*) AS n FROM ${table}`))[0]!.n as number;
}

/** Event types of a history, CREATE left out. */
export function types(history: JobEvent[]): string[] {
  return history.filter((e) => e.type !== 'CREATE').map((e) => e.type);
}

export function eventsOf(history: JobEvent[], type: string): JobEvent[] {
  return history.filter((e) => e.type === type);
}

/** Short intervals for the runner, so tests run in tens of milliseconds. */
export const FAST = { pollIntervalMs: 10, leaseMs: 400, heartbeatMs: 50, progressIntervalMs: 20, cancelGraceMs: 2000 } as const;

/**
 * Added to a deadline a test sets (a destruction instant, a retention, a delay, a grace) when it
 * checks steps that must come before it (enqueue, claim, a run, a read): each is a few round trips
 * on PostgreSQL, which on a loaded machine add up past the deadlines SQLite meets.
 */
export const LEAD_MS = STORE === 'postgres' ? 1000 : 0;

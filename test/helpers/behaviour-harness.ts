/**
 * Shared by the runner behaviour, error and sweeper tests: a Phaseline on a real SQLite file in a
 * temp dir (closed and removed after each test), a polling `waitFor`, raw-row readers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { waitFor } from './wait.ts';
import { createPhaseline, type Phaseline, type PhaselineOptions } from '../../src/phaseline.ts';
import { engineOf } from '../../src/internal.ts';
import type { Job, JobEvent } from '../../src/engine/job.ts';

const dirs: string[] = [];
const opened: Phaseline[] = [];
const cleanups: Array<() => void> = [];

/** A new database file in a new temp dir. */
export function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'phaseline-behaviour-'));
  dirs.push(dir);
  return join(dir, 'jobs.db');
}

/** A Phaseline on `file` (default: a new temp file); closed after the test whatever happens. */
export function open(options: PhaselineOptions = {}): Phaseline {
  const p = createPhaseline({ file: tempFile(), ...options });
  opened.push(p);
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
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export { waitFor };

/** Wait until the job is in `state` (wire spelling) and return it. */
export function waitForState(p: Phaseline, id: number, state: string | ((job: Job) => boolean), timeoutMs = 3000): Promise<Job> {
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

/** `SELECT *` of the job's row, bypassing every layer above SQLite. */
export function rawRow(p: Phaseline, id: number): Record<string, unknown> | undefined {
  return engineOf(p).store.database.sqlite.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Record<string, unknown> | undefined;
}

/** `SELECT *` of the job's history rows, in order. */
export function rawHistory(p: Phaseline, id: number): Array<Record<string, unknown>> {
  return engineOf(p).store.database.sqlite.prepare('SELECT * FROM job_events WHERE job_id = ? ORDER BY seq').all(id) as Array<Record<string, unknown>>;
}

export function countRows(p: Phaseline, table: 'jobs' | 'job_events' = 'jobs'): number {
  return (engineOf(p).store.database.sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
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

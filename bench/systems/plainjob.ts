/**
 * plainjob 0.0.14 (SQLite through better-sqlite3, embedded): the same kind of engine as Phaseline.
 * It sets `synchronous = NORMAL` itself; for FULL the bench sets the pragma on its connection after
 * `defineQueue`. Its worker polls; `pollIntervall` is set to the bench's poll interval.
 */
import Database from 'better-sqlite3';
import { better, defineQueue, defineWorker, JobStatus, type Logger, type Queue } from 'plainjob';
import { ensureDir, removeDatabase } from '../lib/files.ts';
import type { OpenOptions, Payload, QueueHandle, SystemAdapter, WorkerHandle } from './types.ts';

const TYPE = 'bench';

/** Like plainjob's own bench: errors and warnings shown, info and debug dropped. */
const logger: Logger = { error: console.error, warn: console.warn, info: () => {}, debug: () => {} };

class PlainjobHandle implements QueueHandle {
  readonly #db: Database.Database;
  readonly #queue: Queue;
  readonly #pollMs: number;
  readonly #busy: Database.Statement;
  /** plainjob's worker loop rethrows what its queries throw (SQLITE_BUSY after the 5 s busy timeout). */
  #failure: unknown = null;

  constructor(file: string, options: OpenOptions) {
    this.#db = new Database(file);
    this.#queue = defineQueue({ connection: better(this.#db), logger });
    if (options.durability === 'FULL') this.#db.pragma('synchronous = FULL');
    this.#pollMs = options.pollMs;
    // Walks idx_jobs_status_type_next_run_at and stops at the first row.
    this.#busy = this.#db
      .prepare(`SELECT EXISTS (SELECT 1 FROM plainjob_jobs WHERE status = ${JobStatus.Pending}) OR EXISTS (SELECT 1 FROM plainjob_jobs WHERE status = ${JobStatus.Processing})`)
      .pluck();
  }

  async enqueueOne(data: Payload): Promise<void> {
    this.#queue.add(TYPE, data);
  }

  async enqueueMany(items: Payload[]): Promise<void> {
    this.#queue.addMany(TYPE, items);
  }

  async busy(): Promise<boolean> {
    if (this.#failure) throw new Error(`plainjob's worker stopped: ${String(this.#failure)}`);
    return this.#busy.get() === 1;
  }

  async succeeded(): Promise<number> {
    return this.#queue.countJobs({ status: JobStatus.Done });
  }

  async worker(onStart?: (data: Payload) => void): Promise<WorkerHandle> {
    const worker = defineWorker(
      TYPE,
      onStart ? (job) => void onStart(JSON.parse(job.data) as Payload) : async () => {},
      { queue: this.#queue, logger, pollIntervall: this.#pollMs },
    );
    let loop: Promise<void> = Promise.resolve();
    return {
      run: () => {
        loop = worker.start().catch((error: unknown) => {
          this.#failure = error;
        });
      },
      stop: async () => {
        await worker.stop();
        await loop;
      },
    };
  }

  async seedHistory(total: number): Promise<void> {
    const open = this.#db.prepare(`SELECT count(*) FROM plainjob_jobs WHERE status <> ${JobStatus.Done}`).pluck().get() as number;
    if (open > 0) throw new Error(`seedHistory: ${open} plainjob jobs are not done`);
    const copy = this.#db.prepare(
      `INSERT INTO plainjob_jobs (type, data, status, failed_at, error, next_run_at, created_at)
       SELECT type, data, status, failed_at, error, next_run_at, created_at FROM plainjob_jobs ORDER BY id LIMIT @upto`,
    );
    let count = this.#queue.countJobs();
    if (count === 0) throw new Error('seedHistory: no done job to copy');
    while (count < total) {
      const upto = Math.min(count, total - count);
      copy.run({ upto });
      count += upto;
    }
  }

  async close(): Promise<void> {
    this.#queue.close(); // closes the connection too
  }
}

export const plainjob: SystemAdapter = {
  name: 'plainjob',
  label: 'plainjob 0.0.14',
  async open(target, options) {
    ensureDir(target);
    if (options.fresh) removeDatabase(target);
    return new PlainjobHandle(target, options);
  },
};

/**
 * graphile-worker 0.17.3 on the bench's PostgreSQL server, in a database of its own. Jobs are
 * added with WorkerUtils (`addJob`, `addJobs`: one `add_jobs` call per batch); the worker is
 * `run()` with a task list holding the no-op task, `concurrentJobs` at the row's concurrency and
 * `maxPoolSize` at max(10, concurrency + 2) (graphile-worker's own advice for its pool). Workers are
 * woken by LISTEN/NOTIFY on insert (its poll interval, 2 s by default, is kept: it only matters for
 * jobs scheduled in the future).
 *
 * Two rows: `graphile` with graphile-worker's defaults, unbatched (every job fetched and completed
 * in its own round trip), the figure Phaseline's goal is set against; `graphile-batched` with its
 * batching options on: `localQueue.size` concurrency + 1 (its release notes' advice) and
 * `completeJobBatchDelay` / `failJobBatchDelay` 0 (as on its performance page).
 *
 * graphile-worker deletes a job when it completes, so `succeeded` counts the jobs that are gone:
 * ids its identity sequence handed out (one per added job; no insert is ever rolled back here) minus
 * the rows left in `_private_jobs` (a permanently failed job stays there). `busy`: a row that may
 * still run (attempts < max_attempts).
 */
import { Logger, run, makeWorkerUtils, type Runner, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { Probe, systemDatabase } from '../lib/postgres.ts';
import type { Payload, QueueHandle, SystemAdapter, SystemName, WorkerHandle } from './types.ts';

const TASK = 'noop';

/** Errors and warnings shown, the rest (a line per worker started and stopped) dropped. */
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`graphile-worker ${level}: ${message}`);
});

class GraphileHandle implements QueueHandle {
  readonly #url: string;
  readonly #utils: WorkerUtils;
  readonly #probe: Probe;
  readonly #batched: boolean;

  constructor(url: string, utils: WorkerUtils, probe: Probe, batched: boolean) {
    this.#url = url;
    this.#utils = utils;
    this.#probe = probe;
    this.#batched = batched;
  }

  async enqueueOne(data: Payload): Promise<void> {
    await this.#utils.addJob(TASK, data);
  }

  async enqueueMany(items: Payload[]): Promise<void> {
    await this.#utils.addJobs(items.map((payload) => ({ identifier: TASK, payload })));
  }

  async busy(): Promise<boolean> {
    return this.#probe.flag('SELECT EXISTS (SELECT 1 FROM graphile_worker._private_jobs WHERE attempts < max_attempts) AS v');
  }

  async succeeded(): Promise<number> {
    const sequence = await this.#probe.text("SELECT pg_get_serial_sequence('graphile_worker._private_jobs', 'id') AS v");
    if (!sequence) throw new Error('graphile-worker: no id sequence on graphile_worker._private_jobs');
    // The name comes back quoted as needed.
    return this.#probe.count(
      `SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ${sequence})
            - (SELECT count(*) FROM graphile_worker._private_jobs) AS n`,
    );
  }

  async worker(onStart?: (data: Payload) => void, concurrency = 1): Promise<WorkerHandle> {
    // The connections are made here, before the go signal; run() itself (schema check, LISTEN, the
    // first fetch) is timed, as Phaseline's start() is.
    const size = Math.max(10, concurrency + 2);
    const pool = new pg.Pool({ connectionString: this.#url, max: size });
    // Errors of idle clients and of connected ones heard (graphile-worker asks a given pool for both).
    const onError = (error: Error) => console.error('graphile-worker pool error:', error.message);
    pool.on('error', onError);
    pool.on('connect', (client) => client.on('error', onError));
    const clients = await Promise.all(Array.from({ length: size }, () => pool.connect()));
    for (const client of clients) client.release();
    let runner: Promise<Runner> | null = null;
    return {
      run: () => {
        runner = run({
          pgPool: pool,
          noHandleSignals: true,
          taskList: { [TASK]: async (payload) => void onStart?.(payload as Payload) },
          preset: {
            worker: {
              logger,
              concurrentJobs: concurrency,
              ...(this.#batched ? { localQueue: { size: concurrency + 1 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } : {}),
            },
          },
        });
      },
      stop: async () => {
        try {
          if (runner) await (await runner).stop();
        } finally {
          await pool.end();
        }
      },
    };
  }

  async close(): Promise<void> {
    try {
      await this.#utils.release();
    } finally {
      await this.#probe.end();
    }
  }
}

function adapter(name: SystemName, label: string, batched: boolean): SystemAdapter {
  return {
    name,
    label,
    async open(target, options) {
      const url = await systemDatabase('graphile-worker', target, options);
      const utils = await makeWorkerUtils({ connectionString: url, logger });
      try {
        await utils.migrate();
        return new GraphileHandle(url, utils, await Probe.open(url), batched);
      } catch (error) {
        await utils.release();
        throw error;
      }
    },
  };
}

export const graphile = adapter('graphile', 'graphile-worker 0.17.3', false);
export const graphileBatched = adapter('graphile-batched', 'graphile-worker 0.17.3 batched', true);

/**
 * pg-boss 10.4.2 on the bench's PostgreSQL server, in a database of its own. Its defaults are kept
 * (maintenance and cron on, completed jobs kept in `pgboss.job` until archival after 12 hours), but
 * for the worker: v10 has no `teamSize`; its `work()` runs one polling loop that fetches up to
 * `batchSize` jobs, hands them to the handler as an array and completes them, then waits for the
 * polling interval before it fetches again. The bench sets `batchSize` to the row's concurrency (the
 * handler runs the batch's jobs at once, as pg-boss's author advises for concurrency in v10) and
 * `pollingIntervalSeconds` to 0.5, the least pg-boss accepts. pg-boss has no wake-up on insert.
 *
 * `busy` and `succeeded` read `pgboss.job` (the queue's partition) on a plain `pg` connection:
 * states created / retry / active are queued or running, `completed` is a success.
 */
import PgBoss from 'pg-boss';
import { Probe, systemDatabase } from '../lib/postgres.ts';
import { PGBOSS_POLL_SECONDS } from './index.ts';
import type { Payload, QueueHandle, SystemAdapter, WorkerHandle } from './types.ts';

const QUEUE = 'noop';

class PgBossHandle implements QueueHandle {
  readonly #boss: PgBoss;
  readonly #probe: Probe;

  constructor(boss: PgBoss, probe: Probe) {
    this.#boss = boss;
    this.#probe = probe;
  }

  async enqueueOne(data: Payload): Promise<void> {
    await this.#boss.send(QUEUE, data);
  }

  async enqueueMany(items: Payload[]): Promise<void> {
    await this.#boss.insert(items.map((data) => ({ name: QUEUE, data })));
  }

  async busy(): Promise<boolean> {
    return this.#probe.flag("SELECT EXISTS (SELECT 1 FROM pgboss.job WHERE name = $1 AND state < 'completed') AS v", [QUEUE]);
  }

  async succeeded(): Promise<number> {
    return this.#probe.count("SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'", [QUEUE]);
  }

  async worker(onStart?: (data: Payload) => void, concurrency = 1): Promise<WorkerHandle> {
    // The instance is started (connected, migrated, queue created) in open(): work() only adds a loop.
    let working: Promise<string> = Promise.resolve('');
    return {
      run: () => {
        working = this.#boss.work<Payload>(
          QUEUE,
          { batchSize: concurrency, pollingIntervalSeconds: PGBOSS_POLL_SECONDS },
          async (jobs) => {
            await Promise.all(jobs.map(async (job) => onStart?.(job.data)));
          },
        );
      },
      stop: async () => {
        await working;
        await this.#boss.offWork(QUEUE);
      },
    };
  }

  async close(): Promise<void> {
    try {
      // Waits for the jobs in hand, then closes its pool.
      await this.#boss.stop({ graceful: true, wait: true });
    } finally {
      await this.#probe.end();
    }
  }
}

export const pgboss: SystemAdapter = {
  name: 'pgboss',
  label: 'pg-boss 10.4.2',
  async open(target, options) {
    const url = await systemDatabase('pg-boss', target, options);
    const boss = new PgBoss({ connectionString: url });
    // An 'error' nobody hears would end the process.
    boss.on('error', (error) => console.error('pg-boss error:', error));
    try {
      await boss.start();
      await boss.createQueue(QUEUE); // v10: a queue must exist before send (does nothing when it does)
      return new PgBossHandle(boss, await Probe.open(url));
    } catch (error) {
      await boss.stop({ graceful: false }).catch(() => {});
      throw error;
    }
  },
};

/**
 * Phaseline on PostgreSQL, through the public facade only: `createPhaseline({ db: url })`, then
 * `ready()` (connected and migrated), the same no-op RIME job type as on SQLite
 * (phaseline-facade.ts), `enqueue`, `enqueueMany`, `start({ concurrency, pollIntervalMs })`,
 * `replayAll()`. The facade has no cheap "is anything queued or running" question and no counts, so
 * `busy` and `succeeded` are two read-only queries on a plain `pg` connection of the adapter's own
 * (the partial indexes jobs_claim and jobs_lease make the first O(1)).
 *
 * Durability is the server's: the bench sets `synchronous_commit` on this database as on every
 * system's (lib/postgres.ts).
 */
import { createPhaseline, type Phaseline } from '../../src/index.ts';
import { Probe, systemDatabase } from '../lib/postgres.ts';
import { PhaselineFacadeHandle } from './phaseline-facade.ts';
import type { OpenOptions, SystemAdapter } from './types.ts';

class PhaselinePgHandle extends PhaselineFacadeHandle {
  readonly #probe: Probe;

  constructor(phaseline: Phaseline, options: OpenOptions, probe: Probe) {
    super(phaseline, options.pollMs);
    this.#probe = probe;
  }

  async busy(): Promise<boolean> {
    return this.#probe.flag('SELECT EXISTS (SELECT 1 FROM jobs WHERE claimable) OR EXISTS (SELECT 1 FROM jobs WHERE running) AS v');
  }

  async succeeded(): Promise<number> {
    return this.#probe.count("SELECT count(*) AS n FROM jobs WHERE outcome = 'succeeded'");
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.#probe.end();
    }
  }
}

export const phaselinePg: SystemAdapter = {
  name: 'phaseline-pg',
  label: 'Phaseline (PostgreSQL)',
  async open(target, options) {
    const url = await systemDatabase('Phaseline on PostgreSQL', target, options);
    const phaseline = createPhaseline({ db: url });
    try {
      await phaseline.ready();
      // The job type is registered (in the constructor) before anything is enqueued or started.
      return new PhaselinePgHandle(phaseline, options, await Probe.open(url));
    } catch (error) {
      await phaseline.close();
      throw error;
    }
  },
};

/**
 * Lease expiry across hosts whose clocks disagree, with real processes on one database file.
 * Worker A holds live jobs (handlers that never return, leases kept by heartbeats). Worker B, its
 * clock an hour ahead (or behind), starts beside it: it must take none of A's leases over several
 * lease durations, since A renews them all along. Then A is SIGKILLed, and B must recover every job
 * and run it to success. Judged by each process's own clock, B would take every lease at once
 * when ahead, and wait an hour after A's death when behind.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../src/engine/job-types.ts';
import { engineOf } from '../src/internal.ts';
import { createPhaseline } from '../src/phaseline.ts';
import { LEASE_LIFECYCLES, LEASE_RUNNER, leaseType, registerLeaseTypes } from './fixtures/runner/lease-types.ts';
import { makeTempDir, sleep, spawnFixture, type Child } from './helpers/processes.ts';

const JOBS = 10;
const HOUR = 3_600_000;

interface LeaseRow {
  id: number;
  running: number;
  worker_id: string | null;
  lease_id: string | null;
  lease_expires_at: number | null;
}

describe('runner: lease expiry judged by no host\'s clock', () => {
  it.each([
    ['an hour ahead', HOUR],
    ['an hour behind', -HOUR],
  ])("a worker whose clock is %s takes no live lease, and recovers a dead worker's jobs", async (_what, offset) => {
    const temp = makeTempDir('phaseline-skew-');
    const children: Child[] = [];
    try {
      const file = join(temp.dir, 'jobs.db');
      const p = createPhaseline({ file });
      registerLeaseTypes(p, async () => {
        throw new Error('this process only enqueues');
      });
      const sqlite = engineOf(p).store.database.sqlite;
      const leases = () => sqlite.prepare('SELECT id, running, worker_id, lease_id, lease_expires_at FROM jobs ORDER BY id').all() as LeaseRow[];
      const ids: number[] = [];
      for (let i = 0; i < JOBS; i++) ids.push(await p.enqueue(leaseType(LEASE_LIFECYCLES[i % LEASE_LIFECYCLES.length]!), null));

      const a = spawnFixture('lease-worker.ts', [file, 'hold', String(JOBS)]);
      children.push(a);
      const aId = (await a.waitForLine(/^READY /)).split(' ')[2]!;
      const deadline = Date.now() + 10_000;
      while (!leases().every((r) => r.running === 1 && r.worker_id === aId)) {
        if (Date.now() > deadline) throw new Error(`A did not claim every job: ${JSON.stringify(leases())}\n${a.stderr()}`);
        await sleep(20);
      }
      const held = leases();

      const b = spawnFixture('lease-worker.ts', [file, 'finish', String(JOBS)], { env: { PHASELINE_CLOCK_OFFSET_MS: String(offset) } });
      children.push(b);
      const [, bPid, bId] = (await b.waitForLine(/^READY /)).split(' ');
      // Six lease durations with B polling every 20 ms: every job stays with A, under the lease it took.
      const watchUntil = Date.now() + 6 * LEASE_RUNNER.leaseMs;
      while (Date.now() < watchUntil) {
        const now = leases();
        for (const [i, row] of now.entries()) {
          expect({ id: row.id, running: row.running, worker: row.worker_id, lease: row.lease_id }, `B (clock ${offset} ms) took a live lease`).toEqual({
            id: held[i]!.id, running: 1, worker: aId, lease: held[i]!.lease_id,
          });
        }
        await sleep(20);
      }
      const renewed = leases();
      for (const [i, row] of renewed.entries()) {
        expect(row.lease_expires_at!, `A kept renewing job ${row.id}`).toBeGreaterThan(held[i]!.lease_expires_at!);
      }
      expect(sqlite.prepare("SELECT count(*) FROM job_events WHERE type IN ('LEASE_LOST', 'FAIL', 'TIMEOUT')").pluck().get()).toBe(0);
      expect(b.process.exitCode, 'B is still running').toBeNull();

      a.kill('SIGKILL');
      expect((await a.exited).signal).toBe('SIGKILL');
      const killedAt = Date.now();
      while (!(await p.list()).every((job) => job.terminal)) {
        if (Date.now() - killedAt > 15_000) throw new Error(`B did not recover A's jobs: ${JSON.stringify(leases())}\nB stderr:\n${b.stderr()}`);
        await sleep(20);
      }
      const recoveredMs = Date.now() - killedAt;

      for (const id of ids) {
        const job = await p.get(id);
        const where = `job ${id} (${job.lifecycle})`;
        expect({ outcome: job.outcome, result: job.result, attempt: job.attempt }, where).toEqual({ outcome: 'succeeded', result: { pid: Number(bPid) }, attempt: 2 });
        const history: JobEvent[] = await p.history(id);
        const actors = history.filter((e) => ['CLAIM', 'LEASE_LOST', 'SUCCEED'].includes(e.type)).map((e) => [e.type, e.actor]);
        expect(actors, where).toEqual([
          ['CLAIM', `${aId}/${held.find((r) => r.id === id)!.lease_id}`],
          ['LEASE_LOST', `${bId}/recovery`],
          ['CLAIM', expect.stringMatching(new RegExp(`^${bId}/`))],
          ['SUCCEED', expect.stringMatching(new RegExp(`^${bId}/`))],
        ]);
      }
      const summary = await p.replayAll();
      expect(summary.diverged, JSON.stringify(summary.reports.slice(0, 2), null, 2)).toBe(0);

      b.process.stdin!.write('stop\n');
      await b.waitForLine(/^STOPPED/, 10_000);
      expect((await b.exited).code).toBe(0);
      expect(b.stderr(), 'B reported no error').not.toMatch(/ERROR/);
      await p.close();
      console.log(`[runner.skew] clock ${offset > 0 ? '+' : ''}${offset} ms: no live lease taken in ${6 * LEASE_RUNNER.leaseMs} ms; ${JOBS} jobs recovered and done ${recoveredMs} ms after the kill`);
    } finally {
      for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.kill('SIGKILL');
      temp.remove();
    }
  }, 60_000);
});

/**
 * Three worker processes standing in for three hosts on one PostgreSQL database, a few hundred jobs
 * of durable steps and progress, and two of the hosts failing while they hold leases: host-a is
 * SIGKILLed; host-b is cut off from the server for twice its lease (every connection of its pool
 * and its LISTEN connection terminated with pg_terminate_backend, found by the application_name its
 * URL gives, again every 50 ms) and then let back. The others must recover what both held; host-b
 * must come back and work again, and every write it makes for a lease it lost must be refused.
 *
 * Terminating is not enough to cut a host off: its pool connects again within milliseconds, and a
 * heartbeat that gets through between two rounds keeps its leases. So host-b logs in as a role of
 * its own, which may not log in while it is cut off (ALTER ROLE … NOLOGIN).
 *
 * Then: no job lost (each succeeded), none completed twice (one SUCCEED event per job), every event
 * written under a lease written while that lease held the job (so no late write of the cut-off host
 * got through), histories contiguous, and replay 0 diverged.
 *
 * PostgreSQL only (the postgres project alone runs it, test/vitest.config.ts): SQLite has no
 * server to be cut off from, and one file cannot be shared by several hosts.
 */
import { describe, expect, it } from 'vitest';
import { createPhaseline } from '../src/phaseline.ts';
import { HOST_ATTEMPTS, HOST_LIFECYCLES, HOST_STEPS, hostType, registerHostTypes, type HostParams } from './fixtures/runner/host-types.ts';
import { seedFromEnv, sleep, spawnFixture, type Child } from './helpers/processes.ts';
import { openJobCount, openRawDb, type RawDb } from './support/raw-db.ts';
import { STORE, STORE_TAG, freshDatabase } from './support/stores.ts';

if (STORE !== 'postgres') throw new Error('runner.hosts.postgres.test.ts runs in the postgres project only');

const HOSTS = ['host-a', 'host-b', 'host-c'] as const;
type Host = (typeof HOSTS)[number];
const KILLED: Host = 'host-a';
const CUT: Host = 'host-b';
const JOBS = 300;
/** Enqueued in batches of BATCH jobs, one lifecycle per batch in turn, and every LONG_EVERY-th job long. */
const BATCH = 10;
const LONG_EVERY = 20;
const LEASE_MS = 1000;
/** Longer than the cut: a long step host-b began just before it ends after host-b is back. */
const LONG_MS = LEASE_MS * 2.5;
const CUT_MS = LEASE_MS * 2;
const CUT_EVERY_MS = 50;
/** What host-b's connections fail with while it is cut off, and nothing else. */
const CUT_OFF_ERRORS = /terminat|connection|ECONNRESET|EPIPE|not queryable|not permitted to log in/i;
const CONCURRENCY = 4;
/** Events that end an attempt: the lease is gone after them. */
const ENDS = new Set(['SUCCEED', 'FAIL', 'LEASE_LOST', 'RELEASE', 'TIMEOUT', 'CANCEL_DONE']);

interface EventRow {
  jobId: number;
  seq: number;
  at: number;
  type: string;
  actor: string | null;
}

/** `<host>/<leaseId>` for a worker's lease, `<host>/recovery` for its maintenance; null for clients. */
function actorOf(actor: string | null): { host: string; lease: string | null } | null {
  const match = actor === null ? null : /^([^/]+)\/(.+)$/.exec(actor);
  if (!match) return null;
  return { host: match[1]!, lease: match[2] === 'recovery' ? null : match[2]! };
}

/** The URL with this application_name and, when given, this user (whose password is its name). */
function urlFor(url: string, applicationName: string, user?: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', applicationName);
  if (user !== undefined) {
    parsed.username = user;
    parsed.password = user;
  }
  return parsed.toString();
}

async function runningOn(raw: RawDb, host: Host): Promise<number> {
  return (await raw.all<{ n: number }>('SELECT count(*) AS n FROM jobs WHERE running AND worker_id = ?', [host]))[0]!.n;
}

/** Terminate every backend of this database whose application_name is `name`; how many there were. */
async function terminate(raw: RawDb, name: string): Promise<number> {
  const rows = await raw.all<{ done: number }>(
    'SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?',
    [name],
  );
  return rows.filter((r) => r.done === 1).length;
}

/** The refused writes a host reported: `FENCED <jobId> <leaseId> <what>`. */
function fencedOf(child: Child): Array<{ jobId: number; leaseId: string; what: string }> {
  return child.lines
    .filter((l) => l.startsWith('FENCED '))
    .map((l) => {
      const [, jobId, leaseId, ...what] = l.split(' ');
      return { jobId: Number(jobId), leaseId: leaseId!, what: what.join(' ') };
    });
}

describe(`runner: three hosts on one server, one killed and one cut off ${STORE_TAG}`, () => {
  it(`${JOBS} jobs: none lost, none completed twice, every late write of the cut-off host fenced, replay 0 diverged`, async () => {
    const seed = seedFromEnv();
    const started = Date.now();
    const db = await freshDatabase();
    const p = createPhaseline({ db });
    const raw = await openRawDb(db);
    const children = new Map<Host, Child>();
    // The cut-off host's own role, named after the test's database (roles are the server's, not a database's).
    const role = `${new URL(db).pathname.slice(1)}_cut`;
    await raw.all(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${role}'`);
    try {
      registerHostTypes(p, async () => {
        throw new Error('this process only enqueues');
      });
      // In claim order, the long jobs spread over the run and the lifecycles.
      const ids: number[] = [];
      for (let b = 0; b < JOBS / BATCH; b++) {
        const items = Array.from({ length: BATCH }, (_, i): { params: HostParams } => {
          const n = b * BATCH + i;
          return { params: { n, long: n % LONG_EVERY === LONG_EVERY / 2 } };
        });
        ids.push(...(await p.enqueueMany(hostType(HOST_LIFECYCLES[b % HOST_LIFECYCLES.length]!), items)));
      }
      expect(ids).toHaveLength(JOBS);

      for (const [i, host] of HOSTS.entries()) {
        const args = [urlFor(db, host, host === CUT ? role : undefined), host, String(CONCURRENCY), String(LEASE_MS), String(LONG_MS), String(seed + i)];
        children.set(host, spawnFixture('host-worker.ts', args));
      }
      for (const child of children.values()) await child.waitForLine(/^READY /, 30_000);
      const killed = children.get(KILLED)!;
      const cut = children.get(CUT)!;

      // host-b has just begun a long step (it will want to write after the cut), and host-a holds leases.
      await cut.waitForLine(/^LONG /, 30_000);
      const heldByKilled = await runningOn(raw, KILLED);
      const heldByCut = await runningOn(raw, CUT);
      expect(heldByKilled, `${KILLED} holds leases when killed`).toBeGreaterThan(0);
      expect(heldByCut, `${CUT} holds leases when cut off`).toBeGreaterThan(0);
      killed.kill('SIGKILL');
      const killedAt = Date.now() - started;

      const cutStart = Date.now();
      await raw.all(`ALTER ROLE ${role} NOLOGIN`);
      let terminated = 0;
      while (Date.now() - cutStart < CUT_MS) {
        terminated += await terminate(raw, CUT);
        await sleep(CUT_EVERY_MS);
      }
      await raw.all(`ALTER ROLE ${role} LOGIN`);
      const cutEnd = Date.now();
      expect((await killed.exited).signal, `${KILLED} was still running when killed`).toBe('SIGKILL');
      expect(terminated, `connections of ${CUT} terminated`).toBeGreaterThan(0);

      const deadline = Date.now() + 60_000;
      while ((await openJobCount(raw)) > 0) {
        if (Date.now() > deadline) throw new Error(`${await openJobCount(raw)} jobs still open after 60 s`);
        await sleep(50);
      }
      const drainedMs = Date.now() - started;

      // Both surviving hosts are alive (no unhandled error ended one) and stop cleanly.
      for (const host of [CUT, 'host-c'] as const) {
        const child = children.get(host)!;
        expect(child.process.exitCode, `${host} is alive; stderr:\n${child.stderr()}`).toBeNull();
        child.process.stdin!.write('stop\n');
        await child.waitForLine(/^STOPPED /, 15_000);
        expect((await child.exited).code, `${host} stderr:\n${child.stderr()}`).toBe(0);
      }
      expect(children.get('host-c')!.stderr(), 'host-c reported no error').not.toMatch(/ERROR/);
      // host-b's errors are its lost connections, nothing else.
      const cutErrors = cut.stderr().split('\n').filter((l) => l.startsWith('ERROR '));
      for (const line of cutErrors) expect(line, `${CUT}: an error of its lost connections`).toMatch(CUT_OFF_ERRORS);

      // ── Every job's history.
      const jobs = await p.list();
      expect(jobs.map((j) => j.id).sort((a, b) => a - b)).toEqual(ids);
      const events = await raw.all<EventRow>('SELECT job_id AS "jobId", seq, at, type, actor FROM job_events ORDER BY job_id, seq');
      const historyOf = new Map<number, EventRow[]>();
      for (const e of events) historyOf.set(e.jobId, [...(historyOf.get(e.jobId) ?? []), e]);

      const succeededBy = new Map<string, number>(HOSTS.map((h) => [h, 0]));
      /** Recoveries by the host whose lease was recovered. */
      const recoveredFrom = new Map<string, number>(HOSTS.map((h) => [h, 0]));
      /** Leases of each job that a recovery ended, with the seq of that recovery. */
      const recovered = new Map<string, { jobId: number; seq: number }>();
      let cutClaimsAfter = 0;
      for (const job of jobs) {
        const where = `job ${job.id} (${job.lifecycle})`;
        expect(job.terminal && job.outcome, `${where}: ${job.state} ${JSON.stringify(job.errors)}`).toBe('succeeded');
        expect(job.progress.percent, where).toBe(100);
        const history = historyOf.get(job.id)!;
        expect(history.map((e) => e.seq), `${where}: seq 1..n`).toEqual(history.map((_, i) => i + 1));
        expect(job.version, where).toBe(history.length);
        expect(history.filter((e) => e.type === 'SUCCEED').length, `${where} succeeded exactly once`).toBe(1);
        expect(job.attempt, where).toBeLessThanOrEqual(HOST_ATTEMPTS);

        // Walk the history: who holds the job after each event. An event under a lease must be
        // written while that lease holds the job; a late write of a host that lost it would not be.
        let holder: { host: string; lease: string } | null = null;
        for (const e of history) {
          const by = actorOf(e.actor);
          if (e.type === 'CLAIM') {
            expect(holder, `${where}: claimed at seq ${e.seq} while held by ${JSON.stringify(holder)}`).toBeNull();
            expect(by?.lease, `${where}: CLAIM by a worker lease (${e.actor})`).toBeTruthy();
            holder = { host: by!.host, lease: by!.lease! };
            if (holder.host === CUT && e.at > cutEnd) cutClaimsAfter++;
          } else if (by?.lease) {
            expect(by.lease, `${where}: ${e.type} at seq ${e.seq} by lease ${by.lease} (${by.host}), which does not hold the job`).toBe(holder?.lease);
          }
          if (e.type === 'SUCCEED') succeededBy.set(holder!.host, succeededBy.get(holder!.host)! + 1);
          if (e.type === 'LEASE_LOST') {
            expect(holder, `${where}: a recovery at seq ${e.seq} of a lease`).not.toBeNull();
            expect(e.actor, `${where}: recovered by a worker's maintenance`).toMatch(/\/recovery$/);
            recoveredFrom.set(holder!.host, recoveredFrom.get(holder!.host)! + 1);
            recovered.set(holder!.lease, { jobId: job.id, seq: e.seq });
          }
          if (ENDS.has(e.type)) holder = null;
        }
        expect(holder, `${where}: no lease left`).toBeNull();
        expect(job.result, where).toEqual({ host: history.findLast((e) => e.type === 'CLAIM')!.actor!.split('/')[0] });
        expect(Object.keys(job.steps).sort(), where).toEqual([...HOST_STEPS].sort());
      }

      // The failures did take leases away, and the others recovered them.
      expect(recoveredFrom.get(KILLED), `leases of ${KILLED} recovered`).toBeGreaterThan(0);
      expect(recoveredFrom.get(CUT), `leases of ${CUT} recovered`).toBeGreaterThan(0);
      // host-b reconnected and worked again.
      expect(cutClaimsAfter, `claims by ${CUT} after the cut`).toBeGreaterThan(0);
      // Its late writes were refused, each for a lease a recovery had ended.
      const fenced = fencedOf(cut);
      expect(fenced.length, `late writes of ${CUT} refused`).toBeGreaterThan(0);
      for (const f of fenced) expect(recovered.get(f.leaseId)?.jobId, `${CUT}'s refused write for job ${f.jobId}: its lease was recovered`).toBe(f.jobId);
      const fencedC = fencedOf(children.get('host-c')!);

      const summary = await p.replayAll();
      expect(summary.jobs).toBe(JOBS);
      expect(summary.diverged, JSON.stringify(summary.reports.slice(0, 3), null, 2)).toBe(0);
      console.log(
        `[runner.hosts] ${STORE_TAG} ${JOBS} jobs (${JOBS / LONG_EVERY} long), seed ${seed}: succeeded by ${HOSTS.map((h) => `${h} ${succeededBy.get(h)}`).join(', ')}; ` +
          `${KILLED} killed at ${killedAt} ms holding ${heldByKilled}, ${CUT} cut off holding ${heldByCut} for ${cutEnd - cutStart} ms (${terminated} connections terminated); ` +
          `recovered ${recoveredFrom.get(KILLED)} leases of ${KILLED}, ${recoveredFrom.get(CUT)} of ${CUT}, ${recoveredFrom.get('host-c')} of host-c; ` +
          `${fenced.length} late writes of ${CUT} fenced (${fenced.map((f) => f.what).join(', ')}), ${fencedC.length} of host-c; ` +
          `${CUT} claimed ${cutClaimsAfter} after the cut, ${cutErrors.length} errors reported; drained in ${drainedMs} ms; ${summary.events} events; ${Date.now() - started} ms`,
      );
    } finally {
      for (const child of children.values()) if (child.process.exitCode === null && child.process.signalCode === null) child.kill('SIGKILL');
      await Promise.all([...children.values()].map((child) => child.exited));
      await raw.all(`DROP ROLE ${role}`);
      await raw.close();
      await p.close();
    }
  }, 120_000);
});

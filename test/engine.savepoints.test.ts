/**
 * A batch of sends (the runner's final writes) is one transaction with a savepoint per send: a
 * send that fails after it has written must undo its own writes only. Here the second send's
 * UPDATE of its row succeeds and its event INSERT then fails (a conflicting history row put there
 * by hand), so only a real savepoint leaves that row as it was while the others commit.
 */
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { Engine, type QueuedSend } from '../src/engine/engine.ts';

describe('batched sends', () => {
  it('a send that fails after writing its row is undone alone; the batch commits the rest, and notifies only for them', () => {
    const database = openDatabase(':memory:');
    const engine = new Engine(new SqliteStore(database));
    const ids = [1, 2, 3].map((n) => engine.create({ lifecycle: 'rime', type: 'job', input: { params: n } }).id);
    const before = ids.map((id) => engine.find(id)!);
    // The next event of job 2 will want seq version+1: take that key first.
    database.sqlite
      .prepare("INSERT INTO job_events (job_id, seq, at, type, state_after) VALUES (?, ?, 0, 'HAND', 'X')")
      .run(ids[1], before[1]!.version + 1);
    const notified: number[] = [];
    engine.onTransition(({ job }) => notified.push(job.id));
    const refused: number[] = [];
    const sends = ids.map((jobId) => (): QueuedSend => ({ jobId, event: { type: 'CANCEL' }, options: {} }));
    engine.sendEachThenClaim(sends, (send) => refused.push(send.jobId), () => ({ limit: 0, types: [], leaseFor: () => ({ leaseId: null, leaseExpiresAt: null, workerId: null, actor: null }) as never }));

    expect(refused).toEqual([ids[1]]);
    expect(notified).toEqual([ids[0], ids[2]]);
    const after = ids.map((id) => engine.find(id)!);
    expect(after[0]!.state).toBe('JOB_STATUS_CANCELLED');
    expect(after[2]!.state).toBe('JOB_STATUS_CANCELLED');
    expect(after[1]).toEqual(before[1]); // its UPDATE was undone with its savepoint
    // The cache must not keep the undone send's snapshot either: once the conflict is gone, the
    // next send starts from the stored row, at its version.
    database.sqlite.prepare("DELETE FROM job_events WHERE type = 'HAND'").run();
    const cancelled = engine.send(ids[1]!, { type: 'CANCEL' }, {});
    expect(cancelled).toMatchObject({ state: 'JOB_STATUS_CANCELLED', version: before[1]!.version + 1 });
    database.sqlite.close();
  });
});

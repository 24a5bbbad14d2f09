/**
 * Replay over worker threads gives what replay on one thread gives: the same counts, the same
 * divergences, on a real file with jobs of every lifecycle in several states (the workers alone, and
 * the workers with the calling thread); and a database whose engine knows a user's machine (which
 * cannot cross to a thread) is replayed on the calling thread.
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInLifecycles } from '../machines/index.ts';
import { createPhaseline, type Phaseline } from '../src/index.ts';
import { replayAll } from '../src/replay/replay.ts';
import { engineOf } from '../src/internal.ts';
import { lifecycleOf } from './support/lifecycles.ts';
import { tempDir } from './support/sqlite.ts';

const JOBS = 5_000; // three chunks of 2,000 ids: the calling thread and a worker both take some

let dir: string;
beforeAll(() => {
  dir = tempDir('replay-parallel');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Jobs of all five lifecycles: queued, running, succeeded, failed, cancelled. */
function fill(p: Phaseline): void {
  const engine = engineOf(p);
  const names = Object.keys(builtInLifecycles);
  engine.transaction(() => {
    for (let i = 0; i < JOBS; i++) {
      const lifecycle = names[i % names.length]!;
      const { id } = engine.create({ lifecycle, type: `t-${lifecycle}`, input: { params: { i } } });
      const fate = i % 5;
      if (fate === 0) continue; // stays queued
      if (fate === 4) {
        engine.send(id, { type: 'CANCEL' });
        continue;
      }
      const lease = { leaseId: `L${i}`, leaseExpiresAt: Date.now() + 60_000, workerId: 'w' };
      engine.send(id, { type: 'CLAIM' }, { lease });
      if (lifecycle === 'qiskit') engine.send(id, { type: 'VALIDATED' }, { fence: lease });
      engine.send(id, { type: 'PROGRESS', percent: 40, message: 'working' }, { fence: lease });
      if (fate === 2) engine.send(id, { type: 'SUCCEED', result: { n: i } }, { fence: lease });
      if (fate === 3) engine.send(id, { type: 'FAIL', error: { message: 'no', kind: 'fatal' } }, { fence: lease });
    }
  });
}

describe('replayAll over worker threads', () => {
  it('counts the same jobs and events as one thread and finds nothing wrong', async () => {
    const file = join(dir, 'all.db');
    const p = createPhaseline({ file });
    fill(p);
    const one = replayAll(engineOf(p));
    // All chunks to the two workers: the calling thread only hands them out.
    const workers = await p.replayAll({ threads: 2, useCallingThread: false });
    const mixed = await p.replayAll({ threads: 2 });
    await p.close();
    expect(one.jobs).toBe(JOBS);
    expect(one.events).toBeGreaterThan(JOBS * 3);
    expect(workers.threads).toBeGreaterThanOrEqual(1);
    expect({ ...workers, threads: 1 }).toEqual(one);
    expect({ ...mixed, threads: 1 }).toEqual(one);
    expect(one.diverged).toBe(0);
  });

  it('reports the same divergences as one thread, in job order', async () => {
    const file = join(dir, 'corrupt.db');
    const p = createPhaseline({ file });
    fill(p);
    await p.close();
    // Edit rows behind the engine's back, in chunks the calling thread and the worker both take.
    const sqlite = new Database(file);
    sqlite.prepare("UPDATE jobs SET progress_message = 'edited' WHERE id IN (3, 2500, 4999)").run();
    sqlite.prepare('DELETE FROM job_events WHERE job_id = 4100 AND seq = 1').run();
    sqlite.close();
    const again = createPhaseline({ file });
    const one = replayAll(engineOf(again));
    const two = await again.replayAll({ threads: 2, useCallingThread: false });
    await again.close();
    expect(one.diverged).toBe(4);
    expect(two.threads).toBeGreaterThanOrEqual(1);
    expect({ ...two, threads: 1 }).toEqual(one);
    expect(two.reports.map((r) => r.jobId)).toEqual([3, 2500, 4100, 4999]);
  });

  it('replays on the calling thread when the engine knows a user machine', async () => {
    const note = lifecycleOf(
      'note',
      {
        open: { tags: ['queued'], on: { CLAIM: { target: 'writing', actions: 'apply' } } },
        writing: { tags: ['running'], on: { SUCCEED: { target: 'done', actions: 'apply' } } },
        done: { tags: ['terminal', 'succeeded'], type: 'final' },
      },
      'open',
    );
    const file = join(dir, 'user.db');
    const p = createPhaseline({ file, lifecycles: [note] });
    fill(p);
    engineOf(p).transaction(() => {
      for (let i = 0; i < 50; i++) engineOf(p).create({ lifecycle: 'note', type: 'note', input: { params: i } });
    });
    // A worker thread knows only the built-in machines: it would report the note jobs as
    // "not registered". Replayed here, they are fine.
    const summary = await p.replayAll({ threads: 2, useCallingThread: false });
    await p.close();
    expect(summary.jobs).toBe(JOBS + 50);
    expect(summary.diverged).toBe(0);
    expect(summary.threads).toBe(1);
  });
});

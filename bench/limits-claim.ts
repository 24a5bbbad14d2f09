/**
 * How long a claim takes on SQLite when one concurrency key is saturated and holds a backlog of
 * 100,000 queued jobs ahead (in claim order) of other keys' jobs: the claim reads that key's
 * counter row, never its queued jobs. Printed beside the same claim with no backlog, and beside a
 * claim without limits on the same table. Run: `npx tsx bench/limits-claim.ts` (about 30 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtInLifecycles } from '../machines/index.ts';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { Engine } from '../src/engine/engine.ts';
import { LifecycleRegistry } from '../src/engine/lifecycles.ts';
import type { TypeLimits } from '../src/engine/limits.ts';
import { newLeaseId } from '../src/runner/leases.ts';

const BACKLOG = Number(process.argv[2] ?? 100_000);
const limits: Record<string, TypeLimits> = { keyed: { concurrency: null, rateLimit: null, keyConcurrency: 1 } };
const lease = (now: number) => {
  const leaseId = newLeaseId(30_000);
  return { leaseId, leaseExpiresAt: now + 30_000, workerId: 'bench', actor: `bench/${leaseId}` };
};

function measure(label: string, backlog: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'phaseline-limits-bench-'));
  try {
    const engine = new Engine(new SqliteStore(openDatabase(join(dir, 'b.db'))), {
      lifecycles: new LifecycleRegistry(Object.values(builtInLifecycles)),
      limits: (type) => limits[type],
    });
    const item = (key: string) => ({ lifecycle: 'rime', type: 'keyed', input: { params: null }, concurrencyKey: key });
    // The saturated key: one job running, then its backlog, all ahead of the other keys' jobs.
    engine.createMany([item('big')]);
    if (engine.claimDue(1, ['keyed'], lease).length !== 1) throw new Error('the first job was not claimed');
    for (let done = 0; done < backlog; done += 10_000) engine.createMany(Array.from({ length: Math.min(10_000, backlog - done) }, () => item('big')));
    const others = 2_000;
    for (let i = 0; i < others; i += 1000) engine.createMany(Array.from({ length: 1000 }, (_, j) => item(`small-${i + j}`)));
    const samples: number[] = [];
    let claimed = 0;
    for (let round = 0; round < 200; round++) {
      const start = performance.now();
      const jobs = engine.claimDue(8, ['keyed'], lease);
      samples.push(performance.now() - start);
      claimed += jobs.length;
      if (jobs.some((job) => job.concurrencyKey === 'big')) throw new Error('a job of the saturated key was claimed');
    }
    // For comparison: the plain claim index filtered by key walks past the whole backlog.
    const sqlite = engine.store.database.sqlite;
    const scan = sqlite.prepare("SELECT id FROM jobs WHERE claimable = 1 AND concurrency_key <> 'big' ORDER BY priority DESC, id LIMIT 8");
    const scans: number[] = [];
    for (let i = 0; i < 20; i++) {
      const start = performance.now();
      scan.all();
      scans.push(performance.now() - start);
    }
    scans.sort((a, b) => a - b);
    samples.sort((a, b) => a - b);
    const at = (q: number) => samples[Math.floor(q * (samples.length - 1))]!.toFixed(3);
    console.log(`${label}: ${backlog.toLocaleString('en')} queued jobs of the saturated key; claims of 8 from other keys: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms (${claimed} claimed in ${samples.length} claims); a claim index walk filtered by key instead: p50 ${scans[10]!.toFixed(3)} ms`);
    engine.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

measure('no backlog', 0);
measure('backlog', BACKLOG);

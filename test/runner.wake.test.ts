/**
 * Wake-ups across processes on SQLite (src/db/sqlite-wake.ts), with real processes on a real file
 * in a folder whose name has spaces: an idle worker in another process, polling only every 10 s,
 * starts an enqueued job at once; a drain by two processes is timed with and without wake-ups;
 * and a worker process ends by itself once Phaseline is closed (no watcher or timer left behind).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineOf } from '../src/internal.ts';
import { createPhaseline, type Phaseline } from '../src/phaseline.ts';
import { registerWakeType, WAKE_TYPE, wallNow } from './fixtures/runner/wake-types.ts';
import { makeTempDir, sleep, spawnFixture, type Child } from './helpers/processes.ts';

const onlyEnqueues = async (): Promise<never> => {
  throw new Error('this process only enqueues');
};

function openParent(file: string): Phaseline {
  const p = createPhaseline({ file }); // creates and migrates the file before the workers open it
  registerWakeType(p, onlyEnqueues);
  return p;
}

function countSql(p: Phaseline, where: string): number {
  return engineOf(p).store.database.sqlite.prepare(`SELECT count(*) FROM jobs WHERE ${where}`).pluck().get() as number;
}

/** Send `stop`, close stdin, and expect the process to print STOPPED and then end on its own. */
async function stopAndExit(worker: Child): Promise<{ wakes: number }> {
  worker.process.stdin!.end('stop\n');
  const [, errors, wakes] = (await worker.waitForLine(/^STOPPED /, 15_000)).split(' ');
  const exit = await Promise.race([worker.exited, sleep(10_000).then(() => null)]);
  expect(exit, `worker ${worker.pid} still alive 10 s after Phaseline closed: a handle keeps it`).not.toBeNull();
  expect(exit, `worker ${worker.pid} stderr:\n${worker.stderr()}`).toEqual({ code: 0, signal: null });
  expect(Number(errors), worker.stderr()).toBe(0);
  return { wakes: Number(wakes) };
}

function killLeft(workers: readonly Child[]): void {
  for (const w of workers) if (w.process.exitCode === null && w.process.signalCode === null) w.kill('SIGKILL');
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
};

describe('SQLite: wake-ups across processes', () => {
  it('an idle worker in another process starts an enqueued job at once, not at its 10 s poll', async () => {
    const POLL_MS = 10_000;
    const temp = makeTempDir('phaseline wake ');
    const workers: Child[] = [];
    try {
      const file = join(temp.dir, 'jobs.db');
      const p = openParent(file);
      const worker = spawnFixture('wake-worker.ts', [file, '1', String(POLL_MS), 'on']);
      workers.push(worker);
      await worker.waitForLine(/^READY /);
      worker.process.stdin!.write('go\n');
      await worker.waitForLine(/^IDLE$/); // its first poll found nothing: from now on it waits 10 s
      const latencies: number[] = [];
      for (let i = 0; i < 10; i++) {
        await sleep(20 + Math.floor(Math.random() * 100));
        const id = await p.enqueue(WAKE_TYPE, { t: wallNow() });
        const line = await worker.waitForLine(new RegExp(`^START ${id} `), POLL_MS + 5_000);
        latencies.push(Number(line.split(' ')[2]));
      }
      console.log(
        `[runner.wake] enqueue → start in another process (pollIntervalMs ${POLL_MS}): ` +
          `p50 ${median(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (${latencies.map((l) => l.toFixed(1)).join(', ')})`,
      );
      // Loose on purpose: this says "woken, not polled", on a loaded machine; it is not a benchmark.
      for (const latency of latencies) expect(latency).toBeLessThan(1000);
      const deadline = Date.now() + 10_000;
      while (countSql(p, "outcome = 'succeeded'") < latencies.length && Date.now() < deadline) await sleep(10);
      expect(countSql(p, "outcome = 'succeeded'")).toBe(latencies.length);
      const { wakes } = await stopAndExit(worker);
      expect(wakes).toBeGreaterThanOrEqual(latencies.length);
      await p.close();
    } finally {
      killLeft(workers);
      temp.remove();
    }
  }, 120_000);

  it('a drain of 3000 jobs by two processes: no slower with wake-ups (printed, not asserted)', async () => {
    const JOBS = 3000;
    const PROCESSES = 2;
    const temp = makeTempDir('phaseline wake drain ');
    const workers: Child[] = [];
    const timings: Record<'on' | 'off', number[]> = { on: [], off: [] };
    const wakesPerSecond: number[] = [];
    try {
      // Alternating, so that the machine's drift over minutes falls on both alike.
      for (const [round, wake] of (['off', 'on', 'off', 'on', 'off', 'on'] as const).entries()) {
        const file = join(temp.dir, `drain-${round}.db`);
        const p = openParent(file);
        for (let at = 0; at < JOBS; at += 500) {
          await p.enqueueMany(WAKE_TYPE, Array.from({ length: 500 }, (_, i) => ({ params: { n: at + i } })));
        }
        const round_ = Array.from({ length: PROCESSES }, () => spawnFixture('wake-worker.ts', [file, '32', '50', wake]));
        workers.push(...round_);
        for (const w of round_) await w.waitForLine(/^READY /);
        const started = performance.now();
        for (const w of round_) w.process.stdin!.write('go\n');
        const deadline = Date.now() + 120_000;
        while (countSql(p, 'ended_at IS NULL') > 0) {
          if (Date.now() > deadline) throw new Error(`${countSql(p, 'ended_at IS NULL')} jobs still open after 120 s`);
          await sleep(5);
        }
        const ms = performance.now() - started;
        timings[wake].push(ms);
        for (const w of round_) {
          const { wakes } = await stopAndExit(w);
          if (wake === 'on') wakesPerSecond.push(Math.round((wakes * 1000) / ms));
        }
        expect(countSql(p, "outcome = 'succeeded'")).toBe(JOBS);
        await p.close();
      }
      const show = (list: number[]) => list.map((ms) => `${Math.round(ms)} ms`).join(', ');
      console.log(
        `[runner.wake] drain of ${JOBS} jobs by ${PROCESSES} processes (32 at once, poll 50 ms): ` +
          `without wake-ups ${show(timings.off)}; with ${show(timings.on)} ` +
          `(with/without, medians: ${(median(timings.on) / median(timings.off)).toFixed(2)}); ` +
          `wakes per second per process while draining: ${wakesPerSecond.join(', ')}`,
      );
    } finally {
      killLeft(workers);
      temp.remove();
    }
  }, 300_000);
});

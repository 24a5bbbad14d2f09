/**
 * Replay of a whole database over worker threads. Replay is read-only and CPU-bound (an XState
 * transition per event), so on a machine with several cores the id range is cut into chunks that
 * the calling thread and the workers take in turn; SQLite's WAL gives each its own consistent view.
 * The calling thread starts at once while the workers load their modules; on a small database one
 * thread is still faster, hence the default below.
 *
 * A worker thread cannot receive a user's machine (functions do not cross threads): a database
 * whose engine knows any lifecycle besides the built-in ones replays on the calling thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { builtInLifecycles } from '../../machines/index.ts';
import type { Engine } from '../engine/engine.ts';
import { replayAll, replayRange, type ReplaySummary } from './replay.ts';
import type { ParallelReplayOptions } from './types.ts';

/** Jobs per chunk: small enough to balance the threads, large enough to read in few pages. */
const CHUNK = 2_000;
/**
 * Below this many jobs one thread is faster: a worker spends about half a second loading its
 * modules, on the core the calling thread would otherwise have to itself. Measured here: 32,000
 * jobs replay at about 75,000 events/s on one thread and 60,000 with a worker; 100,000 jobs at
 * about 70,000 on one thread and 88,000 with a worker.
 */
const THREADS_FROM_JOBS = 100_000;

export type { ParallelReplayOptions } from './types.ts';

/** Messages between the calling thread and a replay worker (src/replay/thread.ts). */
export type ToWorker = { file: string } | { from: number; to: number } | { done: true };
export type FromWorker = { ready: true } | { summary: ReplaySummary } | { error: string };

export async function replayAllThreads(engine: Engine, options: ParallelReplayOptions = {}): Promise<ReplaySummary> {
  const range = engine.idRange();
  const large = range !== null && range.max - range.min + 1 >= THREADS_FROM_JOBS;
  const threads = Math.max(1, Math.floor(options.threads ?? (large ? Math.min(4, availableParallelism()) : 1)));
  const builtIn = new Set<unknown>(Object.values(builtInLifecycles));
  const { file } = engine.store;
  if (threads === 1 || file === null || range === null || !engine.lifecycles.all().every((l) => builtIn.has(l))) {
    return replayAll(engine);
  }
  let next = range.min;
  const take = (): { from: number; to: number } | null => {
    if (next > range.max) return null;
    const chunk = { from: next, to: Math.min(range.max, next + CHUNK - 1) };
    next = chunk.to + 1;
    return chunk;
  };
  const summary: ReplaySummary = { jobs: 0, events: 0, diverged: 0, reports: [], threads: 0 };
  const merge = (part: ReplaySummary) => {
    summary.jobs += part.jobs;
    summary.events += part.events;
    summary.diverged += part.diverged;
    summary.reports.push(...part.reports);
  };
  const calling = options.useCallingThread ?? true;
  const workers = Promise.all(Array.from({ length: calling ? threads - 1 : threads }, () => runWorker(file, take, merge)));
  workers.catch(() => {}); // a worker's failure is thrown below, once this thread is done, not as an unhandled rejection
  let mine = 0;
  for (let chunk = calling ? take() : null; chunk; chunk = take()) {
    merge(replayRange(engine, chunk.from, chunk.to));
    mine++;
    await new Promise((resolve) => setImmediate(resolve)); // let the workers' messages in
  }
  summary.threads = (mine > 0 ? 1 : 0) + (await workers).filter((chunks) => chunks > 0).length;
  summary.reports.sort((a, b) => a.jobId - b.jobId);
  return summary;
}

/** Resolves with the number of chunks the worker replayed. */
function runWorker(file: string, take: () => { from: number; to: number } | null, merge: (part: ReplaySummary) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let chunks = 0;
    const worker = new Worker(new URL('./thread.js', import.meta.url));
    const send = (message: ToWorker) => worker.postMessage(message);
    let holding = false; // a chunk handed out and not reported yet
    const giveWork = () => {
      const chunk = take();
      holding = chunk !== null;
      send(chunk ?? { done: true });
    };
    worker.on('message', (message: FromWorker) => {
      if ('ready' in message) giveWork();
      else if ('summary' in message) {
        merge(message.summary);
        chunks++;
        giveWork();
      } else reject(new Error(`replay worker: ${message.error}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => (holding ? reject(new Error(`replay worker exited (${code}) before reporting its chunk`)) : resolve(chunks)));
    send({ file });
  });
}

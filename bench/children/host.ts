/**
 * A worker process for one system: the bench sends it commands over IPC (open a store, enqueue,
 * drain with one worker, time latency samples, seed history, replay) and it answers each with its
 * result. The system's module is loaded once, before `ready`, so no timing includes a startup.
 *
 *   node --import tsx bench/children/host.ts <system> <pollMs> [services as JSON: {"redisPort", "pgUrl"}]
 */
import { now, sleep } from '../lib/clock.ts';
import type { Envelope, Notice, Reply, Request, Services } from '../lib/protocol.ts';
import { isSystemName, loadSystem, pollPeriodMs } from '../systems/index.ts';
import type { Payload, QueueHandle, WorkerHandle } from '../systems/types.ts';

const [systemName = '', pollArg = '', servicesArg] = process.argv.slice(2);
if (!isSystemName(systemName) || !process.send) {
  console.error('usage (forked with IPC): host.ts <system> <pollMs> [services JSON]');
  process.exit(2);
}
const pollMs = Number(pollArg);
const { redisPort, pgUrl } = (servicesArg ? JSON.parse(servicesArg) : {}) as Services;
/** The latency samples start at a random phase of this (the system's own poll period). */
const phaseMs = pollPeriodMs(systemName, pollMs);
const system = await loadSystem(systemName);

/** How often a drain asks whether anything is left (an O(1) query). */
const DRAIN_CHECK_MS = 5;
/** A latency sample that has not started after this long fails the run. */
const SAMPLE_TIMEOUT_MS = 10_000;

let handle: QueueHandle | null = null;
let worker: WorkerHandle | null = null;

function notify(message: Notice): void {
  process.send!(message);
}

function open(): QueueHandle {
  if (!handle) throw new Error('no store is open');
  return handle;
}

async function batches(n: number, batch: number, first = 0): Promise<void> {
  for (let done = 0; done < n; done += batch) {
    const size = Math.min(batch, n - done);
    await open().enqueueMany(Array.from({ length: size }, (_, k) => ({ i: first + done + k })));
  }
}

async function handleRequest(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'open':
      if (handle) throw new Error('a store is already open');
      handle = await system.open(request.target, { durability: request.durability, fresh: request.fresh, pollMs, redisPort, pgUrl });
      return null;
    case 'close':
      if (worker) await worker.stop();
      worker = null;
      await handle?.close();
      handle = null;
      return null;
    case 'enqueueOne': {
      const start = now();
      for (let i = 0; i < request.n; i++) await open().enqueueOne({ i });
      return now() - start;
    }
    case 'enqueueMany': {
      const start = now();
      await batches(request.n, request.batch);
      return now() - start;
    }
    case 'prepareDrain':
      worker = await open().worker(undefined, request.concurrency);
      return null;
    case 'drain': {
      if (!worker) throw new Error('prepareDrain first');
      worker.run();
      while (await open().busy()) await sleep(DRAIN_CHECK_MS);
      const doneAt = now();
      await worker.stop();
      worker = null;
      return doneAt;
    }
    case 'succeeded':
      return open().succeeded();
    case 'latencySame': {
      let started: ((data: Payload) => void) | null = null;
      worker = await open().worker((data) => started?.(data));
      worker.run();
      await sleep(phaseMs * 2 + 20); // idle: the first poll found nothing
      const latencies: number[] = [];
      for (let i = 0; i < request.samples; i++) {
        const start = new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`latency sample ${i} did not start within ${SAMPLE_TIMEOUT_MS} ms`)), SAMPLE_TIMEOUT_MS);
          started = (data) => {
            clearTimeout(timer);
            resolve(now() - data.t0!);
          };
        });
        await open().enqueueOne({ t0: now() });
        latencies.push(await start);
        started = null;
        // Let the worker finish and go idle, at a random phase of its poll timer.
        await sleep(2 + Math.random() * phaseMs);
      }
      await worker.stop();
      worker = null;
      return latencies;
    }
    case 'latencyWorkerOn':
      worker = await open().worker((data) => notify({ notice: 'start', latency: now() - data.t0! }));
      worker.run();
      return null;
    case 'latencyWorkerOff':
      await worker?.stop();
      worker = null;
      return null;
    case 'enqueueStamped':
      await open().enqueueOne({ t0: now() });
      return null;
    case 'seedHistory': {
      const h = open();
      if (!h.seedHistory) throw new Error(`${system.label} has no table to seed`);
      const start = now();
      await h.seedHistory(request.total);
      return now() - start;
    }
    case 'replay': {
      const h = open();
      if (!h.replay) throw new Error(`${system.label} has no replay`);
      const start = now();
      const figures = await h.replay();
      return { ...figures, ms: now() - start };
    }
    case 'exit':
      setImmediate(() => process.exit(0));
      return null;
  }
}

// One request at a time, in order.
let queue: Promise<void> = Promise.resolve();
process.on('message', (message: Envelope) => {
  queue = queue.then(async () => {
    let reply: Reply;
    try {
      reply = { id: message.id, ok: true, result: await handleRequest(message) };
    } catch (error) {
      reply = { id: message.id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) };
    }
    process.send!(reply);
  });
});
process.on('disconnect', () => process.exit(0));
notify({ notice: 'ready' });

/**
 * BullMQ 6.7 against the bench's own redis-server (started by bench/lib/redis.ts). Redis is the
 * store, so durability is Redis's: the bench runs it with an append-only file, `appendfsync
 * everysec` for the NORMAL rows and `appendfsync always` for the FULL rows. BullMQ's defaults are
 * kept (completed jobs are kept, as Phaseline and plainjob keep theirs).
 */
import { basename, extname } from 'node:path';
import { Queue, Worker } from 'bullmq';
import type { OpenOptions, Payload, QueueHandle, SystemAdapter, WorkerHandle } from './types.ts';

const NAME = 'noop';

class BullmqHandle implements QueueHandle {
  readonly #queue: Queue;
  readonly #name: string;
  readonly #port: number;

  constructor(name: string, port: number) {
    this.#name = name;
    this.#port = port;
    this.#queue = new Queue(name, { connection: { host: '127.0.0.1', port } });
  }

  async init(fresh: boolean): Promise<void> {
    await this.#queue.waitUntilReady();
    if (fresh) await this.#queue.obliterate({ force: true });
  }

  async enqueueOne(data: Payload): Promise<void> {
    await this.#queue.add(NAME, data);
  }

  async enqueueMany(items: Payload[]): Promise<void> {
    await this.#queue.addBulk(items.map((data) => ({ name: NAME, data })));
  }

  async busy(): Promise<boolean> {
    const counts = await this.#queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
    return Object.values(counts).some((n) => n > 0);
  }

  async succeeded(): Promise<number> {
    return (await this.#queue.getJobCounts('completed')).completed ?? 0;
  }

  async worker(onStart?: (data: Payload) => void, concurrency = 1): Promise<WorkerHandle> {
    const worker = new Worker<Payload>(
      this.#name,
      async (job) => {
        onStart?.(job.data);
        return null;
      },
      { connection: { host: '127.0.0.1', port: this.#port, maxRetriesPerRequest: null }, concurrency, autorun: false },
    );
    await worker.waitUntilReady();
    let loop: Promise<void> = Promise.resolve();
    return {
      run: () => {
        loop = worker.run();
      },
      stop: async () => {
        await worker.close();
        await loop;
      },
    };
  }

  async close(): Promise<void> {
    await this.#queue.close();
  }
}

export const bullmq: SystemAdapter = {
  name: 'bullmq',
  label: 'BullMQ 6.7.0',
  async open(target: string, options: OpenOptions) {
    if (options.redisPort === undefined) throw new Error('BullMQ needs the bench redis-server (no port given)');
    const handle = new BullmqHandle(basename(target, extname(target)), options.redisPort);
    await handle.init(options.fresh);
    return handle;
  },
};

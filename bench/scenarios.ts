/**
 * The measurements. Each scenario runs one system at one durability setting through its two host
 * processes (bench/children/host.ts) and returns figures; bench/run.ts runs each scenario for every
 * system back to back, so that the systems compared in one row were measured close together.
 */
import { drainJobs, latencySamples, type Sizes } from './config.ts';
import { now, sleep } from './lib/clock.ts';
import type { Host } from './lib/children.ts';
import { runRss } from './lib/children.ts';
import { removeDatabase, workFile } from './lib/files.ts';
import { perSecond, percentile } from './lib/stats.ts';
import { onPostgres, pollPeriodMs, SYSTEMS } from './systems/index.ts';
import type { Durability, SystemName } from './systems/types.ts';

export interface Figures {
  drain1?: number;
  drain1Serial?: number;
  drain2?: number;
  enqueueOne?: number;
  enqueueMany?: number;
  latencySameP50?: number;
  latencySameP99?: number;
  latencyOtherP50?: number;
  latencyOtherP99?: number;
  replay?: number;
  replayJobs?: number;
  replayEvents?: number;
  drainHistory?: number;
  rssMb?: number;
  rssJobsPerSecond?: number;
}

export interface ScenarioContext {
  system: SystemName;
  durability: Durability;
  sizes: Sizes;
  /** Two host processes of this system. */
  hosts: readonly [Host, Host];
  redisPort: number | undefined;
  /** Figures measured so far for this system and durability. */
  figures: Figures;
}

export interface Scenario {
  name: string;
  /** Systems it applies to; all when absent. */
  only?: readonly SystemName[];
  /** Whether it runs at this durability setting in this mode; always when absent. */
  at?: (durability: Durability, sizes: Sizes) => boolean;
  /** Run it for all systems at once (figures that are not timings). */
  concurrent?: boolean;
  /** Measure it `sizes.repeats` times, systems interleaved, and keep the medians. */
  repeat?: boolean;
  run(context: ScenarioContext): Promise<Figures>;
}

/** The systems of the SQLite table (Phaseline on SQLite, plainjob, BullMQ): some rows are measured for these only. */
const NOT_POSTGRES = SYSTEMS.filter((system) => !onPostgres(system));

export function target(context: Pick<ScenarioContext, 'system' | 'durability'>, name: string): string {
  return workFile(`${context.system}-${context.durability.toLowerCase()}-${name}.db`);
}

async function expectSucceeded(host: Host, expected: number, what: string): Promise<void> {
  const succeeded = await host.request<number>({ op: 'succeeded' });
  if (succeeded !== expected) throw new Error(`${what}: ${succeeded} jobs succeeded, expected ${expected}`);
}

/**
 * Like plainjob's bench: the jobs are inserted first (in batches, not timed), then each host
 * runs one worker with a no-op handler until nothing is queued or running. jobs/s = N / wall time
 * from the go signal until the last host saw the queue empty; process startup is not counted.
 */
async function drain(context: ScenarioContext, file: string, processes: 1 | 2, fresh: boolean, concurrency = context.sizes.concurrency): Promise<number> {
  const { hosts, sizes, durability } = context;
  const used = hosts.slice(0, processes);
  const [first] = hosts;
  const before = fresh ? 0 : await (async () => {
    await first.request({ op: 'open', target: file, fresh: false, durability });
    const n = await first.request<number>({ op: 'succeeded' });
    await first.request({ op: 'close' });
    return n;
  })();
  await first.request({ op: 'open', target: file, fresh, durability });
  const jobs = drainJobs(sizes, onPostgres(context.system), durability);
  await first.request({ op: 'enqueueMany', n: jobs, batch: sizes.batch });
  for (const host of used.slice(1)) await host.request({ op: 'open', target: file, fresh: false, durability });
  // A drain whose worker died can leave the other process waiting for ever (plainjob's 2-process
  // FULL drain does: one worker stops on "database is locked" and its job stays in processing):
  // past the deadline the hosts are killed, the row fails, and the run goes on with new hosts.
  const deadline = setTimeout(() => used.forEach((host) => host.kill()), DRAIN_DEADLINE_MS);
  try {
    await Promise.all(used.map((host) => host.request({ op: 'prepareDrain', concurrency })));
    const start = now();
    const done = await Promise.all(used.map((host) => host.request<number>({ op: 'drain' })));
    const wall = Math.max(...done) - start;
    await expectSucceeded(first, before + jobs, `drain with ${processes} process(es)`);
    return perSecond(jobs, wall);
  } finally {
    clearTimeout(deadline);
    for (const host of used) await host.request({ op: 'close' }).catch(() => {});
  }
}

/** The slowest drain here takes about 35 s (32,000 jobs one at a time at FULL). */
const DRAIN_DEADLINE_MS = 120_000;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'enqueue one at a time',
    async run(context) {
      const [host] = context.hosts;
      const file = target(context, 'enqueue');
      const n = context.sizes.enqueueOneJobs[context.durability];
      await host.request({ op: 'open', target: file, fresh: true, durability: context.durability });
      try {
        return { enqueueOne: perSecond(n, await host.request<number>({ op: 'enqueueOne', n })) };
      } finally {
        await host.request({ op: 'close' });
        removeDatabase(file);
      }
    },
  },
  {
    name: 'enqueue in batches',
    async run(context) {
      const [host] = context.hosts;
      const file = target(context, 'enqueue');
      const n = context.sizes.enqueueManyJobs[context.durability];
      await host.request({ op: 'open', target: file, fresh: true, durability: context.durability });
      try {
        return { enqueueMany: perSecond(n, await host.request<number>({ op: 'enqueueMany', n, batch: context.sizes.batch })) };
      } finally {
        await host.request({ op: 'close' });
        removeDatabase(file);
      }
    },
  },
  {
    name: 'drain, 1 process',
    repeat: true,
    async run(context) {
      return { drain1: await drain(context, target(context, 'drain1'), 1, true) };
    },
  },
  {
    name: 'drain, 1 process, one job at a time',
    // Not on PostgreSQL: pg-boss at concurrency 1 works one job per 0.5 s poll.
    only: NOT_POSTGRES,
    async run(context) {
      const file = target(context, 'drain1-serial');
      try {
        return { drain1Serial: await drain(context, file, 1, true, 1) };
      } finally {
        removeDatabase(file);
      }
    },
  },
  {
    name: 'replay the whole database',
    only: ['phaseline', 'phaseline-pg'],
    async run(context) {
      const [host] = context.hosts;
      await host.request({ op: 'open', target: target(context, 'drain1'), fresh: false, durability: context.durability });
      try {
        const r = await host.request<{ jobs: number; events: number; diverged: number; ms: number }>({ op: 'replay' });
        if (r.diverged !== 0) throw new Error(`replay: ${r.diverged} of ${r.jobs} jobs diverged`);
        return { replay: perSecond(r.events, r.ms), replayJobs: r.jobs, replayEvents: r.events };
      } finally {
        await host.request({ op: 'close' });
      }
    },
  },
  {
    // Right after the 1-process drain, so that the two are measured close together.
    name: 'drain with finished jobs in the table',
    only: ['phaseline', 'plainjob'],
    async run(context) {
      const [host] = context.hosts;
      const file = target(context, 'drain1');
      // The 1-process drain left its jobs finished in this file: grow them to historyJobs.
      await host.request({ op: 'open', target: file, fresh: false, durability: context.durability });
      try {
        await host.request({ op: 'seedHistory', total: context.sizes.historyJobs });
      } finally {
        await host.request({ op: 'close' });
      }
      try {
        return { drainHistory: await drain(context, file, 1, false) };
      } finally {
        removeDatabase(file);
      }
    },
  },
  {
    name: 'drain, 2 processes',
    repeat: true,
    async run(context) {
      const file = target(context, 'drain2');
      try {
        return { drain2: await drain(context, file, 2, true) };
      } finally {
        removeDatabase(file);
      }
    },
  },
  {
    name: 'latency, same process',
    async run(context) {
      const [host] = context.hosts;
      const file = target(context, 'latency');
      await host.request({ op: 'open', target: file, fresh: true, durability: context.durability });
      try {
        const latencies = await host.request<number[]>({ op: 'latencySame', samples: latencySamples(context.sizes, onPostgres(context.system)) });
        return { latencySameP50: percentile(latencies, 50), latencySameP99: percentile(latencies, 99) };
      } finally {
        await host.request({ op: 'close' });
        removeDatabase(file);
      }
    },
  },
  {
    name: 'latency, another process',
    async run(context) {
      const [worker, sender] = context.hosts;
      const { durability, sizes } = context;
      const file = target(context, 'latency');
      const phaseMs = pollPeriodMs(context.system, sizes.pollMs);
      await sender.request({ op: 'open', target: file, fresh: true, durability });
      await worker.request({ op: 'open', target: file, fresh: false, durability });
      const latencies: number[] = [];
      try {
        await worker.request({ op: 'latencyWorkerOn' });
        await sleep(phaseMs * 2 + 20); // idle: the first poll found nothing
        for (let i = 0, n = latencySamples(sizes, onPostgres(context.system)); i < n; i++) {
          const started = new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`latency sample ${i} did not start within 10 s`)), 10_000);
            worker.onStart((latency) => {
              clearTimeout(timer);
              resolve(latency);
            });
          });
          await sender.request({ op: 'enqueueStamped' });
          latencies.push(await started);
          // Let the worker finish and go idle, at a random phase of its poll timer.
          await sleep(1 + Math.random() * phaseMs);
        }
      } finally {
        worker.onStart(null);
        await worker.request({ op: 'latencyWorkerOff' }).catch(() => {});
        await worker.request({ op: 'close' });
        await sender.request({ op: 'close' });
        removeDatabase(file);
      }
      return { latencyOtherP50: percentile(latencies, 50), latencyOtherP99: percentile(latencies, 99) };
    },
  },
  {
    // A fresh process per system; all systems at once (the figure is memory, not time).
    name: 'peak RSS',
    only: NOT_POSTGRES,
    at: (durability, sizes) => sizes.rssDurabilities.includes(durability),
    concurrent: true,
    async run(context) {
      const { sizes, system, durability } = context;
      const file = target(context, 'rss');
      try {
        const r = await runRss({ system, target: file, durability, jobs: sizes.rssJobs, batch: sizes.rssBatch, pollMs: sizes.pollMs, concurrency: sizes.concurrency, redisPort: context.redisPort });
        if (r.succeeded !== sizes.rssJobs) throw new Error(`RSS run: ${r.succeeded} jobs succeeded, expected ${sizes.rssJobs}`);
        return { rssMb: r.maxRssMb, rssJobsPerSecond: perSecond(sizes.rssJobs, r.drainMs) };
      } finally {
        removeDatabase(file);
      }
    },
  },
];

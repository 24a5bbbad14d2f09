/**
 * Peak RSS of one big run in a fresh process: enqueue `jobs` jobs in batches, drain them with one
 * worker in the same process, report the kernel's peak resident set size (getrusage ru_maxrss).
 *
 *   node --import tsx bench/children/rss.ts '<RssJob as JSON>'
 */
import { now, sleep } from '../lib/clock.ts';
import type { Notice, RssJob } from '../lib/protocol.ts';
import { isSystemName, loadSystem } from '../systems/index.ts';

const job = JSON.parse(process.argv[2] ?? '{}') as RssJob;
if (!isSystemName(job.system) || !process.send) {
  console.error('usage (forked with IPC): rss.ts <RssJob JSON>');
  process.exit(2);
}
const system = await loadSystem(job.system);
const handle = await system.open(job.target, { durability: job.durability, fresh: true, pollMs: job.pollMs, redisPort: job.redisPort });

let start = now();
for (let done = 0; done < job.jobs; done += job.batch) {
  const size = Math.min(job.batch, job.jobs - done);
  await handle.enqueueMany(Array.from({ length: size }, (_, k) => ({ i: done + k })));
}
const enqueueMs = now() - start;

const worker = await handle.worker(undefined, job.concurrency);
start = now();
worker.run();
while (await handle.busy()) await sleep(20);
const drainMs = now() - start;
await worker.stop();
const succeeded = await handle.succeeded();
await handle.close();

const maxRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in kilobytes
const notice: Notice = { notice: 'rss', result: { maxRssMb, enqueueMs, drainMs, succeeded } };
process.send(notice, () => process.exit(0));

/**
 * `npm run bench [-- --quick] [--systems=phaseline,plainjob,bullmq] [--sync=NORMAL,FULL] [--only=drain,replay]`
 *
 * `--only` runs the scenarios whose names contain one of the words (for work on one figure; the
 * table then shows the others as —).
 *
 * One process tree, one run: Phaseline and the anchors (plainjob always; BullMQ when a
 * redis-server binary exists) do the same work, and one table shows each figure and the ratio
 * Phaseline/anchor. The table goes to stdout and to bench/.work/last-run.md. See bench/README.md.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { FULL, QUICK } from './config.ts';
import { now } from './lib/clock.ts';
import { Host } from './lib/children.ts';
import { WORK_DIR, workFile } from './lib/files.ts';
import { findRedisServer, redisVersion, RedisServer } from './lib/redis.ts';
import { installedVersion } from './lib/versions.ts';
import { goals, key, table, type Results } from './report.ts';
import { SCENARIOS, type Figures, type Scenario } from './scenarios.ts';
import { isSystemName, SYSTEMS } from './systems/index.ts';
import type { Durability, SystemName } from './systems/types.ts';

const started = now();
const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
for (const arg of args) {
  if (arg !== '--quick' && !/^--(systems|sync|only)=/.test(arg)) {
    console.error(`unknown argument ${arg}\nusage: npm run bench [-- --quick] [--systems=phaseline,plainjob,bullmq] [--sync=NORMAL,FULL] [--only=drain,replay]`);
    process.exit(2);
  }
}
const sizes = args.includes('--quick') ? QUICK : FULL;
const wanted = (option('systems')?.split(',') ?? [...SYSTEMS]).filter(isSystemName);
if (!wanted.includes('phaseline')) wanted.unshift('phaseline');
const only = option('only')?.split(',');
const durabilities = (option('sync')?.toUpperCase().split(',') ?? ['NORMAL', 'FULL']).filter((d): d is Durability => d === 'NORMAL' || d === 'FULL');

const notes: string[] = [];
const errors: string[] = [];
const elapsed = () => `${((now() - started) / 1000).toFixed(1)}s`;
const log = (message: string) => console.error(`[${elapsed()}] ${message}`);

// ── redis-server for BullMQ ────────────────────────────────────────────────
let redis: RedisServer | null = null;
let redisVersionText = 'not installed';
const systems: SystemName[] = [...wanted];
if (systems.includes('bullmq')) {
  const binary = findRedisServer();
  if (!binary) {
    systems.splice(systems.indexOf('bullmq'), 1);
    notes.push('BullMQ skipped: no redis-server binary on this machine (Debian: apt-get install redis-server).');
    console.error('note: BullMQ skipped: no redis-server binary (Debian: apt-get install redis-server)');
  } else {
    redisVersionText = redisVersion(binary);
    try {
      redis = await RedisServer.start(binary, workFile('redis'));
      log(`redis-server ${redisVersionText} on port ${redis.port}`);
    } catch (error) {
      systems.splice(systems.indexOf('bullmq'), 1);
      notes.push(`BullMQ skipped: redis-server ${redisVersionText} did not start (${String(error)}).`);
      console.error(`note: BullMQ skipped: ${String(error)}`);
    }
  }
}

// ── Host processes: two per system, started together, before any timing ───
const hosts = new Map<SystemName, [Host, Host]>();
for (const system of systems) {
  hosts.set(system, [new Host(system, sizes.pollMs, redis?.port), new Host(system, sizes.pollMs, redis?.port)]);
}
const killAll = () => {
  for (const pair of hosts.values()) for (const host of pair) host.kill();
};
process.once('exit', killAll);
process.once('SIGINT', () => {
  killAll();
  process.exit(130);
});
await Promise.all([...hosts.values()].flat().map((host) => host.ready()));
log(`${hosts.size * 2} host processes ready (${sizes.mode} mode)`);

// ── Measurements ───────────────────────────────────────────────────────────
const results: Results = new Map();

/** Run one scenario for one system; `runs` collects each repetition's figures (see `repeat`). */
async function measure(scenario: Scenario, system: SystemName, durability: Durability, runs?: Figures[]): Promise<void> {
  const figures: Figures = results.get(key(system, durability)) ?? {};
  results.set(key(system, durability), figures);
  const t = now();
  try {
    const measured = await scenario.run({ system, durability, sizes, hosts: hosts.get(system)!, redisPort: redis?.port, figures });
    runs?.push(measured);
    Object.assign(figures, runs ? medians(runs) : measured);
    log(`${durability} ${scenario.name}: ${system} (${((now() - t) / 1000).toFixed(1)}s)`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    errors.push(`${durability} ${scenario.name}, ${system}: ${message.split('\n')[0]}`);
    log(`${durability} ${scenario.name}: ${system} FAILED\n${message}`);
    // Start the next scenario from clean hosts: a new process for one that died, else close its store.
    const pair = hosts.get(system)!;
    for (const [i, host] of pair.entries()) {
      if (host.exited) {
        pair[i] = new Host(system, sizes.pollMs, redis?.port);
        await pair[i].ready();
      } else {
        await host.request({ op: 'close' }).catch(() => {});
      }
    }
  }
}

for (const durability of durabilities) {
  if (redis) {
    await redis.flush();
    await redis.setDurability(durability);
  }
  for (const scenario of SCENARIOS.filter((s) => !only || only.some((word) => s.name.includes(word)))) {
    if (scenario.at && !scenario.at(durability, sizes)) continue;
    const applies = systems.filter((system) => !scenario.only || scenario.only.includes(system));
    if (scenario.concurrent) {
      await Promise.all(applies.map((system) => measure(scenario, system, durability)));
    } else if (scenario.repeat && sizes.repeats > 1) {
      // Systems interleaved, each figure the median of its repetitions: the machine's speed drifts.
      const runs = new Map(applies.map((system) => [system, [] as Figures[]]));
      for (let r = 0; r < sizes.repeats; r++) for (const system of applies) await measure(scenario, system, durability, runs.get(system));
    } else {
      for (const system of applies) await measure(scenario, system, durability);
    }
  }
}

await Promise.all([...hosts.values()].flat().map((host) => host.exit()));
await redis?.stop();

/** Each figure's median over the repetitions that measured it. */
function medians(runs: readonly Figures[]): Figures {
  const out: Record<string, number> = {};
  const keys = new Set(runs.flatMap((run) => Object.keys(run)));
  for (const k of keys) {
    const values = runs.map((run) => (run as Record<string, number | undefined>)[k]).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
    out[k] = values.length % 2 ? values[(values.length - 1) / 2]! : (values[values.length / 2 - 1]! + values[values.length / 2]!) / 2;
  }
  return out as Figures;
}

// ── Report ─────────────────────────────────────────────────────────────────
const labels: Record<SystemName, string> = {
  phaseline: 'Phaseline',
  plainjob: `plainjob ${installedVersion('plainjob')}`,
  bullmq: `BullMQ ${installedVersion('bullmq')}`,
};
const input = { sizes, systems, labels, durabilities, results };
const duration = (now() - started) / 1000;
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const lines = [
  `# Phaseline benchmark (${sizes.mode} mode)`,
  '',
  `${new Date().toISOString().slice(0, 10)}; ${availableParallelism()} cores (${cpu}); node ${process.version}; ` +
    `better-sqlite3 ${installedVersion('better-sqlite3')}; xstate ${installedVersion('xstate')}; plainjob ${installedVersion('plainjob')}; ` +
    `bullmq ${installedVersion('bullmq')}; ioredis ${installedVersion('ioredis')}; redis-server ${redisVersionText}.`,
  '',
  table(input),
  '',
  'How it was measured:',
  `- sync: SQLite \`synchronous\` (WAL journal for both SQLite systems). BullMQ has no such pragma: its NORMAL rows run Redis with \`appendonly yes, appendfsync everysec\`, its FULL rows with \`appendfsync always\`.`,
  `- Drains (as plainjob's own bench): the jobs are inserted first in batches of ${sizes.batch.toLocaleString('en-US')}, not timed; then 1 or 2 child processes each run one worker with a no-op handler until nothing is queued or running; jobs/s = jobs / wall time from the go signal to the empty queue. Process startup is not timed.`,
  `- *At once: Phaseline and BullMQ workers run up to ${sizes.concurrency} handlers at once in these rows (Phaseline then claims and completes in batches, one commit for many jobs); plainjob's worker has no concurrency setting and always runs one job at a time, so its figures are the same work done its only way. The "one job at a time" row runs every system at concurrency 1.${sizes.repeats > 1 ? ` The two "at once" rows are each the median of ${sizes.repeats} drains, the systems taking turns (the machine's speed drifts by ±25 % over minutes).` : ''}`,
  `- Phaseline jobs use the RIME lifecycle: 4 history events (CREATE, ADMIT, CLAIM, SUCCEED) in 3 transactions per job.`,
  `- Latency: ${sizes.latencySamples} samples per case; the job carries the instant taken just before the enqueue call, the handler subtracts it from its own start. Workers are idle between samples; the next sample comes at a random phase of the poll timer. Phaseline and plainjob workers poll every ${sizes.pollMs} ms (Phaseline wakes at once on an enqueue in its own process); BullMQ workers block on Redis.`,
  `- History: right after the 1-process drain, its finished jobs are copied row for row (history included) under new ids until the table holds ${sizes.historyJobs.toLocaleString('en-US')} finished jobs; then as many new jobs as in the drain are drained by 1 process.`,
  `- Replay: \`replayAll()\` over the 1-process drain's database (every job folded through its machine and compared with its row); 0 diverged is required.`,
  `- Peak RSS: a fresh process per system (the systems side by side) enqueues ${sizes.rssJobs.toLocaleString('en-US')} jobs in batches of ${sizes.rssBatch.toLocaleString('en-US')} and drains them with one worker; figure = its getrusage peak resident set. For BullMQ it is the Node process only: redis-server's memory comes on top. Measured at ${sizes.rssDurabilities.join(' and ')} only: the sync setting does not change what a process keeps in memory, and a FULL run of that size waits on the disk.`,
  ...(sizes.mode === 'quick' ? ['- Quick mode: small runs (the work column), fewer jobs at FULL; figures are noisier than a full run.'] : []),
  ...notes.map((n) => `- ${n}`),
  '',
  'Goals of issue 5:',
  ...goals(input),
  ...(errors.length ? ['', 'Errors:', ...errors.map((e) => `- ${e}`)] : []),
  '',
  `Duration: ${duration.toFixed(1)} s (${sizes.mode} mode).`,
];
const text = lines.join('\n');
console.log(text);
writeFileSync(workFile('last-run.md'), `${text}\n`);
console.error(`written to ${WORK_DIR}/last-run.md`);
process.exit(errors.length ? 1 : 0);

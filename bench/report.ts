/**
 * The tables (markdown, also printed to stdout) and the goals checked against them: one
 * table for Phaseline on SQLite against plainjob and BullMQ, one for Phaseline on
 * PostgreSQL against pg-boss and graphile-worker.
 */
import { drainJobs, latencySamples, type Sizes } from './config.ts';
import type { Figures } from './scenarios.ts';
import { referenceOf, type Reference } from './systems/index.ts';
import type { Durability, SystemName } from './systems/types.ts';

export type Results = Map<string, Figures>;

export function key(system: SystemName, durability: Durability): string {
  return `${system}|${durability}`;
}

type Better = 'higher' | 'lower';

interface Row {
  metric: string;
  better: Better;
  /** The work behind the figure at this setting (the same for every system). */
  work: (durability: Durability, phaseline: Figures) => string;
  pick: (f: Figures) => number | undefined;
  format: (value: number) => string;
  /** Compare Phaseline with the anchors on this row (false: figures only). */
  ratio: boolean;
  /** A row of the SQLite table only (not measured on PostgreSQL). */
  sqliteOnly?: boolean;
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
const mb = (value: number) => value.toFixed(0);
const pct = (value: number) => `${(value * 100).toFixed(0)}%`;

function rows(sizes: Sizes, postgres: boolean): Row[] {
  const small = sizes.mode !== 'full';
  const jobs = (n: number) => `${int(n)} jobs`;
  const drain = (d: Durability) => jobs(drainJobs(sizes, postgres, d));
  const samples = () => `${int(latencySamples(sizes, postgres))} samples`;
  const history = (d: Durability) => `${drain(d)} after ${int(sizes.historyJobs)}${small ? ` (${sizes.mode}: not 1,000,000)` : ''}`;
  const rss = (d: Durability) => (sizes.rssDurabilities.includes(d) ? `${jobs(sizes.rssJobs)}${small ? ` (${sizes.mode}: not 1,000,000)` : ''}` : 'not run at this setting');
  const all: Row[] = [
    { metric: `no-op jobs processed/s, 1 worker process (${sizes.concurrency} at once*)`, better: 'higher', work: drain, pick: (f) => f.drain1, format: int, ratio: true },
    { metric: `no-op jobs processed/s, 2 worker processes (${sizes.concurrency} at once each*)`, better: 'higher', work: drain, pick: (f) => f.drain2, format: int, ratio: true },
    { metric: 'no-op jobs processed/s, 1 worker process, one job at a time', better: 'higher', work: drain, pick: (f) => f.drain1Serial, format: int, ratio: true, sqliteOnly: true },
    { metric: 'enqueue/s, one at a time', better: 'higher', work: (d) => jobs(sizes.enqueueOneJobs[d]), pick: (f) => f.enqueueOne, format: int, ratio: true },
    { metric: `enqueue/s, batches of ${int(sizes.batch)}`, better: 'higher', work: (d) => jobs(sizes.enqueueManyJobs[d]), pick: (f) => f.enqueueMany, format: int, ratio: true },
    { metric: 'latency enqueue → handler start, p50, same process (ms)', better: 'lower', work: samples, pick: (f) => f.latencySameP50, format: ms, ratio: true },
    { metric: 'latency enqueue → handler start, p99, same process (ms)', better: 'lower', work: samples, pick: (f) => f.latencySameP99, format: ms, ratio: true },
    { metric: 'latency enqueue → handler start, p50, another process (ms)', better: 'lower', work: samples, pick: (f) => f.latencyOtherP50, format: ms, ratio: true },
    { metric: 'latency enqueue → handler start, p99, another process (ms)', better: 'lower', work: samples, pick: (f) => f.latencyOtherP99, format: ms, ratio: true },
    {
      metric: 'replay: history events/s verifying the whole database', better: 'higher',
      work: (_d, f) => (f.replayJobs !== undefined ? `${jobs(f.replayJobs)}, ${int(f.replayEvents ?? 0)} events` : '—'),
      pick: (f) => f.replay, format: int, ratio: false,
    },
    { metric: 'no-op jobs processed/s, 1 process, finished jobs already in the table', better: 'higher', work: history, pick: (f) => f.drainHistory, format: int, ratio: true, sqliteOnly: true },
    { metric: 'the same ÷ empty table (1 process)', better: 'higher', work: history, pick: (f) => (f.drainHistory !== undefined && f.drain1 ? f.drainHistory / f.drain1 : undefined), format: pct, ratio: false, sqliteOnly: true },
    { metric: 'peak RSS of one process enqueuing and running all jobs (MB)', better: 'lower', work: rss, pick: (f) => f.rssMb, format: mb, ratio: true, sqliteOnly: true },
  ];
  return all.filter((row) => !postgres || !row.sqliteOnly);
}

function cell(value: number | undefined, format: (v: number) => string): string {
  return value === undefined || !Number.isFinite(value) ? '—' : format(value);
}

function ratio(ours: number | undefined, theirs: number | undefined): string {
  if (ours === undefined || theirs === undefined || !Number.isFinite(ours) || !Number.isFinite(theirs) || theirs === 0) return '—';
  return `${(ours / theirs).toFixed(2)}×`;
}

export interface TableInput {
  sizes: Sizes;
  systems: readonly SystemName[];
  labels: Record<SystemName, string>;
  durabilities: readonly Durability[];
  results: Results;
}

/** The label without its version, for a ratio column's name: `graphile-worker 0.17.3 batched` → `graphile-worker batched`. */
const short = (label: string) => label.replace(/ \d\S*/, '');

/** The table of one Phaseline (`reference`) and the anchors on the same kind of store. */
export function table({ sizes, systems, labels, durabilities, results }: TableInput, reference: Reference = 'phaseline'): string {
  const anchors = systems.filter((s) => s !== reference && referenceOf(s) === reference);
  const header = ['metric', 'sync', 'work', 'better', labels[reference], ...anchors.flatMap((a) => [labels[a], `Phaseline/${short(labels[a])}`])];
  const body: string[][] = [];
  for (const row of rows(sizes, reference === 'phaseline-pg')) {
    for (const d of durabilities) {
      const mine = results.get(key(reference, d)) ?? {};
      const ours = row.pick(mine);
      const cells = [row.metric, d, row.work(d, mine), row.better, cell(ours, row.format)];
      for (const anchor of anchors) {
        const theirs = row.pick(results.get(key(anchor, d)) ?? {});
        cells.push(cell(theirs, row.format), row.ratio ? ratio(ours, theirs) : '—');
      }
      body.push(cells);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i < 4 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

type Check = (label: string, value: number | undefined, goal: number, better: Better, show: (v: number) => string) => void;

/** A goal's line: the measured figure, the goal, and by how much it is met or missed. */
function checker(out: string[]): Check {
  return (label, value, goal, better, show) => {
    if (value === undefined || !Number.isFinite(value)) {
      out.push(`- ${label}: not measured`);
      return;
    }
    const met = better === 'higher' ? value >= goal : value <= goal;
    const by = better === 'higher' ? value / goal : goal / value;
    out.push(`- ${label}: ${show(value)} against ${show(goal)}: ${met ? 'met' : `missed (${(by * 100).toFixed(0)}% of the goal)`}`);
  };
}

const times = (v: number) => `${v.toFixed(2)}×`;
const quotient = (ours: number | undefined, theirs: number | undefined) => (ours !== undefined && theirs ? ours / theirs : undefined);
const QUICK_NOTE = '- quick mode: small runs, so these checks are indicative only; the goals are judged on the full run.';

/** The goals on SQLite, each with the measured figure and by how much it is met or missed. */
export function goals({ sizes, systems, results }: TableInput): string[] {
  const get = (s: SystemName, d: Durability) => results.get(key(s, d)) ?? {};
  const out: string[] = [];
  const check = checker(out);
  const p = (d: Durability) => get('phaseline', d);
  if (systems.includes('plainjob')) {
    for (const [k, what] of [['drain1', '1 process'], ['drain2', '2 processes']] as const) {
      const theirs = get('plainjob', 'NORMAL')[k];
      const ours = p('NORMAL')[k];
      check(`NORMAL, ${what}: Phaseline/plainjob ≥ 1.5`, quotient(ours, theirs), 1.5, 'higher', times);
    }
  }
  check('FULL, 1 process: ≥ 5,000 jobs/s', p('FULL').drain1, 5000, 'higher', int);
  check('FULL, 2 processes: ≥ 5,000 jobs/s', p('FULL').drain2, 5000, 'higher', int);
  for (const d of ['NORMAL', 'FULL'] as const) check(`${d}: batch enqueue > 100,000 jobs/s`, p(d).enqueueMany, 100_000, 'higher', int);
  check('replay > 200,000 events/s', p('NORMAL').replay, 200_000, 'higher', int);
  for (const d of ['NORMAL', 'FULL'] as const) {
    const f = p(d);
    check(`${d}: throughput with ${int(sizes.historyJobs)} finished jobs within 10% of the empty table`, f.drainHistory !== undefined && f.drain1 ? f.drainHistory / f.drain1 : undefined, 0.9, 'higher', pct);
  }
  for (const d of sizes.rssDurabilities) check(`${d}: peak RSS < 200 MB for a ${int(sizes.rssJobs)}-job run`, p(d).rssMb, 200, 'lower', (v) => `${v.toFixed(0)} MB`);
  if (sizes.mode === 'quick') out.push(QUICK_NOTE);
  return out;
}

/**
 * The goals on PostgreSQL, at each setting run: Phaseline's no-op jobs/s at least 2×
 * pg-boss's and at least graphile-worker's unbatched, in the same run (1 and 2 worker processes);
 * enqueue → handler start from another process, p50 under 5 ms.
 */
export function postgresGoals({ sizes, systems, durabilities, results }: TableInput): string[] {
  const get = (s: SystemName, d: Durability) => results.get(key(s, d)) ?? {};
  const out: string[] = [];
  const check = checker(out);
  const anchors = [['pgboss', 'pg-boss', 2], ['graphile', 'graphile-worker unbatched', 1]] as const;
  for (const d of durabilities) {
    for (const [k, what] of [['drain1', '1 process'], ['drain2', '2 processes']] as const) {
      for (const [anchor, name, goal] of anchors) {
        if (!systems.includes(anchor)) continue;
        check(`${d}, ${what}: Phaseline/${name} ≥ ${goal}`, quotient(get('phaseline-pg', d)[k], get(anchor, d)[k]), goal, 'higher', times);
      }
    }
    check(`${d}: enqueue → handler start from another process, p50 < 5 ms`, get('phaseline-pg', d).latencyOtherP50, 5, 'lower', (v) => `${ms(v)} ms`);
  }
  if (sizes.mode === 'quick') out.push(QUICK_NOTE);
  return out;
}

/**
 * A quick micro-measurement of the compiled lifecycles (src/engine/compiled.ts) against XState's
 * `transition()`, in one run, as ratios:
 * - µs per transition: each built-in lifecycle's usual path (create, claim, progress, succeed, and
 *   a retried failure) stepped in a loop, both ways, on the same snapshots;
 * - replay: one in-memory database of jobs with their histories, replayed with an engine on the
 *   compiled lifecycles and one on XState alone (alternating, median of three each).
 *
 * Times are the process's CPU time (user + system, `process.cpuUsage`), not wall time: on a
 * machine shared with other work, wall time counts the moments another process had the core.
 *
 * `npx tsx bench/compiled.ts [--jobs=N]` (default 4,000 jobs per lifecycle). Under a minute; not
 * part of `npm run bench`.
 */
import { builtInLifecycles, type Lifecycle } from '../machines/index.ts';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { compiledOf, stepOf } from '../src/engine/compiled.ts';
import { Engine } from '../src/engine/engine.ts';
import { firstSnapshot, machineEvent } from '../src/engine/transition.ts';
import { replayAll } from '../src/replay/replay.ts';

/** CPU milliseconds since `from` (a `process.cpuUsage()`). */
const cpuMs = (from: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(from);
  return (user + system) / 1000;
};

const JOBS = Number(process.argv.find((a) => a.startsWith('--jobs='))?.slice(7) ?? 4_000);

type Ev = { type: string } & Record<string, unknown>;
/** Each lifecycle's usual path after creation: start events, then claim, progress, a retried failure, claim, succeed. */
function pathOf(lifecycle: Lifecycle): Ev[] {
  const start = (lifecycle.startEvents ?? []).map((type) => ({ type }));
  const validated = lifecycle.validatedEvent ? [{ type: lifecycle.validatedEvent }] : [];
  return [
    ...start,
    { type: 'CLAIM' }, ...validated, { type: 'PROGRESS', percent: 30 },
    { type: 'FAIL', error: { message: 'x' }, retryAt: 5 },
    { type: 'CLAIM' }, ...validated, { type: 'PROGRESS', percent: 60 }, { type: 'SUCCEED', result: { ok: true } },
  ];
}

function microsPerTransition(lifecycle: Lifecycle, compiled: boolean, rounds: number): number {
  const step = stepOf(lifecycle, compiled);
  // The events made once, as the engine and replay make them (machineEvent), so only the step is timed.
  const path = pathOf(lifecycle).map(({ type, ...payload }, i) => machineEvent(type, i, payload));
  const initial = firstSnapshot(lifecycle.machine, { params: null });
  let count = 0;
  const t0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    let s = initial;
    for (let i = 0; i < path.length; i++) {
      const next = step(s, path[i]!);
      if (next === s) throw new Error(`${lifecycle.name}: ${path[i]!.type} refused`);
      s = next;
      count++;
    }
  }
  return (cpuMs(t0) * 1000) / count;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 2) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

console.log(`compiled lifecycles vs XState (node ${process.version}); ${new Date().toISOString()}`);
console.log('\n| lifecycle | pairs compiled | XState µs/transition (CPU) | compiled µs/transition (CPU) | ratio |\n| --- | --- | --- | --- | --- |');
for (const lifecycle of Object.values(builtInLifecycles)) {
  const { pairs } = compiledOf(lifecycle);
  microsPerTransition(lifecycle, true, 2_000); // warm-up both
  microsPerTransition(lifecycle, false, 2_000);
  const x = median([0, 1, 2].map(() => microsPerTransition(lifecycle, false, 5_000)));
  const c = median([0, 1, 2].map(() => microsPerTransition(lifecycle, true, 5_000)));
  console.log(`| ${lifecycle.name} | ${pairs.compiled}/${pairs.total} | ${fmt(x)} | ${fmt(c)} | ${fmt(x / c, 1)}× |`);
}

// Replay: one database, jobs of every built-in lifecycle through their usual paths.
const database = openDatabase(':memory:');
let now = 1_700_000_000_000;
const writer = new Engine(new SqliteStore(database), { clock: () => (now += 1) });
writer.transaction(() => {
  for (const lifecycle of Object.values(builtInLifecycles)) {
    const path = pathOf(lifecycle).slice((lifecycle.startEvents ?? []).length);
    for (let j = 0; j < JOBS; j++) {
      const { id } = writer.create({ lifecycle: lifecycle.name, type: 'bench', input: { params: { j } } });
      for (const event of path) writer.send(id, event);
    }
  }
});
const engines = {
  compiled: new Engine(new SqliteStore(database), { compiledLifecycles: true }),
  xstate: new Engine(new SqliteStore(database), { compiledLifecycles: false }),
};
const rates: Record<'compiled' | 'xstate', number[]> = { compiled: [], xstate: [] };
let events = 0;
for (let round = 0; round < 4; round++) {
  for (const name of ['xstate', 'compiled'] as const) {
    const t0 = process.cpuUsage();
    const summary = replayAll(engines[name]);
    const ms = cpuMs(t0);
    if (summary.diverged !== 0) throw new Error(`${name}: ${summary.diverged} jobs diverged`);
    events = summary.events;
    if (round > 0) rates[name].push((summary.events * 1000) / ms); // round 0 warms up
  }
}
const [x, c] = [median(rates.xstate), median(rates.compiled)];
console.log(`\nreplay of ${events.toLocaleString('en-US')} events (${(JOBS * 5).toLocaleString('en-US')} jobs, in-memory SQLite, one thread, per CPU second, median of 3):`);
console.log(`| path | events/s |\n| --- | --- |\n| XState | ${fmt(x, 0)} |\n| compiled | ${fmt(c, 0)} |\n| ratio | ${fmt(c / x, 2)}× |`);
database.sqlite.close();

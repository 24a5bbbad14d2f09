/**
 * How late the workflow primitives start, on SQLite (quick: about 30 s):
 *
 *   npx tsx bench/primitives.ts [--samples=200] [--seconds=12]
 *
 * - Durable sleep: jobs that sleep 100–300 ms (four runners' worth of slots in one process); the
 *   lateness of each is the instant its handler is back past `ctx.sleep` minus the recorded wake
 *   instant (the runner arms a timer for the jobs this process parked; the poll, 1 s by default,
 *   finds the others).
 * - Cron: five schedules firing every second; the lateness of each slot is the instant its job's
 *   handler starts minus the slot.
 * - The history events each primitive costs a job, counted from real histories.
 *
 * Prints p50 and p99 in milliseconds and the event counts as a Markdown table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPhaseline } from '../src/phaseline.ts';

const arg = (name: string, fallback: number): number => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split('=')[1]) : fallback;
};
const SAMPLES = arg('samples', 200);
const SECONDS = arg('seconds', 12);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const dir = mkdtempSync(join(tmpdir(), 'phaseline-primitives-'));
const phaseline = createPhaseline({ file: join(dir, 'bench.db') });
try {
  const sleepLateness: number[] = [];
  const cronLateness: number[] = [];
  let done = 0;
  phaseline.register({
    name: 'nap',
    lifecycle: 'rime',
    handler: async (ctx) => {
      await ctx.sleep(100 + Math.floor(Math.random() * 200));
      const wake = ctx.job.waits[0];
      if (wake?.kind === 'sleep') sleepLateness.push(Date.now() - wake.until);
      done++;
      return null;
    },
  });
  phaseline.register({
    name: 'plain',
    lifecycle: 'rime',
    handler: async () => null,
  });
  phaseline.register({
    name: 'waiter',
    lifecycle: 'rime',
    handler: async (ctx) => ctx.waitFor('go'),
  });
  phaseline.register({
    name: 'slot',
    lifecycle: 'rime',
    handler: async (ctx) => {
      const slot = Date.parse(/@(.+)$/.exec(ctx.job.idempotencyKey ?? '')?.[1] ?? '');
      if (Number.isFinite(slot)) cronLateness.push(Date.now() - slot);
      return null;
    },
  });
  phaseline.start({ concurrency: 32 });

  // Sleep: enqueued in waves so that wakes spread out.
  for (let i = 0; i < SAMPLES; i++) {
    await phaseline.enqueue('nap', null);
    if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  while (done < SAMPLES) await new Promise((resolve) => setTimeout(resolve, 20));

  // Cron: five schedules every second.
  for (let i = 0; i < 5; i++) await phaseline.schedule(`every-second-${i}`, '* * * * * *', 'slot', null);
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  for (let i = 0; i < 5; i++) await phaseline.pauseSchedule(`every-second-${i}`);

  // Events per job: a plain job, a sleeper, a waiter signalled while it waits and one signalled before.
  const plain = await phaseline.enqueue('plain', null);
  const waiting = await phaseline.enqueue('waiter', null);
  const early = await phaseline.enqueue('waiter', null);
  await phaseline.signal(early, 'go', 1);
  while (!(await phaseline.get(waiting)).parked) await new Promise((resolve) => setTimeout(resolve, 10));
  await phaseline.signal(waiting, 'go', 2);
  const ended = async (id: number) => (await phaseline.get(id)).terminal;
  while (!(await ended(plain)) || !(await ended(waiting)) || !(await ended(early))) await new Promise((resolve) => setTimeout(resolve, 10));
  const count = async (id: number) => (await phaseline.history(id)).length;
  const napJob = (await phaseline.list({ type: 'nap', limit: 1 }))[0]!;
  const slotJob = (await phaseline.list({ type: 'slot', limit: 1 }))[0]!;
  const base = await count(plain);

  const row = (what: string, values: number[]) => `| ${what} | ${values.length} | ${percentile(values, 50)} | ${percentile(values, 99)} | ${Math.max(...values)} |`;
  console.log(`## ${new Date().toISOString().slice(0, 10)}: how late the primitives start (SQLite, one process, concurrency 32)\n`);
  console.log('| primitive | samples | p50 ms | p99 ms | max ms |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(row('durable sleep (wake instant → handler past ctx.sleep)', sleepLateness));
  console.log(row('cron slot (slot → handler start)', cronLateness));
  console.log('\n| job | history events | beyond a plain job |');
  console.log('| --- | --- | --- |');
  console.log(`| plain RIME job (CREATE, ADMIT, CLAIM, SUCCEED) | ${base} | 0 |`);
  console.log(`| one ctx.sleep | ${await count(napJob.id)} | ${(await count(napJob.id)) - base} (SLEEP, WAKE) |`);
  console.log(`| one ctx.waitFor, signalled while it waits | ${await count(waiting)} | ${(await count(waiting)) - base} (WAIT, SIGNAL, WAKE) |`);
  console.log(`| one ctx.waitFor, signalled before it | ${await count(early)} | ${(await count(early)) - base} (SIGNAL, WAIT) |`);
  console.log(`| a cron slot's job | ${await count(slotJob.id)} | ${(await count(slotJob.id)) - base} (the schedule's row update is not an event) |`);
} finally {
  await phaseline.close();
  rmSync(dir, { recursive: true, force: true });
}

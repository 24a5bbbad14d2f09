/**
 * Cron schedules on a real database (a SQLite file, or PostgreSQL in the postgres project), driven
 * by a manual clock: three Phaseline instances on one database (as three processes or hosts would
 * be) look for due slots in random order over a simulated day, and each slot gets exactly one job;
 * the missed policies after a simulated outage; overlap; pause, resume, delete; bad input refused
 * with nothing stored; and the scheduler loop of start() on the real clock.
 *
 * The seed is printed; PHASELINE_SEED repeats it.
 */
import { describe, expect, test } from 'vitest';
import { createPhaseline, type Phaseline } from '../src/phaseline.ts';
import { isPhaselineError } from '../src/errors.ts';
import { prng, seedFromEnv } from './helpers/processes.ts';
import { FAST, freshDatabase, open, waitFor } from './helpers/behaviour-harness.ts';

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

/** A clock the test moves. */
function manualClock(start: number): { now: () => number; set: (t: number) => void; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v), advance: (ms) => (t += ms) };
}

/** `n` Phaseline instances on one fresh database, all on `clock`, each with the `tick` type registered. */
async function instances(n: number, clock: () => number): Promise<Phaseline[]> {
  const db = await freshDatabase();
  const all: Phaseline[] = [];
  for (let i = 0; i < n; i++) {
    const p = await open({ db, clock });
    p.register({ name: 'tick', lifecycle: 'rime', handler: async () => null, validate: (params) => {
      if (typeof params !== 'object' || params === null) throw new Error('params must be an object');
      return params as { n?: number };
    } });
    all.push(p);
  }
  return all;
}

const slotOf = (key: string | null): string => /@(.+)$/.exec(key ?? '')?.[1] ?? 'no key';

describe('cron schedules', () => {
  test('three schedulers on one database over a simulated day: each slot exactly once', async () => {
    const seed = seedFromEnv();
    console.log(`workflow.schedules: seed ${seed} (PHASELINE_SEED=${seed} repeats it)`);
    const random = prng(seed);
    const clock = manualClock(T0);
    const [a, b, c] = await instances(3, clock.now);
    await a!.schedule('quarterly', '*/15 * * * *', 'tick', { n: 1 });
    await b!.schedule('paris-nine', '0 9 * * *', 'tick', { n: 2 }, { timezone: 'Europe/Paris' });
    const all = [a!, b!, c!];
    while (clock.now() < T0 + 24 * HOUR) {
      clock.advance(5_000 + Math.floor(random() * 50_000));
      // Concurrently, in a random order: the schedulers race for the same slots.
      const order = [...all].sort(() => random() - 0.5);
      await Promise.all(order.map((p) => p.runDueSchedules()));
    }
    const jobs = await a!.list({ type: 'tick' });
    const quarterly = jobs.filter((j) => j.idempotencyKey?.startsWith('schedule:quarterly@')).map((j) => slotOf(j.idempotencyKey)).sort();
    const expected = Array.from({ length: 96 }, (_v, i) => new Date(T0 + (i + 1) * 15 * MIN).toISOString());
    expect(quarterly).toEqual(expected);
    // 09:00 in Paris is 08:00 UTC in December.
    expect(jobs.filter((j) => j.idempotencyKey?.startsWith('schedule:paris-nine@')).map((j) => slotOf(j.idempotencyKey))).toEqual(['2026-12-01T08:00:00.000Z']);
    expect(jobs).toHaveLength(97);
    const listed = await c!.schedules();
    expect(listed.map((s) => s.name)).toEqual(['paris-nine', 'quarterly']);
    expect(listed[1]!.nextAt).toBe(T0 + 24 * HOUR + 15 * MIN);
    expect(listed[0]!.nextAt).toBe(Date.parse('2026-12-02T08:00:00.000Z'));
  });

  test('after an outage: skip runs none of the missed slots, latest the last, backfill up to its count', async () => {
    const clock = manualClock(T0 + 10 * MIN);
    const [p] = await instances(1, clock.now);
    await p!.schedule('s-skip', '0 * * * *', 'tick', {}, { missed: 'skip' });
    await p!.schedule('s-latest', '0 * * * *', 'tick', {}, { missed: 'latest' });
    await p!.schedule('s-backfill', '0 * * * *', 'tick', {}, { missed: { backfill: 3 } });
    expect(await p!.runDueSchedules()).toEqual([]);
    clock.set(T0 + 5 * HOUR + 20 * MIN); // down from 00:10 to 05:20: slots 01:00 to 05:00 missed
    await p!.runDueSchedules();
    const slots = async (name: string) =>
      (await p!.list({ type: 'tick' })).filter((j) => j.idempotencyKey?.startsWith(`schedule:${name}@`)).map((j) => slotOf(j.idempotencyKey).slice(11, 16)).sort();
    expect(await slots('s-skip')).toEqual([]);
    expect(await slots('s-latest')).toEqual(['05:00']);
    expect(await slots('s-backfill')).toEqual(['03:00', '04:00', '05:00']);
    clock.set(T0 + 6 * HOUR + 30_000); // back in time for 06:00: every policy runs it
    await p!.runDueSchedules();
    expect(await slots('s-skip')).toEqual(['06:00']);
    expect(await slots('s-latest')).toEqual(['05:00', '06:00']);
    expect(await slots('s-backfill')).toEqual(['03:00', '04:00', '05:00', '06:00']);
  });

  test('overlap skip: no job for a slot while the previous one is unfinished', async () => {
    const clock = manualClock(T0);
    const [p] = await instances(1, clock.now);
    await p!.schedule('one-at-a-time', '* * * * *', 'tick', {}, { overlap: 'skip' });
    await p!.schedule('many', '* * * * *', 'tick', {});
    for (let i = 1; i <= 3; i++) {
      clock.set(T0 + i * MIN + 1000);
      await p!.runDueSchedules();
    }
    const byName = async (name: string) => (await p!.list({ type: 'tick' })).filter((j) => j.idempotencyKey?.startsWith(`schedule:${name}@`));
    const first = await byName('one-at-a-time');
    expect(first).toHaveLength(1); // nobody runs the jobs: the first stays unfinished
    expect(await byName('many')).toHaveLength(3);
    await p!.cancel(first[0]!.id);
    clock.set(T0 + 4 * MIN + 1000);
    await p!.runDueSchedules();
    expect((await byName('one-at-a-time')).map((j) => slotOf(j.idempotencyKey).slice(11, 16))).toEqual(['00:01', '00:04']);
  });

  test('pause, resume and delete; a missing schedule is SCHEDULE_NOT_FOUND', async () => {
    const clock = manualClock(T0);
    const [p] = await instances(1, clock.now);
    await p!.schedule('hourly', '0 * * * *', 'tick', {});
    expect((await p!.pauseSchedule('hourly')).paused).toBe(true);
    clock.set(T0 + 3 * HOUR + MIN);
    expect(await p!.runDueSchedules()).toEqual([]);
    const resumed = await p!.resumeSchedule('hourly');
    expect(resumed.paused).toBe(false);
    expect(resumed.nextAt).toBe(T0 + 4 * HOUR); // the slots it was paused over are not run
    clock.set(T0 + 4 * HOUR + 1000);
    expect(await p!.runDueSchedules()).toHaveLength(1);
    await p!.deleteSchedule('hourly');
    expect(await p!.schedules()).toEqual([]);
    for (const call of [() => p!.deleteSchedule('hourly'), () => p!.pauseSchedule('nope'), () => p!.resumeSchedule('nope')]) {
      await expect(call()).rejects.toMatchObject({ code: 'SCHEDULE_NOT_FOUND' });
    }
  });

  test('a wrong pattern, time zone, option, job type or parameters is refused, nothing stored', async () => {
    const clock = manualClock(T0);
    const [p] = await instances(1, clock.now);
    const attempts: Array<[() => Promise<unknown>, string]> = [
      [() => p!.schedule('x', 'not a cron', 'tick', {}), 'INVALID_INPUT'],
      [() => p!.schedule('x', '61 * * * *', 'tick', {}), 'INVALID_INPUT'],
      [() => p!.schedule('x', '0 * * * *', 'tick', {}, { timezone: 'Mars/Olympus' }), 'INVALID_INPUT'],
      [() => p!.schedule('x', '0 * * * *', 'tick', {}, { overlap: 'never' as 'skip' }), 'INVALID_INPUT'],
      [() => p!.schedule('x', '0 * * * *', 'tick', {}, { missed: { backfill: 0 } }), 'INVALID_INPUT'],
      [() => p!.schedule('x', '0 * * * *', 'tick', {}, { missed: 'all' as 'skip' }), 'INVALID_INPUT'],
      [() => p!.schedule('x', '0 * * * *', 'no-such-type', {}), 'UNKNOWN_JOB_TYPE'],
      [() => p!.schedule('x', '0 * * * *', 'tick', 'not an object'), 'INVALID_INPUT'],
      [() => p!.schedule('', '0 * * * *', 'tick', {}), 'INVALID_INPUT'],
    ];
    for (const [call, code] of attempts) {
      const error = await call().then(() => null, (e: unknown) => e);
      expect(isPhaselineError(error, code as 'INVALID_INPUT'), `${String(error)} is ${code}`).toBe(true);
    }
    expect(await p!.schedules()).toEqual([]);
  });

  test('the scheduler loop of start() enqueues each slot on the real clock, and the workers run them', async () => {
    const db = await freshDatabase();
    const p = await open({ db });
    let runs = 0;
    p.register({ name: 'every-second', lifecycle: 'uws', handler: async () => ++runs });
    await p.schedule('each-second', '* * * * * *', 'every-second', {});
    const other = createPhaseline({ db }); // a second process's scheduler: still one job per slot
    other.register({ name: 'every-second', lifecycle: 'uws', handler: async () => ++runs });
    p.start({ ...FAST });
    other.start({ ...FAST });
    try {
      await waitFor(async () => (runs >= 3 ? true : null), 8000, 'three slots run');
    } finally {
      await other.close(0);
    }
    await p.stop(0);
    const jobs = await p.list({ type: 'every-second' });
    const keys = jobs.map((j) => j.idempotencyKey);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(slotOf(key)).toMatch(/T\d\d:\d\d:\d\d\.000Z$/);
  });
});

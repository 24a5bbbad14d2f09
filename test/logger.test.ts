/**
 * The `logger` option: a real pino logger writing to a stream gets the workers' structured events
 * (claims, attempt ends, lost leases, recoveries) with job id, type and attempt; a bad logger is
 * refused; and a run without one writes nothing to stdout or stderr (a real process, compared
 * with a control run that has a logger, so the check can fail).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createPhaseline, defineJobType, type Logger, type Phaseline } from '../src/index.ts';
import { engineOf } from '../src/internal.ts';
import { newLeaseId } from '../src/runner/leases.ts';
import { makeTempDir, REPO_ROOT, sleep } from './helpers/processes.ts';

interface Entry {
  level: number;
  msg: string;
  jobId?: number;
  type?: string;
  attempt?: number;
  outcome?: string;
  workerId?: string;
  [key: string]: unknown;
}

/** A pino logger at debug writing JSON lines into an array. */
function recordingPino(): { logger: pino.Logger; entries: Entry[] } {
  const entries: Entry[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) entries.push(JSON.parse(line) as Entry);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), entries };
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 };
let open: Phaseline | null = null;
afterEach(async () => {
  await open?.close(0);
  open = null;
});

describe('logger option', () => {
  it('a pino logger (the structural type accepts it) gets claims, attempt ends, lost leases and recoveries', async () => {
    const { logger, entries } = recordingPino();
    const typed: Logger = logger; // pino's logger is a Logger, for a strict consumer too
    const p = (open = createPhaseline({ db: ':memory:', logger: typed }));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let failures = 0;
    const type = p.register(defineJobType<{ kind: string }>({
      name: 'logged', lifecycle: 'rime', attempts: 2, backoff: { baseMs: 1, maxMs: 1, jitter: false },
      handler: async (ctx) => {
        if (ctx.params.kind === 'fail' && failures++ === 0) throw new Error('boom');
        if (ctx.params.kind === 'hold') await held;
        return { ok: true };
      },
    }));
    const ended = new Set<number>();
    p.on('job:ended', ({ job }) => ended.add(job.id));
    // A job under a lease nobody renews (its worker died): recovered by ours once it expires.
    const orphan = await p.enqueue(type, { kind: 'ok' });
    const dead = newLeaseId(30);
    engineOf(p).claimDue(1, ['logged'], (now) => ({ leaseId: dead, leaseExpiresAt: now + 30, workerId: 'dead', actor: `dead/${dead}` }));
    const ok = await p.enqueue(type, { kind: 'ok' });
    const fail = await p.enqueue(type, { kind: 'fail' });
    const hold = await p.enqueue(type, { kind: 'hold' });
    const workers = p.start({ concurrency: 3, pollIntervalMs: 5, leaseMs: 300 });
    await until('the held job to run', () => workers.activeJobIds.includes(hold));
    // Another process recovers the held job meanwhile (its lease is taken away): ours must say it lost it.
    const row = engineOf(p).get(hold);
    engineOf(p).send(hold, { type: 'LEASE_LOST', retryAt: 0 }, { fence: { leaseId: row.leaseId! }, actor: 'elsewhere/recovery' });
    release();
    await until('every job to end', () => [orphan, ok, fail, hold].every((id) => ended.has(id)));
    await p.stop(0);

    const of = (msg: string, jobId: number) => entries.filter((e) => e.msg === msg && e.jobId === jobId);
    // Claims: debug, with id, type, attempt and the worker.
    const claims = of('job claimed', fail);
    expect(claims.map((e) => e.attempt)).toEqual([1, 2]);
    expect(claims.every((e) => e.level === LEVEL.debug && e.type === 'logged' && e.workerId === workers.workerId)).toBe(true);
    // Attempt ends: the failure at info with its message and retry instant, the success at debug.
    const ends = of('attempt ended', fail);
    expect(ends.map((e) => [e.attempt, e.outcome, e.level])).toEqual([[1, 'failed', LEVEL.info], [2, 'succeeded', LEVEL.debug]]);
    expect((ends[0]!.err as { message: string }).message).toBe('boom');
    expect(typeof ends[0]!.retryAt).toBe('number');
    expect(of('attempt ended', ok).map((e) => e.outcome)).toEqual(['succeeded']);
    // The recovery of the orphan, at info, then its second attempt.
    const recovered = of('job recovered from an expired lease', orphan);
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({ level: LEVEL.info, type: 'logged', attempt: 1, event: 'LEASE_LOST' });
    expect(of('job claimed', orphan).map((e) => e.attempt)).toEqual([2]);
    // The held job's lost lease, at warn; its handler's return wrote nothing.
    const lost = of('lease lost', hold);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ level: LEVEL.warn, attempt: 1, leaseId: row.leaseId });
    expect(of('attempt ended', hold).map((e) => e.attempt)).toEqual([2]);
  });

  it('errors outside jobs go to the logger at error as well as to the error event', async () => {
    const { logger, entries } = recordingPino();
    const p = (open = createPhaseline({ db: ':memory:', logger }));
    const heard: string[] = [];
    p.on('error', ({ where }) => heard.push(where));
    p.on('job:transition', () => {
      throw new Error('observer bug');
    });
    p.register(defineJobType({ name: 't', lifecycle: 'rime', handler: async () => null }));
    await p.enqueue('t', null);
    const errors = entries.filter((e) => e.level === LEVEL.error);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ where: 'listener of job:transition', err: { message: 'observer bug' } });
    expect(heard).toContain('listener of job:transition');
  });

  it('a logger without child gets the bindings merged into each entry', async () => {
    const seen: Array<[string, Record<string, unknown>, string | undefined]> = [];
    const logger: Logger = {
      debug: (o, m) => seen.push(['debug', o, m]),
      info: (o, m) => seen.push(['info', o, m]),
      warn: (o, m) => seen.push(['warn', o, m]),
      error: (o, m) => seen.push(['error', o, m]),
    };
    const p = (open = createPhaseline({ db: ':memory:', logger }));
    p.register(defineJobType({ name: 't', lifecycle: 'rime', handler: async () => null }));
    const id = await p.enqueue('t', null);
    const workers = p.start({ pollIntervalMs: 5, workerId: 'w-1' });
    await until('the job to end', () => seen.some(([, o, m]) => m === 'attempt ended' && o.jobId === id));
    expect(seen.find(([, , m]) => m === 'job claimed')).toEqual(['debug', { workerId: 'w-1', jobId: id, type: 't', attempt: 1, leaseId: expect.any(String) }, 'job claimed']);
    expect(workers.workerId).toBe('w-1');
  });

  it('a logger that throws breaks nothing', async () => {
    const bad = () => {
      throw new Error('logger down');
    };
    const p = (open = createPhaseline({ db: ':memory:', logger: { debug: bad, info: bad, warn: bad, error: bad } }));
    p.register(defineJobType({ name: 't', lifecycle: 'rime', handler: async () => 7 }));
    const id = await p.enqueue('t', null);
    p.start({ pollIntervalMs: 5 });
    await until('the job to succeed', () => engineOf(p).get(id).outcome === 'succeeded');
  });

  it('refuses a logger without the four levels (INVALID_INPUT), before any database is opened', () => {
    const { dir, remove } = makeTempDir('phaseline-logger-');
    try {
      const file = join(dir, 'never.db');
      for (const logger of [{ debug() {}, info() {}, warn() {} }, 'console', { debug() {}, info() {}, warn() {}, error() {}, child: 3 }]) {
        expect(() => createPhaseline({ file, logger: logger as never })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
      }
      expect(spawnSync('ls', [dir]).stdout.toString()).toBe('');
    } finally {
      remove();
    }
  });
});

describe('no logger: nothing on the console', () => {
  const fixture = join(REPO_ROOT, 'test', 'fixtures', 'logger', 'quiet-run.ts');
  const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', fixture, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });

  it('a run with a success, a retried failure, a recovery and throwing listeners writes nothing to stdout or stderr', () => {
    const quiet = run([]);
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toBe('');
    // The control: the same run with a logger on stderr does write (so the check above can fail).
    const loud = run(['console']);
    expect(loud.status, loud.stderr).toBe(0);
    expect(loud.stderr).toContain('job recovered from an expired lease');
    expect(loud.stderr).toContain('listener of job:transition');
  }, 120_000);
});

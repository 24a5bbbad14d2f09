/**
 * The CLI as a user runs it: a real process on a real file. The demo fills the database with jobs of
 * all five lifecycles; the tables fit the terminal and --json parses; cancel, reply and send change
 * demo jobs, and a refused one changes nothing (exit 1); replay finds nothing wrong, and a row
 * corrupted by hand makes replay report it and exit 1.
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isOneLineError, phaseline as run } from './fixtures/cli/run.ts';
import { tempDir } from './support/sqlite.ts';

const dir = tempDir('cli');
const db = join(dir, 'demo.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const phaseline = (...args: string[]) => run(['--db', db, ...args]);
const json = <T = Record<string, unknown>>(...args: string[]): T => {
  const result = phaseline(...args, '--json');
  expect(result.code, result.err).toBe(0);
  return JSON.parse(result.out) as T;
};
/** Rows of a table: everything after the header and its rule. */
const rows = (out: string) => out.trimEnd().split('\n').slice(2);

describe('phaseline CLI', () => {
  it('demo runs jobs of all five lifecycles through their typical paths', () => {
    const demo = phaseline('demo');
    expect(demo.err).toBe('');
    expect(demo.code).toBe(0);
    const sqlite = new Database(db, { readonly: true });
    const stored = sqlite.prepare('SELECT lifecycle, state, outcome FROM jobs ORDER BY id').all() as Array<{ lifecycle: string; state: string; outcome: string | null }>;
    const types = new Set(sqlite.prepare('SELECT type FROM job_events').pluck().all() as string[]);
    sqlite.close();
    expect(new Set(stored.map((r) => r.lifecycle))).toEqual(new Set(['ecotaxa', 'uws', 'rime', 'synapse', 'qiskit']));
    const states = stored.map((r) => `${r.lifecycle}:${r.state}`);
    // success, failure, cancel, ask and reply, archive
    expect(states).toEqual(expect.arrayContaining(['ecotaxa:F', 'uws:ARCHIVED', 'uws:ABORTED', 'uws:PENDING', 'rime:JOB_STATUS_SUCCEEDED', 'rime:JOB_STATUS_CANCELLED', 'synapse:COMPLETE', 'qiskit:DONE', 'qiskit:ERROR']));
    for (const type of ['ASK', 'REPLY', 'ARCHIVE', 'CANCEL', 'CANCEL_DONE', 'FAIL', 'SUCCEED', 'PROGRESS', 'SLEEP', 'WAKE']) expect(types).toContain(type);
    expect(demo.out).toMatch(/^id\s+lifecycle\s+type\s+state/m);
  });

  it('schedules lists the demo\'s paused schedule; pause, resume, delete; a missing one is one line, exit 2', () => {
    const listed = json<Array<{ name: string; paused: boolean; lastJobId: number }>>('schedules');
    expect(listed).toEqual([expect.objectContaining({ name: 'demo-heartbeat', paused: true })]);
    // Its job's id depends on when its slot came among the demo's own creations: the job is the heartbeat.
    const heartbeats = json<Array<{ id: number; type: string }>>('jobs').filter((j) => j.type === 'demo.heartbeat');
    expect(heartbeats.map((j) => j.id)).toEqual([listed[0]!.lastJobId]);
    expect(phaseline('schedules').out).toMatch(/^name\s+cron\s+timezone/m);
    expect(json<{ paused: boolean }>('schedules', 'resume', 'demo-heartbeat').paused).toBe(false);
    expect(json<{ paused: boolean }>('schedules', 'pause', 'demo-heartbeat').paused).toBe(true);
    for (const args of [['schedules', 'resume', 'nope'], ['schedules', 'frobnicate'], ['schedules', 'pause']]) {
      const refused = phaseline(...args);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(isOneLineError(refused), refused.err).toBe(true);
    }
    expect(phaseline('schedules', 'delete', 'demo-heartbeat').code).toBe(0);
    expect(phaseline('schedules').out).toBe('no schedules\n');
  });

  it('jobs filters like the UWS list: PHASE repeatable, LAST; --json is the same jobs', () => {
    const done = phaseline('jobs', '--phase', 'DONE', '--phase', 'ERROR');
    expect(done.code).toBe(0);
    expect(rows(done.out)).toHaveLength(2);
    expect(rows(done.out).every((l) => /\b(DONE|ERROR)\b/.test(l))).toBe(true);
    expect(rows(phaseline('jobs', '--last', '3').out)).toHaveLength(3);
    const all = json<Array<{ id: number; state: string }>>('jobs');
    // The ten lifecycle jobs, the sleeping one, the parent and its two children, and the one job of the schedule the demo pauses after it.
    expect(all.map((j) => j.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(json<Array<{ state: string }>>('jobs', '--phase', 'DONE', '--phase', 'ERROR').map((j) => j.state).sort()).toEqual(['DONE', 'ERROR']);
    expect(json<unknown[]>('jobs', '--owner', 'nobody')).toEqual([]);
    // A state no lifecycle has is a usage error, not an empty list.
    const unknown = phaseline('jobs', '--phase', 'FINISHED');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/^phaseline: --phase FINISHED: no loaded lifecycle has such a state \(states: .*EXECUTING.*JOB_STATUS_RUNNING/);
  });

  it('tables fit the terminal: a failed job shows its error, actors are short, long cells end in an ellipsis', () => {
    const failed = json<{ id: number; errors: Array<{ message: string }> }>('show', '10');
    const message = failed.errors.at(-1)!.message;
    const line = rows(run(['--db', db, 'jobs'], { COLUMNS: '200' }).out).find((l) => l.startsWith('10 '))!;
    expect(line).toMatch(/\bERROR\b/);
    expect(line.endsWith(`  ${message}`)).toBe(true);
    const narrow = rows(phaseline('jobs').out).find((l) => l.startsWith('10 '))!;
    expect(narrow.length).toBeLessThanOrEqual(120);
    const cell = narrow.slice(narrow.lastIndexOf('  ') + 2); // 120 columns: the message is cut
    expect(cell).toMatch(/^\S.{4,}…$/);
    expect(message.startsWith(cell.slice(0, -1))).toBe(true);

    const history = run(['--db', db, 'history', '1'], { COLUMNS: '72' });
    const lines = history.out.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(72);
    expect(lines.some((l) => l.endsWith('…'))).toBe(true);
    const wide = phaseline('history', '1').out; // 120 columns when not a terminal
    expect(Math.max(...wide.trimEnd().split('\n').map((l) => l.length))).toBeLessThanOrEqual(120);
    expect(wide).toMatch(/\bworker-[0-9a-f]+\/[0-9a-f]{8}\b/);
    expect(wide).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}/);
  });

  it('show and history print a job and its events; --json gives the objects', () => {
    const show = phaseline('show', '1');
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/^job\s+1\s+ecotaxa@1\s+ecotaxa\.import$/m);
    expect(show.out).toMatch(/^state\s+F \(succeeded\)$/m);
    expect(json('show', '1')).toMatchObject({ id: 1, lifecycle: 'ecotaxa', state: 'F' });
    const history = phaseline('history', '1');
    expect(history.out).toMatch(/\bCREATE\b/);
    expect(history.out).toMatch(/\bASK\b[\s\S]*\bREPLY\b/);
    const events = json<Array<{ seq: number; type: string }>>('history', '1');
    expect(events[0]).toMatchObject({ seq: 1, type: 'CREATE' });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['ASK', 'REPLY', 'SUCCEED']));
    expect(phaseline('show', '999')).toMatchObject({ code: 2, err: 'phaseline: No job with id 999\n' });
  });

  it('a refused reply, cancel or send: one line, exit 1, the job and its history unchanged', () => {
    const before = { job: json('show', '1'), history: json('history', '1'), draft: json('show', '4') };
    const refusals: Array<[string[], string]> = [
      [['reply', '1', '{"taxa":"Calanus"}'], 'phaseline: Job 1 (ecotaxa) in state F does not accept REPLY\n'],
      [['cancel', '1'], 'phaseline: Job 1 (ecotaxa) in state F does not accept CANCEL\n'],
      [['send', '1', 'KILL'], 'phaseline: Job 1 (ecotaxa) in state F does not accept KILL\n'],
    ];
    for (const [args, err] of refusals) expect(phaseline(...args)).toEqual({ code: 1, out: '', err });
    // Bad input: exit 2, and nothing is sent either.
    for (const args of [['reply', '1', '{not json'], ['send', '4', 'RUN', '[1, 2]'], ['send', '4', 'CLAIM'], ['send', '4', 'RUN', '{"type":"ABORT"}'], ['send', '99', 'RUN']]) {
      const bad = phaseline(...args);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(isOneLineError(bad), bad.err).toBe(true);
    }
    expect({ job: json('show', '1'), history: json('history', '1'), draft: json('show', '4') }).toEqual(before);
  });

  it('send (with a JSON payload merged into the event) and cancel change a demo job', () => {
    expect(phaseline('send', '4', 'SET', '{"priority":7,"executionDuration":60}')).toEqual({ code: 0, out: 'job 4: PENDING -> PENDING\n', err: '' });
    expect(json('show', '4')).toMatchObject({ state: 'PENDING', priority: 7, executionDuration: 60 });
    expect(json<Array<{ type: string; payload: unknown }>>('history', '4').at(-1)).toMatchObject({ type: 'SET', payload: { priority: 7, executionDuration: 60 } });
    expect(phaseline('send', '4', 'RUN')).toEqual({ code: 0, out: 'job 4: PENDING -> QUEUED\n', err: '' });
    expect(phaseline('cancel', '4')).toEqual({ code: 0, out: 'job 4: QUEUED -> ABORTED\n', err: '' });
    expect(json('show', '4')).toMatchObject({ state: 'ABORTED', outcome: 'cancelled' });
    expect(phaseline('cancel', '4')).toMatchObject({ code: 1, err: 'phaseline: Job 4 (uws) in state ABORTED does not accept CANCEL\n' });
  });

  it('replay reports 0 diverged on the demo database, then a row corrupted by hand', () => {
    const clean = phaseline('replay');
    expect(clean.code).toBe(0);
    expect(clean.out.trim().split('\n').at(-1)).toMatch(/^replayed 15 jobs, 0 diverged$/);
    expect(json('replay')).toMatchObject({ jobs: 15, diverged: 0, reports: [], notReplayed: [] });
    const sqlite = new Database(db);
    sqlite.prepare("UPDATE jobs SET progress_percent = 42, state = 'P' WHERE id = 1").run();
    sqlite.close();
    const dirty = phaseline('replay');
    expect(dirty.code).toBe(1);
    expect(dirty.out).toMatch(/^1 job: ecotaxa@1: SUCCEED in R leads to F, not P$/m);
    expect(dirty.out).toMatch(/^job 1: state diverges at event \d+ \(SUCCEED\): stored "P", replayed "F"$/m);
    expect(dirty.out.trim().split('\n').at(-1)).toMatch(/^replayed 15 jobs, 1 diverged$/);
    const report = phaseline('replay', '--json');
    expect(report.code).toBe(1);
    expect(JSON.parse(report.out)).toMatchObject({ jobs: 15, diverged: 1, reports: [{ jobId: 1 }] });
    expect(phaseline('replay', '2').code).toBe(0);
    expect(phaseline('replay', '1').code).toBe(1);
    expect(phaseline('replay', '42')).toEqual({ code: 2, out: '', err: 'phaseline: No job with id 42\n' });
  });
});

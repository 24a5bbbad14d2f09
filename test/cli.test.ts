/**
 * The CLI as a user runs it: a real process on a real file. The demo fills the database with jobs of
 * all five lifecycles, replay finds nothing wrong, and a row corrupted by hand makes replay report it
 * and exit 1.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'phaseline-cli-'));
const db = join(dir, 'demo.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function phaseline(...args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), '--db', db, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

describe('phaseline CLI', () => {
  it('demo runs jobs of all five lifecycles through their typical paths', () => {
    const run = phaseline('demo');
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const sqlite = new Database(db, { readonly: true });
    const rows = sqlite.prepare('SELECT lifecycle, state, outcome FROM jobs ORDER BY id').all() as Array<{ lifecycle: string; state: string; outcome: string | null }>;
    const types = new Set(sqlite.prepare('SELECT type FROM job_events').pluck().all() as string[]);
    sqlite.close();
    expect(new Set(rows.map((r) => r.lifecycle))).toEqual(new Set(['ecotaxa', 'uws', 'rime', 'synapse', 'qiskit']));
    const states = rows.map((r) => `${r.lifecycle}:${r.state}`);
    // success, failure, cancel, ask and reply, archive
    expect(states).toEqual(expect.arrayContaining(['ecotaxa:F', 'uws:ARCHIVED', 'uws:ABORTED', 'uws:PENDING', 'rime:JOB_STATUS_SUCCEEDED', 'rime:JOB_STATUS_CANCELLED', 'synapse:COMPLETE', 'qiskit:DONE', 'qiskit:ERROR']));
    for (const type of ['ASK', 'REPLY', 'ARCHIVE', 'CANCEL', 'CANCEL_DONE', 'FAIL', 'SUCCEED', 'PROGRESS']) expect(types).toContain(type);
    expect(run.out).toMatch(/^id\s+lifecycle\s+type\s+state/m);
  });

  it('jobs filters like the UWS list: PHASE repeatable, LAST', () => {
    const run = phaseline('jobs', '--phase', 'DONE', '--phase', 'ERROR');
    expect(run.code).toBe(0);
    const lines = run.out.trim().split('\n').slice(2);
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => /\b(DONE|ERROR)\b/.test(l))).toBe(true);
    expect(phaseline('jobs', '--last', '3').out.trim().split('\n').slice(2)).toHaveLength(3);
    expect(phaseline('jobs', '--after', 'not a date').code).toBe(2);
  });

  it('show and history print a job and its events', () => {
    const show = phaseline('show', '1');
    expect(show.code).toBe(0);
    expect(JSON.parse(show.out)).toMatchObject({ id: 1, lifecycle: 'ecotaxa', state: 'F' });
    const history = phaseline('history', '1');
    expect(history.out).toMatch(/\bCREATE\b/);
    expect(history.out).toMatch(/\bASK\b[\s\S]*\bREPLY\b/);
    expect(phaseline('show', '999').code).toBe(2);
  });

  it('replay reports 0 diverged on the demo database, then a row corrupted by hand', () => {
    const clean = phaseline('replay');
    expect(clean.code).toBe(0);
    expect(clean.out.trim().split('\n').at(-1)).toMatch(/^replayed \d+ jobs, 0 diverged$/);
    const sqlite = new Database(db);
    sqlite.prepare("UPDATE jobs SET progress_percent = 42, state = 'P' WHERE id = 1").run();
    sqlite.close();
    const dirty = phaseline('replay');
    expect(dirty.code).toBe(1);
    expect(dirty.out).toMatch(/^job 1: state diverges at event \d+: stored "P", replayed "F"$/m);
    expect(dirty.out.trim().split('\n').at(-1)).toMatch(/^replayed \d+ jobs, 1 diverged$/);
    expect(phaseline('replay', '2').code).toBe(0);
    expect(phaseline('replay', '1').code).toBe(1);
  });
});

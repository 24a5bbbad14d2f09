/**
 * Replay before deploy and upgrades, as a user runs them: real CLI processes on a database the demo
 * made. A candidate that changes a built-in machine in place makes `replay --lifecycles` exit 1 and
 * name the cause; the unchanged machine exits 0; `export` then `replay --from` the file gives the
 * same report without any database; a malformed line is exit 2 with its number; `upgrade` moves
 * the demo's draft to UWS version 2 (an UPGRADE event; replay 0 diverged; a worker then finishes
 * it) and leaves an edited draft, with the reason; an unknown version changes nothing.
 */
import Database from 'better-sqlite3';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uwsCutout } from '../src/demo/jobtypes.ts';
import { createPhaseline } from '../src/phaseline.ts';
import { FIXTURES, isOneLineError, phaseline as run, ROOT } from './fixtures/cli/run.ts';
import { uwsV2 } from './fixtures/cli/uws-v2.ts';
import { dumpAll, tempDir } from './support/sqlite.ts';

const dir = tempDir('cli-replay');
const db = join(dir, 'demo.db');
const exported = join(dir, 'histories.jsonl');
const RIME_CHANGED = join(FIXTURES, 'rime-changed.ts');
const RIME_COPY = join(FIXTURES, 'rime-copy.ts');
const UWS_V2 = join(FIXTURES, 'uws-v2.ts');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const phaseline = (...args: string[]) => run(['--db', db, ...args]);
const lines = (out: string) => out.trimEnd().split('\n');
const dump = () => {
  const sqlite = new Database(db, { readonly: true });
  try {
    return dumpAll(sqlite);
  } finally {
    sqlite.close();
  }
};
const query = <T>(sql: string): T[] => {
  const sqlite = new Database(db, { readonly: true });
  try {
    return sqlite.prepare(sql).all() as T[];
  } finally {
    sqlite.close();
  }
};

beforeAll(() => {
  const demo = phaseline('demo');
  expect(demo.code, demo.err).toBe(0);
});

describe('phaseline replay --lifecycles: a candidate machine against the stored histories', () => {
  it('RIME changed in place: exit 1, the cause named with the job and its first differing event; the unchanged machine: exit 0', () => {
    const [cancelled] = query<{ id: number }>("SELECT id FROM jobs WHERE lifecycle = 'rime' AND state = 'JOB_STATUS_CANCELLED'");
    const changed = phaseline('--lifecycles', RIME_CHANGED, 'replay');
    expect(changed.err).toBe('');
    expect(changed.code).toBe(1);
    const out = lines(changed.out);
    expect(out[0]).toBe('1 job: rime@1: CANCEL in JOB_STATUS_RUNNING leads to JOB_STATUS_CANCELLED, not JOB_STATUS_RUNNING');
    expect(out[1]).toMatch(new RegExp(`^job ${cancelled!.id}: state diverges at event \\d+ \\(CANCEL\\): stored "JOB_STATUS_RUNNING", replayed "JOB_STATUS_CANCELLED"$`));
    expect(out.at(-1)).toBe('replayed 15 jobs, 1 diverged');

    expect(phaseline('--lifecycles', RIME_COPY, 'replay')).toEqual({ code: 0, out: 'replayed 15 jobs, 0 diverged\n', err: '' });
    expect(phaseline('replay')).toEqual({ code: 0, out: 'replayed 15 jobs, 0 diverged\n', err: '' });
  });

  it('export writes one job a line; replay --from that file gives the same report as the database, and needs none', () => {
    expect(phaseline('export', '--out', exported)).toMatchObject({ code: 0, out: expect.stringMatching(/^exported 15 jobs \(\d+ events\) to .*histories\.jsonl\n$/), err: '' });
    const text = readFileSync(exported, 'utf8');
    const histories = lines(text).map((line) => JSON.parse(line) as { format: number; job: { id: number }; events: Array<{ seq: number }> });
    expect(histories.map((h) => h.job.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(histories.every((h) => h.format === 1 && h.events[0]!.seq === 1)).toBe(true);
    expect(phaseline('export')).toEqual({ code: 0, out: text, err: '' });
    expect(phaseline('export', '--since', '2999-01-01T00:00:00Z')).toEqual({ code: 0, out: '', err: '' });

    const fromDb = phaseline('--lifecycles', RIME_CHANGED, 'replay', '--json');
    const fromFile = run(['--lifecycles', RIME_CHANGED, 'replay', '--from', exported, '--json']);
    expect(fromFile.code).toBe(1);
    expect(fromDb.code).toBe(1);
    expect(JSON.parse(fromFile.out)).toEqual(JSON.parse(fromDb.out));
    expect(JSON.parse(fromFile.out)).toMatchObject({ jobs: 15, diverged: 1, causes: [{ cause: 'state', jobs: 1 }], notReplayed: [] });

    // No database is opened, or created: not even the default ./phaseline.db.
    const defaultDb = join(ROOT, 'phaseline.db');
    const before = existsSync(defaultDb) ? statSync(defaultDb).mtimeMs : null;
    expect(run(['replay', '--from', exported])).toEqual({ code: 0, out: 'replayed 15 jobs, 0 diverged\n', err: '' });
    expect(existsSync(defaultDb) ? statSync(defaultDb).mtimeMs : null).toBe(before);
    expect(run(['replay', '--from', exported, '3'])).toEqual({ code: 0, out: 'replayed 1 jobs, 0 diverged\n', err: '' });
    const both = phaseline('replay', '--from', exported);
    expect(both).toMatchObject({ code: 2, out: '', err: 'phaseline: replay --from reads histories from a file: give --db or --from, not both\n' });
  });

  it('a malformed line is exit 2 with its number, in one line; so is a missing file', () => {
    const good = lines(readFileSync(exported, 'utf8'));
    const broken = join(dir, 'broken.jsonl');
    writeFileSync(broken, [good[0], good[1], '{"job": {"id": 3', good[3]].join('\n'));
    const notJson = run(['replay', '--from', broken]);
    expect(notJson.code).toBe(2);
    expect(notJson.out).toBe('');
    expect(isOneLineError(notJson), notJson.err).toBe(true);
    expect(notJson.err).toMatch(/^phaseline: --from .*broken\.jsonl line 3: not JSON \(/);

    writeFileSync(broken, [good[0], '{"job": {"id": 2}, "events": []}'].join('\n'));
    const notHistory = run(['replay', '--from', broken]);
    expect(notHistory).toMatchObject({ code: 2, out: '' });
    expect(notHistory.err).toMatch(/^phaseline: --from .*broken\.jsonl line 2: the job lacks lifecycle, lifecycleVersion, /);

    const missing = run(['replay', '--from', join(dir, 'nothing.jsonl')]);
    expect(missing).toMatchObject({ code: 2, out: '' });
    expect(missing.err).toMatch(/^phaseline: --from .*nothing\.jsonl: no such file\n$/);
  });
});

describe('phaseline upgrade', () => {
  it('moves the compatible draft (UPGRADE in its history, replay 0 diverged, a worker finishes it) and keeps the edited one; an unknown version changes nothing', async () => {
    // A second draft, its parameters edited: UWS version 2 refuses that edit.
    const setup = createPhaseline({ file: db });
    setup.register(uwsCutout);
    const edited = await setup.enqueue(uwsCutout, { ra: 1, dec: 2 }, { start: false });
    await setup.send(edited, { type: 'SET', params: { ra: 3, dec: 4 } });
    await setup.close();
    const [draft] = query<{ id: number }>(`SELECT id FROM jobs WHERE lifecycle = 'uws' AND state = 'PENDING' AND id <> ${edited}`);
    const untouched = dump();

    expect(phaseline('upgrade', '--lifecycle', 'uws', '--to', '2')).toEqual({
      code: 2, out: '', err: 'phaseline: No lifecycle uws version 2 is registered; load it with --lifecycles FILE\n',
    });
    expect(phaseline('--lifecycles', UWS_V2, 'upgrade', '--lifecycle', 'uws', '--to', '9')).toEqual({
      code: 2, out: '', err: 'phaseline: No lifecycle uws version 9 is registered; load it with --lifecycles FILE\n',
    });
    const reason = 'at event 2 (SET): uws@2 refuses SET in state PENDING (stored: PENDING → PENDING on SET)';
    expect(phaseline('--lifecycles', UWS_V2, 'upgrade', '--lifecycle', 'uws', '--to', '2', '--dry-run')).toEqual({
      code: 1,
      out: `job ${draft!.id}: uws@1 -> uws@2 (dry run)\njob ${edited}: stays on uws@1: ${reason}\nwould upgrade 1 job to uws@2, 1 kept (dry run: nothing written)\n`,
      err: '',
    });
    expect(dump()).toEqual(untouched);

    expect(phaseline('--lifecycles', UWS_V2, 'upgrade', '--lifecycle', 'uws', '--to', '2')).toEqual({
      code: 1,
      out: `job ${draft!.id}: uws@1 -> uws@2\njob ${edited}: stays on uws@1: ${reason}\nupgraded 1 job to uws@2, 1 kept\n`,
      err: '',
    });
    const history = JSON.parse(phaseline('history', String(draft!.id), '--json').out) as Array<{ type: string; payload: unknown; actor: string }>;
    expect(history.map((e) => e.type)).toEqual(['CREATE', 'UPGRADE']);
    expect(history[1]).toMatchObject({ payload: { from: 1, to: 2 }, actor: 'cli', stateBefore: 'PENDING', stateAfter: 'PENDING' });
    expect(JSON.parse(phaseline('show', String(edited), '--json').out)).toMatchObject({ lifecycleVersion: 1, state: 'PENDING' });
    expect(phaseline('--lifecycles', UWS_V2, 'replay')).toEqual({ code: 0, out: 'replayed 16 jobs, 0 diverged\n', err: '' });
    // Without version 2 the moved job cannot be replayed, and says so.
    expect(phaseline('replay')).toMatchObject({ code: 2, err: 'phaseline: 1 job was not replayed: lifecycle uws@2 (1 job) not loaded; load it with --lifecycles FILE\n' });
    // Nothing left to move: the edited draft stays.
    expect(phaseline('--lifecycles', UWS_V2, 'upgrade', '--lifecycle', 'uws', '--to', '2', '--json')).toMatchObject({ code: 1 });

    // A worker that knows version 2 runs the moved job to the end.
    const worker = createPhaseline({ file: db, lifecycles: [uwsV2] });
    worker.register(uwsCutout);
    await worker.send(draft!.id, { type: 'RUN' });
    const ended = new Promise<void>((resolve) => worker.on('job:ended', ({ job }) => job.id === draft!.id && resolve()));
    worker.start({ pollIntervalMs: 20 });
    await ended;
    await worker.close();
    expect(JSON.parse(phaseline('show', String(draft!.id), '--json').out)).toMatchObject({ state: 'COMPLETED', lifecycleVersion: 2 });
    const after = JSON.parse(phaseline('history', String(draft!.id), '--json').out) as Array<{ type: string }>;
    expect(after.map((e) => e.type).slice(0, 4)).toEqual(['CREATE', 'UPGRADE', 'RUN', 'CLAIM']);
    expect(after.at(-1)!.type).toBe('SUCCEED');
    expect(phaseline('--lifecycles', UWS_V2, 'replay')).toEqual({ code: 0, out: 'replayed 16 jobs, 0 diverged\n', err: '' });
  });
});

/**
 * `--lifecycles FILE`: a database holding jobs of the user's own lifecycle replays and changes
 * with the module loaded; without it the CLI says which lifecycle is missing instead of reporting
 * divergences; a module that cannot be loaded or exports no lifecycle is one line, exit 2.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLifecycles } from '../src/cli/lifecycles.ts';
import { createPhaseline } from '../src/phaseline.ts';
import { FIXTURES, isOneLineError, phaseline } from './fixtures/cli/run.ts';
import { note } from './fixtures/cli/note-lifecycle.ts';
import { tempDir } from './support/sqlite.ts';

const dir = tempDir('cli-lifecycles');
const db = join(dir, 'notes.db');
const module = join(FIXTURES, 'note-lifecycle.ts');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Job 1 a UWS draft; jobs 2 and 3 notes written by a worker; job 4 a note nobody claimed yet. */
beforeAll(async () => {
  const p = createPhaseline({ file: db, lifecycles: [note] });
  const write = p.register({ name: 'note.write', lifecycle: 'note', attempts: 1, handler: async (ctx) => ({ words: JSON.stringify(ctx.params).length }) });
  p.register({ name: 'draft', lifecycle: 'uws', handler: async () => null });
  await p.enqueue('draft', null, { start: false });
  const ended = new Promise<void>((resolve) => {
    let count = 0;
    p.on('job:ended', () => ++count === 2 && resolve());
  });
  await p.enqueue(write, { text: 'first' });
  await p.enqueue(write, { text: 'second' });
  p.start({ pollIntervalMs: 10 });
  await ended;
  await p.stop();
  await p.enqueue(write, { text: 'later' });
  await p.close();
});

describe('phaseline --lifecycles', () => {
  it('replays jobs of a user lifecycle with 0 diverged', () => {
    const run = phaseline(['--db', db, '--lifecycles', module, 'replay']);
    expect(run.err).toBe('');
    expect(run.out).toBe('replayed 4 jobs, 0 diverged\n');
    expect(run.code).toBe(0);
    expect(phaseline(['--db', db, '--lifecycles', module, 'replay', '2'])).toMatchObject({ code: 0, out: 'replayed 1 jobs, 0 diverged\n' });
  });

  it('without it, replay names the missing lifecycle instead of reporting divergences (exit 2)', () => {
    const all = phaseline(['--db', db, 'replay']);
    expect(all.out).toBe('replayed 1 jobs, 0 diverged\n');
    expect(all.err).toBe('phaseline: 3 jobs were not replayed: lifecycle note@1 (3 jobs) not loaded; load it with --lifecycles FILE\n');
    expect(all.code).toBe(2);
    const json = phaseline(['--db', db, 'replay', '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ jobs: 1, diverged: 0, reports: [], notReplayed: [{ lifecycle: 'note@1', jobs: 3 }] });
    const one = phaseline(['--db', db, 'replay', '3']);
    expect(one).toMatchObject({ code: 2, out: '', err: 'phaseline: No lifecycle note version 1 is registered; load it with --lifecycles FILE\n' });
  });

  it('reads need no machine; changes do: cancel is refused without the module and done with it', () => {
    const list = phaseline(['--db', db, 'jobs', '--type', 'note.write', '--json']);
    expect((JSON.parse(list.out) as Array<{ state: string }>).map((j) => j.state)).toEqual(['done', 'done', 'open']);
    const refused = phaseline(['--db', db, 'cancel', '4']);
    expect(refused).toMatchObject({ code: 2, out: '' });
    expect(refused.err).toMatch(/^phaseline: No lifecycle note version 1 is registered; load it with --lifecycles FILE\n$/);
    expect(JSON.parse(phaseline(['--db', db, 'show', '4', '--json']).out)).toMatchObject({ state: 'open', version: 1 });
    const cancelled = phaseline(['--db', db, '--lifecycles', module, 'cancel', '4']);
    expect(cancelled).toMatchObject({ code: 0, out: 'job 4: open -> dropped\n', err: '' });
    expect(phaseline(['--db', db, '--lifecycles', module, 'replay'])).toMatchObject({ code: 0, out: 'replayed 4 jobs, 0 diverged\n' });
  });

  it('a module that is missing, fails to load, or exports no lifecycle: one line, exit 2, nothing created', () => {
    const fresh = join(dir, 'never.db');
    const cases: Array<[string, RegExp]> = [
      [join(FIXTURES, 'missing.ts'), /--lifecycles .*missing\.ts: no such file$/],
      [join(FIXTURES, 'throws.ts'), /--lifecycles .*throws\.ts: cannot load it: the lifecycle module is broken$/],
      [join(FIXTURES, 'no-lifecycles.ts'), /--lifecycles .*no-lifecycles\.ts exports no lifecycle: /],
      [join(FIXTURES, 'bad-array.ts'), /--lifecycles .*bad-array\.ts: "lifecycles"\[1\] is not a lifecycle \{ name, version, machine \}$/],
    ];
    for (const [file, message] of cases) {
      const run = phaseline(['--db', fresh, '--lifecycles', file, 'demo']);
      expect(run.code, file).toBe(2);
      expect(isOneLineError(run), run.err).toBe(true);
      expect(run.err.trimEnd()).toMatch(message);
    }
    expect(phaseline(['--db', fresh, 'jobs']).code).toBe(2); // still no database
  });
});

describe('loadLifecycles', () => {
  it('takes a default array, a named `lifecycles` array, or the named exports that are lifecycles', async () => {
    const versions = async (file: string) => (await loadLifecycles(join(FIXTURES, file))).map((l) => `${l.name}@${l.version}`);
    expect(await versions('default-array.ts')).toEqual(['note@1']);
    expect(await versions('named-array.ts')).toEqual(['note@2', 'note@1']);
    expect(await versions('note-lifecycle.ts')).toEqual(['note@1']);
    expect((await loadLifecycles(join(FIXTURES, 'note-lifecycle.ts')))[0]).toBe(note);
  });
});

/**
 * What a person sees when something is wrong: one line on stderr, never a stack frame, exit 2 for
 * usage errors and missing input; read commands never create a database; a file that is not a
 * Phaseline database is left as it was.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPhaseline } from '../src/phaseline.ts';
import { isOneLineError, phaseline, ROOT } from './fixtures/cli/run.ts';
import { tempDir } from './support/sqlite.ts';

const dir = tempDir('cli-errors');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

describe('phaseline CLI usage', () => {
  it('--version prints the version of package.json', () => {
    expect(phaseline(['--version'])).toEqual({ code: 0, out: `${version}\n`, err: '' });
    expect(phaseline(['-V']).out).toBe(`${version}\n`);
  });

  it('each subcommand has its help, exit 0', () => {
    for (const args of [['jobs', '--help'], ['help', 'jobs']]) {
      const run = phaseline(args);
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/^Usage: phaseline jobs \[options\]/);
      expect(run.out).toMatch(/--phase <state>/);
      expect(run.out).toMatch(/--json/);
    }
    expect(phaseline(['send', '--help']).out).toMatch(/^Usage: phaseline send \[options\] <id> <event> \[payload\]/);
    expect(phaseline(['serve', '--help']).out).toMatch(/--token-file <file>[\s\S]*--host <address>|--host <address>[\s\S]*--token-file <file>/);
    expect(phaseline(['--help']).out).toMatch(/Exit codes:/);
  });

  it('unknown flags and commands, missing or malformed arguments: one line, exit 2, no stack frame', () => {
    const cases: Array<[string[], RegExp]> = [
      [['jobs', '--bogus'], /^phaseline: unknown option '--bogus'/],
      [['--bogus', 'jobs'], /^phaseline: unknown option '--bogus'/],
      [['frobnicate'], /^phaseline: unknown command 'frobnicate'/],
      [['show'], /^phaseline: missing required argument 'id'/],
      [['show', 'abc'], /^phaseline: .*'abc' is invalid for argument 'id'\. a job id is a positive integer\./],
      [['jobs', '--last', '0'], /^phaseline: .*'0' is invalid.*positive integer/],
      [['jobs', '--after', 'not a date'], /^phaseline: .*ISO 8601 instant/],
      [['show', '1', '2'], /^phaseline: too many arguments/],
    ];
    const d = join(dir, 'usage');
    mkdirSync(d);
    for (const [args, message] of cases) {
      const run = phaseline(['--db', join(d, 'unused.db'), ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(isOneLineError(run), run.err).toBe(true);
      expect(run.err).toMatch(message);
      expect(run.out).toBe('');
    }
    expect(readdirSync(d)).toEqual([]);
  });

  it('no command at all prints the help on stderr, exit 2', () => {
    const run = phaseline([]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^Usage: phaseline/);
  });
});

describe('phaseline CLI and the database file', () => {
  it('read and change commands refuse a missing database (exit 2) and do not create it', () => {
    const d = join(dir, 'missing');
    mkdirSync(d);
    const db = join(d, 'typo.db');
    for (const args of [['jobs'], ['show', '1'], ['history', '1'], ['replay'], ['replay', '1'], ['cancel', '1'], ['send', '1', 'RUN']]) {
      const run = phaseline(['--db', db, ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.err).toBe(`phaseline: Cannot open database ${db}: no such file (this command does not create one; check --db)\n`);
      expect(readdirSync(d)).toEqual([]);
    }
  });

  it('a missing directory: one line, exit 2, even for the commands that create a database', () => {
    const db = join(dir, 'no', 'such', 'dir', 'jobs.db');
    for (const args of [['demo'], ['jobs']]) {
      const run = phaseline(['--db', db, ...args]);
      expect(run).toMatchObject({ code: 2, err: `phaseline: Cannot open database ${db}: its directory does not exist\n` });
    }
  });

  it("a file that is not SQLite, or another application's database, is refused in one line and left as it was", () => {
    const d = join(dir, 'foreign');
    mkdirSync(d);
    const text = join(d, 'notes.txt');
    writeFileSync(text, 'not a database\n'.repeat(100));
    const other = join(d, 'other.db');
    const sqlite = new Database(other);
    sqlite.exec('CREATE TABLE jobs (id INTEGER PRIMARY KEY, what TEXT)');
    sqlite.close();
    const before = { text: sha256(text), other: sha256(other), files: readdirSync(d).sort() };
    const notSqlite = phaseline(['--db', text, 'jobs']);
    expect(notSqlite).toMatchObject({ code: 2, out: '', err: `phaseline: ${text} is not a Phaseline database: it is not an SQLite database\n` });
    const foreign = phaseline(['--db', other, 'demo']);
    expect(foreign).toMatchObject({ code: 2, out: '' });
    expect(foreign.err).toBe(`phaseline: ${other} is not a Phaseline database: an SQLite database with other tables (jobs) and no Phaseline migrations\n`);
    expect({ text: sha256(text), other: sha256(other), files: readdirSync(d).sort() }).toEqual(before);
  });

  it('replay of a job that does not exist says so (exit 2) and reports no divergence', async () => {
    const db = join(dir, 'one.db');
    const p = createPhaseline({ file: db });
    p.register({ name: 'draft', lifecycle: 'uws', handler: async () => null });
    await p.enqueue('draft', null, { start: false });
    await p.close();
    expect(phaseline(['--db', db, 'replay', '42'])).toEqual({ code: 2, out: '', err: 'phaseline: No job with id 42\n' });
    expect(phaseline(['--db', db, 'replay', '1'])).toEqual({ code: 0, out: 'replayed 1 jobs, 0 diverged\n', err: '' });
    expect(phaseline(['--db', db, 'show', '42', '--json'])).toEqual({ code: 2, out: '', err: 'phaseline: No job with id 42\n' });
  });
  it('a Phaseline database damaged inside: one line, exit 70 (not the 1 of a refusal), no stack frame', async () => {
    const file = join(dir, 'damaged.db');
    const p = createPhaseline({ file });
    p.register({ name: 'n', lifecycle: 'rime', handler: async () => null });
    await p.enqueueMany('n', Array.from({ length: 400 }, (_, i) => ({ params: { text: 'x'.repeat(200), i } })));
    await p.close();
    // Overwrite pages past the schema's with garbage: the header and sqlite_master stay readable.
    const bytes = readFileSync(file);
    for (let at = 16 * 4096; at < bytes.length; at++) bytes[at] = (at * 31) & 0xff;
    writeFileSync(file, bytes);
    const run = phaseline(['--db', file, 'jobs']);
    expect(run.code, run.err).toBe(70);
    expect(isOneLineError(run), run.err).toBe(true);
    expect(run.err).toMatch(/unexpected error: .*(malformed|corrupt)/i);
  });
});

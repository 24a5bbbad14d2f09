/**
 * Opening a database on real files: what is created, what is refused with which typed error, and
 * that a refused file is left byte for byte as it was, with no -wal or -shm beside it.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type OpenOptions } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { Engine } from '../src/engine/engine.ts';
import { isPhaselineError, NotAPhaselineDatabaseError, StoreUnavailableError } from '../src/errors.ts';
import { tempDir } from './support/sqlite.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const dir = tempDir('open');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A fresh directory per test, so that its listing shows exactly what opening left there. */
function scratch(): string {
  const d = join(dir, String(++n));
  mkdirSync(d);
  return d;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The error `openDatabase` throws; fails the test when it opens instead. */
function refusal(file: string, options?: OpenOptions): unknown {
  try {
    openDatabase(file, options).sqlite.close();
  } catch (error) {
    return error;
  }
  throw new Error(`${file} opened`);
}

/** Refused with NOT_A_PHASELINE_DATABASE, and the directory holds exactly what it held before. */
function expectLeftAlone(file: string, detail: RegExp, options?: OpenOptions): void {
  const folder = join(file, '..');
  const before = { hash: sha256(file), files: readdirSync(folder).sort() };
  const error = refusal(file, options);
  expect(error).toBeInstanceOf(NotAPhaselineDatabaseError);
  expect(error).toMatchObject({ code: 'NOT_A_PHASELINE_DATABASE', path: file });
  expect((error as Error).message).toMatch(detail);
  expect((error as Error).message.length).toBeLessThan(200);
  expect({ hash: sha256(file), files: readdirSync(folder).sort() }).toEqual(before);
}

describe('openDatabase', () => {
  it('a missing directory: STORE_UNAVAILABLE with the path, and nothing is created', () => {
    const d = scratch();
    const file = join(d, 'no', 'such', 'jobs.db');
    const error = refusal(file);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', reason: 'no-directory', path: file });
    expect((error as Error).message).toBe(`Cannot open database ${file}: its directory does not exist`);
    expect(readdirSync(d)).toEqual([]);
  });

  it('create: false refuses a missing file without creating it, and opens an existing one', () => {
    const d = scratch();
    const file = join(d, 'typo.db');
    expect(refusal(file, { create: false })).toMatchObject({ code: 'STORE_UNAVAILABLE', reason: 'no-file', path: file });
    expect(readdirSync(d)).toEqual([]);
    openDatabase(file).sqlite.close();
    const again = openDatabase(file, { create: false });
    expect(again.sqlite.prepare('SELECT count(*) FROM jobs').pluck().get()).toBe(0);
    again.sqlite.close();
  });

  it('create: false refuses an empty file and leaves it empty', () => {
    const file = join(scratch(), 'empty.db');
    writeFileSync(file, '');
    expectLeftAlone(file, /is not a Phaseline database: it is empty$/, { create: false });
    expect(readFileSync(file).length).toBe(0);
  });

  it('a directory given as the file: STORE_UNAVAILABLE', () => {
    const d = scratch();
    expect(refusal(d)).toMatchObject({ code: 'STORE_UNAVAILABLE', reason: 'cannot-open', path: d });
    expect(isPhaselineError(refusal(d), 'STORE_UNAVAILABLE')).toBe(true);
  });

  it('a file that is not SQLite is refused and left as it was', () => {
    const file = join(scratch(), 'notes.db');
    writeFileSync(file, 'These are my notes, not a database.\n'.repeat(200));
    expectLeftAlone(file, /is not a Phaseline database: it is not an SQLite database$/);
  });

  it("another application's SQLite file with its own jobs table is refused before anything is written", () => {
    const file = join(scratch(), 'other.db');
    const other = new Database(file);
    other.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO jobs (title) VALUES ('mine')");
    other.close();
    expectLeftAlone(file, /other tables \(jobs\) and no Phaseline migrations/);
    const after = new Database(file, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual(['jobs']);
    expect(after.pragma('journal_mode', { simple: true })).toBe('delete');
    after.close();
  });

  it("another application's WAL-mode SQLite file is refused and no -wal or -shm is left behind", () => {
    const file = join(scratch(), 'other-wal.db');
    const other = new Database(file);
    other.pragma('journal_mode = WAL');
    other.exec('CREATE TABLE a (x); CREATE TABLE b (x); CREATE TABLE c (x); CREATE TABLE d (x); CREATE TABLE e (x); CREATE TABLE f (x)');
    other.close();
    expectLeftAlone(file, /other tables \(a, b, c, d, e, …\)/);
  });

  it("another Drizzle application's database (its own migrations) is refused and left as it was", () => {
    const file = join(scratch(), 'drizzle-app.db');
    const other = new Database(file);
    other.exec('CREATE TABLE __drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
    other.exec("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('abc', 1700000000000); CREATE TABLE users (id INTEGER)");
    other.close();
    expectLeftAlone(file, /its migrations are not Phaseline's$/);
  });

  it('a new path and an empty file are created and migrated; a Phaseline database reopens with its jobs', () => {
    const d = scratch();
    const empty = join(d, 'empty.db');
    writeFileSync(empty, '');
    for (const file of [join(d, 'new.db'), empty]) {
      const database = openDatabase(file);
      const id = new Engine(new SqliteStore(database)).create({ lifecycle: 'uws', type: 'cone', input: { params: null } }).id;
      database.sqlite.close();
      const again = openDatabase(file, { create: false });
      expect(again.sqlite.prepare('SELECT id FROM jobs').pluck().all()).toEqual([id]);
      expect(again.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      again.sqlite.close();
    }
  });

  it('finds the migrations by looking upward from the module, as from dist/src/db after a build', async () => {
    // A copy of the module in a package-like tree inside a host app that has migrations of its
    // own: first without a migrations folder of the package's (the host's must not be taken),
    // then with one.
    const host = scratch();
    mkdirSync(join(host, 'migrations', 'meta'), { recursive: true });
    writeFileSync(join(host, 'migrations', 'meta', '_journal.json'), JSON.stringify({ entries: [{ when: 1 }] }));
    const pkg = join(host, 'node_modules', 'phaseline');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'phaseline', version: '0.0.0' }));
    cpSync(join(REPO, 'src', 'db'), join(pkg, 'dist', 'src', 'db'), { recursive: true });
    cpSync(join(REPO, 'src', 'errors.ts'), join(pkg, 'dist', 'src', 'errors.ts'));
    cpSync(join(REPO, 'src', 'package-root.ts'), join(pkg, 'dist', 'src', 'package-root.ts'));
    symlinkSync(join(REPO, 'node_modules'), join(pkg, 'node_modules'));
    const built = (await import(join(pkg, 'dist', 'src', 'db', 'open.ts'))) as typeof import('../src/db/open.ts');
    const file = join(pkg, 'jobs.db');
    let error: unknown;
    try {
      built.openDatabase(file);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', reason: 'no-migrations', path: file });
    expect(existsSync(file)).toBe(false);

    cpSync(join(REPO, 'migrations'), join(pkg, 'migrations'), { recursive: true });
    const database = built.openDatabase(file);
    expect(database.sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get()).toBeGreaterThan(0);
    database.sqlite.close();
  });
});

/**
 * The schema (src/db/schema.ts) and the committed migrations (migrations/) must agree, and opening
 * a database must apply them exactly once, even when two processes open a new file together.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { Engine } from '../src/engine/engine.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { dumpAll, rawJob, tempDir } from './support/sqlite.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MIGRATIONS = join(REPO, 'migrations');
const SCHEMA = join(REPO, 'src', 'db', 'schema.ts');
const DRIZZLE_KIT = join(REPO, 'node_modules', 'drizzle-kit', 'bin.cjs');
const RACE_FIXTURE = join(REPO, 'test', 'fixtures', 'db', 'open-race.ts');

const dirs: string[] = [];
function scratch(prefix: string): string {
  const dir = tempDir(prefix);
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Every file under `dir`, by relative path, with its contents. */
function filesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out[relative(dir, path)] = readFileSync(path, 'utf8');
    }
  };
  walk(dir);
  return out;
}

/**
 * Run drizzle-kit in `cwd` with a JSON config written there. drizzle-kit prefixes `out` with `./`,
 * so `out` must be relative to `cwd`; and it exits 0 even when it fails, so callers check its output.
 */
function drizzleKit(cwd: string, command: 'generate' | 'push', config: Record<string, unknown>): string {
  writeFileSync(join(cwd, 'drizzle.config.json'), JSON.stringify({ dialect: 'sqlite', ...config }));
  const args = [DRIZZLE_KIT, command, '--config', 'drizzle.config.json', ...(command === 'push' ? ['--force'] : [])];
  const run = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 90_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = `${run.stdout ?? ''}\n${run.stderr ?? ''}`;
  if (run.error) throw new Error(`drizzle-kit ${command} did not run: ${run.error.message}\n${output}`);
  return output;
}

interface Journal {
  entries: Array<{ idx: number; when: number; tag: string }>;
}
const journal = (): Journal => JSON.parse(readFileSync(join(MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as Journal;

/** The schema objects of a database, as SQLite keeps them (Drizzle's own bookkeeping left out). */
function schemaOf(sqlite: Database.Database): unknown[] {
  return sqlite
    .prepare(
      `SELECT type, name, tbl_name, sql FROM sqlite_master
       WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%' ORDER BY type, name`,
    )
    .all();
}

/**
 * The schema as structure rather than SQL text: each table's columns, primary key, foreign keys and
 * indexes (with their key columns, uniqueness and, for partial ones, their SQL). How a table is
 * stored is left out: a hand-written migration may make a table WITHOUT ROWID, which drizzle-kit
 * cannot express, without changing anything schema.ts declares.
 */
function structureOf(sqlite: Database.Database): Record<string, unknown> {
  const pragma = (sql: string) => sqlite.prepare(sql).all() as Array<Record<string, unknown>>;
  const tables = sqlite
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%' ORDER BY name")
    .pluck()
    .all() as string[];
  return Object.fromEntries(
    tables.map((table) => [
      table,
      {
        columns: pragma(`PRAGMA table_xinfo("${table}")`),
        foreignKeys: pragma(`PRAGMA foreign_key_list("${table}")`),
        indexes: pragma(`PRAGMA index_list("${table}")`)
          .sort((a, b) => String(a.name).localeCompare(String(b.name)))
          .map((index) => ({
            name: String(index.name).startsWith('sqlite_autoindex_') ? `(${String(index.origin)} index)` : index.name,
            unique: index.unique,
            origin: index.origin,
            partial: index.partial,
            keys: pragma(`PRAGMA index_xinfo("${String(index.name)}")`)
              .filter((c) => c.key === 1)
              .map((c) => ({ name: c.name, desc: c.desc, coll: c.coll })),
            sql: sqlite.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?").pluck().get(index.name) ?? null,
          })),
      },
    ]),
  );
}

function appliedMigrations(sqlite: Database.Database): Array<{ id: unknown; hash: string; created_at: unknown }> {
  return sqlite.prepare('SELECT id, hash, created_at FROM __drizzle_migrations ORDER BY created_at').all() as Array<{
    id: unknown;
    hash: string;
    created_at: unknown;
  }>;
}

// drizzle-kit takes a few seconds per run, more on a busy machine.
describe('schema.ts and migrations/ agree', { timeout: 90_000 }, () => {
  it('drizzle-kit generate finds no schema change to migrate', () => {
    const dir = scratch('generate');
    cpSync(MIGRATIONS, join(dir, 'migrations'), { recursive: true });
    const before = filesOf(join(dir, 'migrations'));
    const output = drizzleKit(dir, 'generate', { schema: SCHEMA, out: './migrations' });
    const after = filesOf(join(dir, 'migrations'));
    const added = Object.keys(after).filter((f) => !(f in before));
    // On failure this shows the migration drizzle-kit wants: commit it (npm run generate).
    expect({ added: Object.fromEntries(added.map((f) => [f, after[f]])), output }).toMatchObject({ added: {} });
    expect(output).toMatch(/No schema changes/);
    expect(after).toEqual(before);
  });

  it('the check above does catch drift: one more column yields a new migration', () => {
    const dir = scratch('drift');
    cpSync(MIGRATIONS, join(dir, 'migrations'), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const source = readFileSync(SCHEMA, 'utf8');
    const anchor = "workerId: text('worker_id'),";
    expect(source).toContain(anchor);
    writeFileSync(join(dir, 'schema.ts'), source.replace(anchor, `${anchor}\n    driftProbe: text('drift_probe'),`));
    const output = drizzleKit(dir, 'generate', { schema: join(dir, 'schema.ts'), out: './migrations' });
    const added = Object.entries(filesOf(join(dir, 'migrations'))).filter(([f]) => f.endsWith('.sql') && !existsSync(join(MIGRATIONS, f)));
    expect(added.map(([, sql]) => sql), output).toEqual([expect.stringContaining('ALTER TABLE `jobs` ADD `drift_probe` text')]);
  });

  it('the migrated schema has the structure drizzle-kit push builds from schema.ts (the SQL files match their snapshots)', () => {
    const dir = scratch('push');
    const output = drizzleKit(dir, 'push', { schema: SCHEMA, dbCredentials: { url: join(dir, 'pushed.db') } });
    expect(existsSync(join(dir, 'pushed.db')), output).toBe(true);
    const pushed = new Database(join(dir, 'pushed.db'), { readonly: true });
    const migrated = openDatabase(join(dir, 'migrated.db'));
    try {
      expect(structureOf(migrated.sqlite)).toEqual(structureOf(pushed));
      expect(Object.keys(structureOf(pushed))).toEqual(['job_events', 'job_slots', 'jobs', 'schedules']);
    } finally {
      pushed.close();
      migrated.sqlite.close();
    }
  });

  it('the journal lists exactly the committed SQL files, each with its snapshot', () => {
    const { entries } = journal();
    expect(entries.length).toBeGreaterThan(0);
    entries.forEach((entry, i) => {
      expect(entry.idx).toBe(i);
      expect(existsSync(join(MIGRATIONS, `${entry.tag}.sql`))).toBe(true);
      expect(existsSync(join(MIGRATIONS, 'meta', `${String(entry.idx).padStart(4, '0')}_snapshot.json`))).toBe(true);
    });
    const sqlFiles = readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql')).sort();
    expect(sqlFiles).toEqual(entries.map((e) => `${e.tag}.sql`).sort());
  });
});

describe('opening a database', () => {
  it('applies every migration once, recording each by its hash', () => {
    const { sqlite } = openDatabase(':memory:');
    const applied = appliedMigrations(sqlite);
    expect(applied.map((m) => [m.hash, Number(m.created_at)])).toEqual(
      journal().entries.map((e) => [createHash('sha256').update(readFileSync(join(MIGRATIONS, `${e.tag}.sql`), 'utf8')).digest('hex'), e.when]),
    );
  });

  it('a second open of the same file applies nothing and keeps the data', () => {
    const dir = scratch('reopen');
    const file = join(dir, 'jobs.db');
    const first = openDatabase(file);
    const applied = appliedMigrations(first.sqlite);
    const schema = schemaOf(first.sqlite);
    const engine = new Engine(new SqliteStore(first), { clock: () => 5_000 });
    const job = engine.create({ lifecycle: 'uws', type: 'cone', input: { params: { ra: 1 } } });
    engine.send(job.id, { type: 'CLAIM' });
    const row = rawJob(first.sqlite, job.id);
    const everything = dumpAll(first.sqlite);

    // A second connection while the first is open, then a reopen after it closed.
    const second = openDatabase(file);
    expect(dumpAll(second.sqlite)).toEqual(everything);
    second.sqlite.close();
    first.sqlite.close();

    const third = openDatabase(file);
    try {
      expect(appliedMigrations(third.sqlite)).toEqual(applied);
      expect(schemaOf(third.sqlite)).toEqual(schema);
      expect(rawJob(third.sqlite, job.id)).toEqual(row);
      expect(dumpAll(third.sqlite)).toEqual(everything);
      expect(new Engine(new SqliteStore(third)).send(job.id, { type: 'SUCCEED', result: null }).state).toBe('COMPLETED');
    } finally {
      third.sqlite.close();
    }
  });

  it('pragmas: WAL, foreign keys, a busy timeout', () => {
    const dir = scratch('pragmas');
    const { sqlite } = openDatabase(join(dir, 'jobs.db'));
    try {
      expect(sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(Number(sqlite.pragma('busy_timeout', { simple: true }))).toBeGreaterThan(0);
    } finally {
      sqlite.close();
    }
  });

  it(
    'processes opening a new file at the same moment all succeed, and the schema is applied once',
    async () => {
      const dir = scratch('race');
      // Two processes on one file, as the runner's workers do; four on another, which makes the
      // lost race (the loser's CREATE TABLE failing inside Drizzle's migrator) likely enough to
      // show: unguarded, about one open in twenty fails there.
      const sides: Record<string, string[]> = { [join(dir, 'race-2.db')]: ['a', 'b'], [join(dir, 'race-4.db')]: ['a', 'b', 'c', 'd'] };
      const files = Object.keys(sides);
      const children = files.flatMap((file, i) =>
        sides[file]!.map((side) => {
          const child = spawn(process.execPath, ['--import', 'tsx', RACE_FIXTURE, file, `${i}${side}`], {
            cwd: REPO,
            stdio: ['pipe', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
          child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
          const ready = new Promise<void>((resolve, reject) => {
            const poll = setInterval(() => {
              if (out.includes('ready\n')) {
                clearInterval(poll);
                resolve();
              }
            }, 5);
            child.once('exit', () => {
              clearInterval(poll);
              reject(new Error(`child ${i}${side} exited before it was ready: ${err}`));
            });
          });
          const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
          return { child, file, ready, exited, output: () => out, errors: () => err };
        }),
      );
      try {
        await Promise.all(children.map((c) => c.ready));
        // Release every child at once: each pair races to create and migrate its file.
        for (const c of children) c.child.stdin.write('go\n');
        const codes = await Promise.all(children.map((c) => c.exited));
        const reports = children.map((c) => {
          const line = c.output().split('\n').find((l) => l.startsWith('{'));
          return line ? (JSON.parse(line) as { ok: boolean; label: string; job?: number; migrations?: number; error?: string }) : { ok: false, error: c.errors() };
        });
        expect(reports.filter((r) => !r.ok)).toEqual([]);
        expect(codes).toEqual(children.map(() => 0));

        const expectedSchema = schemaOf(openDatabase(':memory:').sqlite);
        for (const file of files) {
          const sqlite = new Database(file, { readonly: true });
          try {
            expect(appliedMigrations(sqlite)).toHaveLength(journal().entries.length);
            expect(schemaOf(sqlite)).toEqual(expectedSchema);
            expect(sqlite.prepare('SELECT id FROM jobs ORDER BY id').pluck().all()).toEqual(sides[file]!.map((_, i) => i + 1));
          } finally {
            sqlite.close();
          }
        }
      } finally {
        for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
      }
    },
    120_000,
  );
});

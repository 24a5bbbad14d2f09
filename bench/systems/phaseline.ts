/**
 * Phaseline on SQLite: a RIME job type with a no-op handler, so each job is four history events
 * (CREATE, ADMIT, CLAIM, SUCCEED) and three transactions (enqueue, claim, succeed); the facade
 * part is shared with Phaseline on PostgreSQL (phaseline-facade.ts).
 *
 * Everything goes through the public facade except two read-only queries and the history seeding,
 * which use the raw SQLite handle (`engineOf(phaseline).store.database.sqlite`): the facade has no cheap
 * "is anything queued or running" question and no bulk import (see bench/README.md, API gaps).
 */
import type Database from 'better-sqlite3';
import { createPhaseline } from '../../src/index.ts';
import { engineOf } from '../../src/internal.ts';
import { removeDatabase, ensureDir } from '../lib/files.ts';
import { PhaselineFacadeHandle } from './phaseline-facade.ts';
import type { OpenOptions, SystemAdapter } from './types.ts';

class PhaselineHandle extends PhaselineFacadeHandle {
  readonly #sqlite: Database.Database;
  readonly #busy: Database.Statement;

  constructor(file: string, options: OpenOptions) {
    super(createPhaseline({ file, synchronous: options.durability }), options.pollMs);
    this.#sqlite = engineOf(this.phaseline).store.database.sqlite;
    // Both walk a partial index (jobs_claim, jobs_lease) and stop at the first row.
    this.#busy = this.#sqlite
      .prepare('SELECT EXISTS (SELECT 1 FROM jobs WHERE claimable = 1) OR EXISTS (SELECT 1 FROM jobs WHERE running = 1)')
      .pluck();
  }

  async busy(): Promise<boolean> {
    return this.#busy.get() === 1;
  }

  async succeeded(): Promise<number> {
    return this.#sqlite.prepare("SELECT count(*) FROM jobs WHERE outcome = 'succeeded'").pluck().get() as number;
  }

  async seedHistory(total: number): Promise<void> {
    seedByCopying(this.#sqlite, total);
  }
}

/**
 * Copy finished jobs (the row and every row keyed by its id in other tables, history included)
 * under new ids until there are `total`. The copies are rows the engine wrote, so they are what a
 * long-lived database holds; only their ids differ, which replay accounts for.
 */
function seedByCopying(sqlite: Database.Database, total: number): void {
  const stats = sqlite.prepare('SELECT count(*) AS n, min(id) AS lo, max(id) AS hi, sum(ended_at IS NULL) AS open FROM jobs').get() as {
    n: number; lo: number | null; hi: number | null; open: number | null;
  };
  if (stats.n === 0) throw new Error('seedHistory: no finished job to copy');
  if (stats.open) throw new Error(`seedHistory: ${stats.open} jobs are not finished`);
  if (stats.lo !== 1 || stats.hi !== stats.n) throw new Error('seedHistory: job ids are not 1..n');
  const columns = (table: string) => (sqlite.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]);
  const children = (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%'").pluck().all() as string[])
    .filter((table) => table !== 'jobs' && columns(table).includes('job_id'));
  const copy = (table: string, key: string) => {
    const cols = columns(table);
    const list = cols.map((c) => `"${c}"`).join(', ');
    const select = cols.map((c) => (c === key ? `"${c}" + @offset` : `"${c}"`)).join(', ');
    return sqlite.prepare(`INSERT INTO "${table}" (${list}) SELECT ${select} FROM "${table}" WHERE "${key}" <= @upto`);
  };
  const statements = [copy('jobs', 'id'), ...children.map((table) => copy(table, 'job_id'))];
  let count = stats.n;
  while (count < total) {
    const upto = Math.min(count, total - count);
    sqlite.transaction(() => {
      for (const statement of statements) statement.run({ offset: count, upto });
    }).immediate();
    count += upto;
  }
}

export const phaseline: SystemAdapter = {
  name: 'phaseline',
  label: 'Phaseline',
  async open(target, options) {
    ensureDir(target);
    if (options.fresh) removeDatabase(target);
    return new PhaselineHandle(target, options);
  },
};

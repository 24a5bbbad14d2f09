/**
 * An asynchronous store for tests: the SQLite store's operations, each behind a promise that
 * settles on a later turn of the event loop (as a query to a database server would), and
 * transactions driven by awaiting each yielded promise, as a PostgreSQL store would drive them.
 * It shows the engine's scripts running unchanged on a store that must wait.
 */
import { SqliteStore } from '../../src/db/sqlite-store.ts';
import type { OpenDatabase } from '../../src/db/open.ts';
import type { Op, Script, Store, StoreTx, TxMode } from '../../src/db/store.ts';

const later = () => new Promise<void>((resolve) => setImmediate(resolve));

export class AsyncSqliteStore implements Store {
  readonly synchronous = false;
  readonly inner: SqliteStore;
  readonly #tx: StoreTx;
  /** One connection: transactions take turns (a pool would give each its own client). */
  #queue: Promise<unknown> = Promise.resolve();
  /** Operations run, and promises awaited: both rise when scripts really went through here. */
  readonly counts = { ops: 0, awaited: 0 };
  /** The next call of this operation is refused (its promise rejects), as a failing query would be. */
  failNext: keyof StoreTx | null = null;

  constructor(database: OpenDatabase) {
    this.inner = new SqliteStore(database);
    const inner = this.inner;
    const counts = this.counts;
    const this_ = this;
    // Each operation waits for a later turn, then runs the SQLite one.
    const { sqlite } = this.inner.database;
    let savepoints = 0;
    // A savepoint around a script of this store's own (waiting) operations.
    const savepoint = function* <T>(script: Script<T>): Op<T> {
      const name = `s${++savepoints}`;
      sqlite.exec(`SAVEPOINT ${name}`);
      try {
        const value = yield* script;
        sqlite.exec(`RELEASE ${name}`);
        return value;
      } catch (error) {
        sqlite.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
        throw error;
      }
    };
    this.#tx = new Proxy({} as StoreTx, {
      get: (_target, name: keyof StoreTx) =>
        name === 'savepoint' ? savepoint :
        function* (...args: unknown[]): Op<unknown> {
          counts.ops++;
          if (this_.failNext === name) {
            this_.failNext = null;
            yield later().then(() => Promise.reject(new Error(`${name} failed`)));
          }
          yield later();
          return yield* (inner[name] as (...a: unknown[]) => Op<unknown>).apply(inner, args);
        },
    });
  }

  get file(): string | null {
    return this.inner.file;
  }

  run<T>(mode: TxMode, script: (tx: StoreTx) => Script<T>): Promise<T> {
    const turn = this.#queue.then(() => this.#drive(mode, script));
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #drive<T>(mode: TxMode, script: (tx: StoreTx) => Script<T>): Promise<T> {
    const { sqlite } = this.inner.database;
    if (mode !== 'autocommit') sqlite.exec(mode === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN');
    try {
      const it = script(this.#tx);
      let step = it.next();
      while (!step.done) {
        let value: unknown;
        try {
          value = await step.value;
          this.counts.awaited++;
        } catch (error) {
          step = it.throw(error);
          continue;
        }
        step = it.next(value);
      }
      if (mode !== 'autocommit') sqlite.exec('COMMIT');
      return step.value;
    } catch (error) {
      if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
      throw error;
    }
  }

  close(): void {
    this.inner.close();
  }
}

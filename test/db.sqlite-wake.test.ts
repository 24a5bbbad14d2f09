/**
 * The SQLite store's wake-ups (src/db/sqlite-wake.ts) within one process: another connection's
 * commit calls the listener, a burst of commits is coalesced without losing its last one, the file
 * watched is the one SQLite writes, nothing is held once nobody listens or the store is closed,
 * and a watched file that goes missing is watched again when it comes back.
 */
import { appendFileSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.ts';
import { commitFile, FileWake, REARM_MS, WAKE_GAP_MS } from '../src/db/sqlite-wake.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { Engine } from '../src/engine/engine.ts';
import { tempDir } from './support/sqlite.ts';

const dir = tempDir('wake dir');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(what: string, done: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(1);
  }
}

/** Two connections to one file, as two processes would have; `enqueue` commits on the second. */
function twoStores(name: string) {
  const file = join(dir, `${name}.db`);
  const listening = new SqliteStore(openDatabase(file));
  const other = new SqliteStore(openDatabase(file));
  const engine = new Engine(other);
  const enqueue = () => engine.create({ lifecycle: 'rime', type: 'wake', input: { params: null } });
  const close = () => {
    listening.close();
    other.close();
  };
  return { file, listening, enqueue, close };
}

describe('SQLite store: listen', () => {
  it('watches the -wal file SQLite writes: absolute, links resolved, spaces kept; nothing in memory', () => {
    const memory = new SqliteStore(openDatabase(':memory:'));
    expect(commitFile(memory.database.sqlite)).toBeNull();
    let calls = 0;
    const stop = memory.listen(() => calls++);
    memory.database.sqlite.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    stop();
    memory.close();
    expect(calls).toBe(0);

    const real = join(dir, 'real place');
    mkdirSync(real);
    const store = new SqliteStore(openDatabase(join(real, 'jobs.db')));
    const link = join(dir, 'link to jobs.db');
    symlinkSync(join(real, 'jobs.db'), link);
    const viaLink = new SqliteStore(openDatabase(link));
    expect(commitFile(store.database.sqlite)).toBe(`${realpathSync(join(real, 'jobs.db'))}-wal`);
    expect(commitFile(viaLink.database.sqlite)).toBe(commitFile(store.database.sqlite));
    viaLink.close();
    // In a rollback-journal mode commits write the database file itself.
    store.database.sqlite.pragma('journal_mode = DELETE');
    expect(commitFile(store.database.sqlite)).toBe(realpathSync(join(real, 'jobs.db')));
    store.close();
  });

  it("another connection's commit calls the listener; none after unsubscribe or close", async () => {
    const { listening, enqueue, close } = twoStores('calls');
    try {
      enqueue(); // the first enqueue compiles statements: not part of the time shown
      let calls = 0;
      let woke = 0;
      const stop = listening.listen(() => {
        calls++;
        woke ||= performance.now();
      });
      const before = performance.now();
      enqueue();
      const committed = performance.now();
      await until('a wake after the commit', () => calls > 0);
      console.log(
        `[db.sqlite-wake] enqueue → listener in one process: ${(woke - before).toFixed(2)} ms (the enqueue itself ${(committed - before).toFixed(2)} ms)`,
      );
      stop();
      stop(); // twice is harmless
      await sleep(WAKE_GAP_MS * 3);
      calls = 0;
      enqueue();
      await sleep(100);
      expect(calls, 'after unsubscribe').toBe(0);

      let afterClose = 0;
      listening.listen(() => afterClose++);
      listening.close();
      enqueue();
      await sleep(100);
      expect(afterClose, 'after close').toBe(0);
      expect(() => listening.listen(() => afterClose++)()).not.toThrow();
    } finally {
      close();
    }
  });

  it('a burst of commits: at most one wake per gap, and one after the last commit', async () => {
    const { listening, enqueue, close } = twoStores('burst');
    try {
      const calls: number[] = [];
      const stop = listening.listen(() => calls.push(performance.now()));
      const COMMITS = 1000;
      const started = performance.now();
      let lastCommit = 0;
      for (let i = 0; i < COMMITS; i++) {
        enqueue();
        lastCommit = performance.now();
        await turn(); // each commit in its own turn, so the watcher sees them one by one
      }
      const elapsed = performance.now() - started;
      await sleep(WAKE_GAP_MS * 10);
      stop();
      console.log(`[db.sqlite-wake] ${COMMITS} commits in ${elapsed.toFixed(0)} ms: ${calls.length} wakes`);
      expect(calls.length).toBeGreaterThan(0);
      // A timer may fire up to a millisecond early on the loop's cached clock.
      // Gaps grow from FIRST_GAP_MS (2, 4, 8, 16 ms: four more wakes at most) to WAKE_GAP_MS.
      expect(calls.length).toBeLessThanOrEqual(Math.ceil(elapsed / (WAKE_GAP_MS - 1)) + 6);
      expect(calls.at(-1)!, 'a wake after the last commit').toBeGreaterThan(lastCommit);
    } finally {
      close();
    }
  });

  it("an empty claim in answer to a wake writes nothing, so it wakes nobody: no loop", async () => {
    const { listening, enqueue, close } = twoStores('no loop');
    try {
      const engine = new Engine(listening);
      const lease = () => ({ leaseId: 'l', leaseExpiresAt: Date.now() + 60_000, workerId: 'w', actor: 'w/l' });
      let calls = 0;
      const stop = listening.listen(() => {
        calls++;
        engine.claimDue(10, ['nobody'], lease); // a write transaction that finds nothing
      });
      enqueue();
      await until('a wake after the commit', () => calls > 0);
      await sleep(200);
      stop();
      expect(calls).toBeLessThanOrEqual(2);
    } finally {
      close();
    }
  });

  it('holds nothing once nobody listens; a missing file is watched once it is there, and again after it is replaced', async () => {
    const path = join(dir, 'not yet');
    const wake = new FileWake(path);
    expect(wake.holding).toBe(false);
    let calls = 0;
    const stopA = wake.add(() => calls++);
    const stopB = wake.add(() => calls++);
    expect(wake.holding, 'waiting for the file').toBe(true);
    writeFileSync(path, 'x');
    await until('a wake once the file is there', () => calls >= 2, REARM_MS * 3);
    await sleep(WAKE_GAP_MS * 3);
    calls = 0;
    appendFileSync(path, 'y');
    await until('a wake on a change', () => calls >= 2);
    await sleep(WAKE_GAP_MS * 3);

    rmSync(path);
    await sleep(50);
    calls = 0;
    writeFileSync(path, 'z');
    await until('a wake once the file is back', () => calls >= 2, REARM_MS * 3);

    stopA();
    expect(wake.holding, 'one listener left').toBe(true);
    stopB();
    expect(wake.holding, 'nobody listens').toBe(false);
    await sleep(WAKE_GAP_MS * 3);
    calls = 0;
    appendFileSync(path, 'w');
    await sleep(100);
    expect(calls).toBe(0);

    wake.add(() => calls++);
    expect(wake.holding).toBe(true);
    wake.close();
    expect(wake.holding, 'closed').toBe(false);
    wake.add(() => calls++);
    expect(wake.holding, 'closed for good').toBe(false);
  });
});

/**
 * Wake-ups across processes on SQLite: every commit to a database in WAL mode appends its pages to
 * the `-wal` file beside it, so each process with workers watches that file (`fs.watch`: inotify
 * on Linux) and wakes them when it changes. An enqueue in another process then starts within
 * milliseconds (the watch fires about 0.2 ms after the commit) instead of at the next poll.
 *
 * Why the WAL file and not a notification channel of our own (a Unix socket per listening
 * process, poked by committers after a commit that left a job claimable): both were measured on
 * this (2-core, loaded) machine, one process committing and another listening. From just before a
 * commit to the listener's callback, 200 samples: 0.16 ms at the median by the WAL file, 0.26–0.32
 * ms by a socket the committer already held open. Over a burst of 20,000 commits the listener spent
 * about the same CPU either way (127–160 ms). The socket's one advantage, waking only for a commit
 * that left a job claimable, matters little (see below), and it would need committers to find
 * every listener, stale socket files cleaned up after a crash, and a database path short enough
 * for a socket beside it (108 bytes on Linux). The WAL needs nothing of committers: any writer
 * wakes the workers (another Phaseline process, the CLI, another version). Its price is that
 * every commit wakes, this process's own included; hence the coalescing below. A wake that finds
 * nothing costs an idle worker one empty claim, which writes nothing and so wakes nobody in turn;
 * the runner ignores wakes while it is busy.
 *
 * Never the only way work is found: polling stays the fallback. A wake is only a hint (the
 * listener's claim sees whatever has committed by then: a commit under way holds the write lock
 * the claim waits for), and a missed one only delays work until the next poll.
 *
 * - Coalesced: the first change wakes at once, then at most one more wake per gap, for the
 *   changes seen meanwhile; a second change within a gap closes the watch until the gap ends
 *   (then it is set up again, with a wake for what was missed). Gaps grow from
 *   {@link FIRST_GAP_MS} to {@link WAKE_GAP_MS} while commits keep coming, so a quiet database
 *   wakes its workers at once and a busy one rarely. A flood of commits (a drain)
 *   so costs a listener call and a new watch per gap, not an event callback per commit: heard
 *   for every commit, a drain of one job at a time ran 15–30 % slower.
 * - A checkpoint that restarts or truncates the WAL keeps its inode: the watch goes on. A file
 *   that is deleted or replaced (the last connection closing it, `journal_mode` switched off and
 *   on) ends the watch: it is set up again, or retried every {@link REARM_MS} while the file is
 *   missing, with one wake once it is back, for what was committed in between.
 * - In another journal mode commits write the database file itself, which is watched instead. A
 *   database in memory has no file and no other process: nothing is watched, nothing wakes.
 * - Nothing here keeps a process alive (the watcher is not persistent, timers are unref'd), and
 *   the last unsubscribe, or `close()`, releases the watcher and every timer.
 */
import type Database from 'better-sqlite3';
import { watch, type FSWatcher } from 'node:fs';
import { errorField, safeLog, silentLogger, type Logger } from '../logger.ts';

/**
 * After a wake, the least time before the next one, while commits keep coming (the file is not
 * watched meanwhile): from {@link FIRST_GAP_MS}, doubled after each gap in which changes came, up
 * to this; back to the first after a quiet one.
 */
export const WAKE_GAP_MS = 20;
export const FIRST_GAP_MS = 2;
/** How often to try again to watch a file that is missing (or cannot be watched). */
export const REARM_MS = 1_000;

/**
 * The file each commit to this connection's main database writes: the `-wal` file in WAL mode,
 * else the database file; null for a database in memory or a temporary one. The path is SQLite's
 * own (absolute, links resolved), so it names the file SQLite writes.
 */
export function commitFile(sqlite: Database.Database): string | null {
  const list = sqlite.pragma('database_list') as Array<{ name: string; file: string }>;
  const file = list.find((db) => db.name === 'main')?.file ?? '';
  if (file === '') return null;
  return sqlite.pragma('journal_mode', { simple: true }) === 'wal' ? `${file}-wal` : file;
}

/** Calls its listeners, coalesced, whenever a file changes. */
export class FileWake {
  readonly #path: string;
  readonly #listeners = new Set<() => void>();
  #watcher: FSWatcher | null = null;
  #rearm: NodeJS.Timeout | undefined;
  /** Set while in the gap after a wake. */
  #gap: NodeJS.Timeout | undefined;
  /** A change was seen during the gap: wake once more when it ends. */
  #pending = false;
  /** The next gap's length: short after quiet, longer while commits keep coming. */
  #gapMs = FIRST_GAP_MS;
  #closed = false;

  readonly #logger: Logger;

  constructor(path: string, logger: Logger = silentLogger) {
    this.#path = path;
    this.#logger = logger;
  }

  /** Whether a watcher or a timer is held (for tests: none once nobody listens). */
  get holding(): boolean {
    return this.#watcher !== null || this.#rearm !== undefined || this.#gap !== undefined;
  }

  /** Call `listener` after each change until the returned function is called. */
  add(listener: () => void): () => void {
    if (this.#closed) return () => {};
    // A wrapper of its own, so that the same function added twice is removed once per unsubscribe.
    const entry = () => listener();
    this.#listeners.add(entry);
    this.#arm(false);
    return () => {
      this.#listeners.delete(entry);
      if (this.#listeners.size === 0) this.#release();
    };
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#release();
  }

  #arm(wake: boolean): void {
    if (this.#closed || this.#listeners.size === 0 || this.#watcher) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(this.#path, { persistent: false }, (event) => {
        // 'rename': the file was deleted or replaced, and this watch sees nothing more of it.
        if (event === 'rename') this.#lost(watcher);
        this.#changed();
      });
    } catch {
      // Missing (ENOENT) or not watchable now (the inotify watch limit): polling finds work meanwhile.
      this.#scheduleRearm();
      return;
    }
    watcher.on('error', () => {
      this.#lost(watcher);
      this.#changed();
    });
    this.#watcher = watcher;
    if (wake) this.#changed();
  }

  /** The watch ended: watch the file found at the path now, if there is one (the caller wakes). */
  #lost(watcher: FSWatcher): void {
    if (this.#watcher !== watcher) return;
    this.#watcher = null;
    watcher.close();
    this.#arm(false);
  }

  #scheduleRearm(): void {
    if (this.#closed || this.#listeners.size === 0 || this.#rearm) return;
    this.#rearm = setTimeout(() => {
      this.#rearm = undefined;
      this.#arm(true);
    }, REARM_MS);
    this.#rearm.unref();
  }

  #changed(): void {
    if (this.#gap) {
      this.#pending = true;
      // Commits keep coming (a drain): stop hearing each one until the gap ends, so that a busy
      // database costs a watch set up again per gap, not a callback per commit.
      this.#unwatch();
      return;
    }
    this.#gap = setTimeout(() => {
      this.#gap = undefined;
      const missed = this.#pending;
      this.#pending = false;
      this.#gapMs = missed ? Math.min(WAKE_GAP_MS, this.#gapMs * 2) : FIRST_GAP_MS;
      if (!this.#watcher) this.#arm(missed);
      else if (missed) this.#changed();
    }, this.#gapMs);
    this.#gap.unref();
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (error) {
        safeLog(this.#logger, 'error', { err: errorField(error) }, 'phaseline: a wake-up listener threw');
      }
    }
  }

  #unwatch(): void {
    const watcher = this.#watcher;
    this.#watcher = null;
    watcher?.close();
  }

  #release(): void {
    clearTimeout(this.#rearm);
    clearTimeout(this.#gap);
    this.#rearm = undefined;
    this.#gap = undefined;
    this.#pending = false;
    this.#unwatch();
  }
}

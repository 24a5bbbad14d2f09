/**
 * Batching of attempts' final writes: the attempts that end in the same turn of the event loop
 * are committed together, one transaction (and, at synchronous FULL, one fsync) for many jobs.
 * On an asynchronous store a batch may commit while the next one gathers.
 */
export class FinalBatch<T> {
  readonly #commit: (items: T[]) => Promise<void> | void;
  #items: T[] = [];
  #resolves: Array<() => void> = [];

  /** @param commit writes a batch and reports its own errors (it must not throw). */
  constructor(commit: (items: T[]) => Promise<void> | void) {
    this.#commit = commit;
  }

  /** Resolves once the batch holding `item` has been written (or has failed: the commit reports its own errors). */
  add(item: T): Promise<void> {
    return new Promise((resolve) => {
      this.#items.push(item);
      this.#resolves.push(resolve);
      if (this.#items.length === 1) setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    const items = this.#items;
    const resolves = this.#resolves;
    this.#items = [];
    this.#resolves = [];
    try {
      await this.#commit(items);
    } finally {
      for (const resolve of resolves) resolve();
    }
  }
}

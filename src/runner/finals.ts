/**
 * Batching of attempts' final writes: the attempts that end in the same turn of the event loop
 * are committed together, one transaction (and, at synchronous FULL, one fsync) for many jobs.
 */
export class FinalBatch<T> {
  readonly #commit: (items: T[]) => (() => void) | void;
  #items: T[] = [];
  #resolves: Array<() => void> = [];

  /**
   * @param commit writes a batch; what it returns runs once every waiting `add` has been resolved
   * (the runner starts the jobs claimed for the freed slots then).
   */
  constructor(commit: (items: T[]) => (() => void) | void) {
    this.#commit = commit;
  }

  /** Resolves once the batch holding `item` has been written (or has failed: the commit reports its own errors). */
  add(item: T): Promise<void> {
    return new Promise((resolve) => {
      this.#items.push(item);
      this.#resolves.push(resolve);
      if (this.#items.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const items = this.#items;
    const resolves = this.#resolves;
    this.#items = [];
    this.#resolves = [];
    let after: (() => void) | void;
    try {
      after = this.#commit(items);
    } finally {
      for (const resolve of resolves) resolve();
    }
    after?.();
  }
}

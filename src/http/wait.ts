/**
 * Blocking UWS WAIT: requests park here and are released by the job's own phase change, as the
 * engine commits it, not by polling.
 */
import type { Phaseline } from '../phaseline.ts';

export class WaitHub {
  readonly #waiters = new Map<number, Set<() => void>>();

  constructor(phaseline: Phaseline) {
    phaseline.on('job:transition', ({ job, event }) => {
      if (event.stateBefore !== event.stateAfter) this.#release(job.id);
    });
    phaseline.on('job:deleted', ({ jobIds }) => {
      for (const id of jobIds) this.#release(id);
    });
  }

  #release(jobId: number): void {
    const waiters = this.#waiters.get(jobId);
    if (!waiters) return;
    this.#waiters.delete(jobId);
    for (const release of waiters) release();
  }

  /** Resolves at the job's next phase change, after `ms`, or when the client goes away. */
  wait(jobId: number, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(jobId);
      if (!waiters) this.#waiters.set(jobId, (waiters = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(jobId) === waiters) this.#waiters.delete(jobId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  /** Requests parked now (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }
}

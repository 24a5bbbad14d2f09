/**
 * Live updates for the dashboard: the engine's committed transitions (progress included), as the
 * facade forwards them (`job:transition`, `job:deleted`), fanned out to the open event streams.
 * Each stream gets only the jobs its caller may see: a non-admin its own. Of those, every state
 * change (the list's counts move with it), but progress and the other events within a state only
 * for the jobs the stream shows (named when it opened, checked) or saw created; a deletion (which
 * names no owner) only for those too. Nothing polls.
 */
import type { Job, JobEvent } from '../engine/job-types.ts';
import type { Caller } from '../http/app.ts';
import type { Phaseline } from '../phaseline.ts';

/** What a browser is sent about a job: the fields the list and the job page show live. */
export interface LiveJob {
  id: number;
  lifecycle: string;
  type: string;
  state: string;
  owner: string | null;
  version: number;
  percent: number;
  message: string | null;
  waiting: boolean;
  terminal: boolean;
  outcome: Job['outcome'];
  createdAt: number;
  updatedAt: number;
  /** The event that made this change, and the state it left. */
  event: string;
  stateBefore: string | null;
}

export type LiveMessage = { kind: 'job'; job: LiveJob } | { kind: 'deleted'; id: number };

/** Jobs created while a stream is open whose progress it follows (a page shows fewer). */
const MAX_CREATED_FOLLOWED = 200;

interface Subscriber {
  caller: Caller;
  /** Jobs this stream shows (named when it opened, or created since): their progress and deletion are passed on. */
  known: Set<number>;
  send: (message: LiveMessage) => void;
}

export interface LiveSubscription {
  /** A job the stream shows (one the caller may see): its deletion is passed on. */
  know(id: number): void;
  close(): void;
}

export function toLiveJob(job: Job, event: Pick<JobEvent, 'type' | 'stateBefore'>): LiveJob {
  return {
    id: job.id,
    lifecycle: job.lifecycle,
    type: job.type,
    state: job.state,
    owner: job.owner,
    version: job.version,
    percent: job.progress.percent,
    message: job.progress.message,
    waiting: job.waiting,
    terminal: job.terminal,
    outcome: job.outcome,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    event: event.type,
    stateBefore: event.stateBefore,
  };
}

export class LiveFeed {
  readonly #phaseline: Phaseline;
  readonly #subscribers = new Set<Subscriber>();
  /** The facade listeners, attached while a stream is open: with none, transitions cost nothing here. */
  #detach: (() => void) | null = null;

  constructor(phaseline: Phaseline) {
    this.#phaseline = phaseline;
  }

  #attach(): void {
    const offTransition = this.#phaseline.on('job:transition', ({ job, event }) => {
      const message: LiveMessage = { kind: 'job', job: toLiveJob(job, event) };
      const created = event.stateBefore === null;
      const changed = event.stateBefore !== event.stateAfter;
      for (const s of this.#subscribers) {
        if (!s.caller.admin && job.owner !== s.caller.owner) continue;
        // Progress and other events within a state only for the jobs the page shows (or saw created):
        // a state change of any job moves the page's counts.
        if (!changed && !s.known.has(job.id)) continue;
        if (created) {
          s.known.add(job.id);
          // A tab left open while jobs keep coming follows the newest it saw created, not all of them.
          if (s.known.size > MAX_CREATED_FOLLOWED) s.known.delete(s.known.values().next().value!);
        }
        s.send(message);
      }
    });
    const offDeleted = this.#phaseline.on('job:deleted', ({ jobIds }) => {
      for (const s of this.#subscribers) {
        for (const id of jobIds) if (s.known.delete(id)) s.send({ kind: 'deleted', id });
      }
    });
    this.#detach = () => {
      offTransition();
      offDeleted();
    };
  }

  /** Receive the caller's messages until `close` is called; `know` adds a job whose deletion is passed on. */
  subscribe(caller: Caller, send: (message: LiveMessage) => void): LiveSubscription {
    const subscriber: Subscriber = { caller, known: new Set(), send };
    this.#subscribers.add(subscriber);
    if (!this.#detach) this.#attach();
    return {
      know: (id) => void subscriber.known.add(id),
      close: () => {
        if (!this.#subscribers.delete(subscriber)) return;
        if (this.#subscribers.size === 0 && this.#detach) {
          this.#detach();
          this.#detach = null;
        }
      },
    };
  }

  /** Open streams (for tests: a client gone leaves none behind). */
  get size(): number {
    return this.#subscribers.size;
  }
}

/**
 * What a host app can observe: a typed event map and a small emitter whose listeners
 * cannot break the engine (a throw is reported on `error`, never propagated).
 */
import type { Job, JobEvent } from './engine/job-types.ts';
import { errorField, safeLog, silentLogger, type Logger } from './logger.ts';

export interface PhaselineEventMap {
  /** A committed transition: the job after it and the history event that made it. */
  'job:transition': { job: Job; event: JobEvent };
  /** A progress report that reached storage (progress writes are rate-limited). */
  'job:progress': { job: Job };
  /** A job ended in a terminal state. */
  'job:ended': { job: Job };
  /** Jobs were deleted (with their history): by a client, by destruction or by retention. */
  'job:deleted': { jobIds: readonly number[] };
  /** A worker wrote with a lease it no longer held; the write was refused. */
  'job:lease-lost': { jobId: number; leaseId: string };
  /** A worker found no due job and is waiting. */
  'runner:idle': { workerId: string };
  /** Something went wrong outside any job (a failed poll, a throwing listener). */
  error: { error: unknown; where: string };
}

export type PhaselineEventName = keyof PhaselineEventMap;
export type Listener<K extends PhaselineEventName> = (payload: PhaselineEventMap[K]) => void;

export class TypedEmitter {
  readonly #listeners = new Map<PhaselineEventName, Set<Listener<never>>>();
  /** Every `error` is also logged here (at `error`), heard or not. */
  readonly logger: Logger;

  constructor(logger: Logger = silentLogger) {
    this.logger = logger;
  }

  on<K extends PhaselineEventName>(name: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  has(name: PhaselineEventName): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0;
  }

  emit<K extends PhaselineEventName>(name: K, payload: PhaselineEventMap[K]): void {
    if (name === 'error') {
      const { error, where } = payload as PhaselineEventMap['error'];
      safeLog(this.logger, 'error', { err: errorField(error), where }, `phaseline: ${where}`);
    }
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<K>)(payload);
      } catch (error) {
        if (name === 'error') safeLog(this.logger, 'error', { err: errorField(error) }, 'phaseline: an error listener threw');
        else this.emit('error', { error, where: `listener of ${name}` });
      }
    }
  }
}

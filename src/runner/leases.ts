/**
 * Lease expiry judged without comparing two hosts' clocks (as Kubernetes leader election does).
 *
 * A holder writes its lease record, the lease id and an expiry instant on its own clock, at the
 * claim and at every heartbeat; the expiry is only ever read back as "has it changed?". An
 * observer notes each record it sees and the moment it first saw it on its own monotonic clock,
 * and takes a lease as expired once that same record has stayed unchanged for the lease's
 * duration. A host whose wall clock runs ahead (or behind, or steps) therefore neither takes over
 * live work nor waits for it: only a difference in clock *rates* could matter. The cost is that a
 * process that starts after a worker died recovers that worker's jobs one lease duration after it
 * first sees them, however long ago the worker died.
 *
 * The lease id names its duration (`<uuid>.<ms>`), so an observer judges each lease by what its
 * holder promised, whatever `leaseMs` the observer itself runs with.
 */
import { randomUUID } from 'node:crypto';

/** A running job's lease record, as the expired-lease scan reads it. */
export interface LeaseRecord {
  id: number;
  leaseId: string | null;
  leaseExpiresAt: number | null;
}

/** A new lease id that names the holder's lease duration. */
export function newLeaseId(leaseMs: number): string {
  return `${randomUUID()}.${leaseMs}`;
}

/** The duration a lease id names, or null for one that names none (written by other code). */
export function leaseDurationOf(leaseId: string): number | null {
  const match = /\.([1-9]\d*)$/.exec(leaseId);
  const ms = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(ms) ? ms : null;
}

interface Seen {
  leaseId: string;
  expiresAt: number;
  /** Monotonic instant this observer first saw the record. */
  since: number;
  durationMs: number;
}

export class LeaseWatch {
  readonly #fallbackMs: number;
  readonly #monotonic: () => number;
  #seen = new Map<number, Seen>();

  /**
   * @param fallbackMs the duration of a lease whose id names none (this process's own `leaseMs`)
   * @param monotonic this process's monotonic clock, in ms
   */
  constructor(fallbackMs: number, monotonic: () => number = () => performance.now()) {
    this.#fallbackMs = fallbackMs;
    this.#monotonic = monotonic;
  }

  /**
   * Observe the lease records of all running jobs (a job left out is forgotten: it stopped running).
   * @returns the jobs whose record has stayed the same for its lease's duration, and those with no
   * lease at all, in the order given.
   */
  expired<R extends LeaseRecord>(running: readonly R[]): R[] {
    const now = this.#monotonic();
    const seen = new Map<number, Seen>();
    const expired: R[] = [];
    for (const row of running) {
      if (row.leaseId === null || row.leaseExpiresAt === null) {
        expired.push(row); // nobody holds it, so there is nothing to wait for
        continue;
      }
      let record = this.#seen.get(row.id);
      if (!record || record.leaseId !== row.leaseId || record.expiresAt !== row.leaseExpiresAt) {
        record = { leaseId: row.leaseId, expiresAt: row.leaseExpiresAt, since: now, durationMs: leaseDurationOf(row.leaseId) ?? this.#fallbackMs };
      }
      seen.set(row.id, record);
      if (now - record.since >= record.durationMs) expired.push(row);
    }
    this.#seen = seen;
    return expired;
  }

  /** The shortest lease duration among the records last seen, or the fallback when none was. */
  get shortestMs(): number {
    let shortest = this.#fallbackMs;
    for (const record of this.#seen.values()) shortest = Math.min(shortest, record.durationMs);
    return shortest;
  }

  /** Forget every record (a restarted observer knows nothing). */
  reset(): void {
    this.#seen = new Map();
  }
}

/**
 * Recovery of the jobs of workers that died: a running job whose lease record has stayed the
 * same for its lease's duration (judged by {@link LeaseWatch}, on no other host's clock) is ended
 * as cancelled when cancellation was asked, else sent LEASE_LOST (back to the queue when it has
 * attempts left).
 */
import { isPhaselineError } from '../errors.ts';
import type { LeaseWatch } from './leases.ts';
import type { RunnerPort, RunningLease } from './port.ts';

/** Recoveries per scan: the rest stay expired for the next one, so a scan never holds the database long. */
const MAX_PER_SCAN = 100;

export interface RecoveryOptions {
  /** Jobs this worker runs itself are never recovered by it. */
  isActive(jobId: number): boolean;
  /** `{ retryAt }` when a job of this type has attempts left after `attempt`. */
  retry(type: string, attempt: number): { retryAt?: number };
  actor: string;
  report(error: unknown, where: string): void;
  /** A recovery was written (for the log). */
  recovered?(lease: RunningLease, event: string): void;
}

export async function recoverExpired(port: RunnerPort, leases: LeaseWatch, options: RecoveryOptions): Promise<void> {
  let recoveries = 0;
  for (const lease of leases.expired(await port.runningLeases())) {
    if (options.isActive(lease.id)) continue;
    if (++recoveries > MAX_PER_SCAN) break;
    try {
      if (lease.cancelRequested && (await port.accepts(lease.id, 'CANCEL_DONE'))) {
        await port.recover(lease, { type: 'CANCEL_DONE' }, options.actor);
        options.recovered?.(lease, 'CANCEL_DONE');
      } else {
        await port.recover(lease, { type: 'LEASE_LOST', ...options.retry(lease.type, lease.attempt) }, options.actor);
        options.recovered?.(lease, 'LEASE_LOST');
      }
    } catch (error) {
      // Another worker recovered it first, or its worker came back: both are fine.
      if (!isPhaselineError(error, 'LEASE_LOST') && !isPhaselineError(error, 'STALE_VERSION')) {
        options.report(error, `recovery of job ${lease.id}`);
      }
    }
  }
}

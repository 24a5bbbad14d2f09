/** Systems are imported lazily, so a process only loads (and its RSS only counts) the one it runs. */
import type { SystemAdapter, SystemName } from './types.ts';

export const SYSTEMS: readonly SystemName[] = ['phaseline', 'plainjob', 'bullmq', 'phaseline-pg', 'pgboss', 'graphile', 'graphile-batched'];

/** The systems on the bench's PostgreSQL server (lib/postgres.ts), compared with Phaseline on PostgreSQL. */
export const POSTGRES_SYSTEMS: readonly SystemName[] = ['phaseline-pg', 'pgboss', 'graphile', 'graphile-batched'];

/** The Phaseline a system is compared with: the one on the same kind of store. */
export type Reference = 'phaseline' | 'phaseline-pg';

export function onPostgres(name: SystemName): boolean {
  return POSTGRES_SYSTEMS.includes(name);
}

export function referenceOf(name: SystemName): Reference {
  return onPostgres(name) ? 'phaseline-pg' : 'phaseline';
}

/** pg-boss polls; 0.5 s is the least `pollingIntervalSeconds` it accepts. */
export const PGBOSS_POLL_SECONDS = 0.5;

/**
 * How long an idle worker of this system may wait before it looks for a job again: the latency
 * rows start each sample at a random phase of it. `pollMs` for Phaseline and plainjob (BullMQ and
 * graphile-worker are woken by the store and do not depend on it).
 */
export function pollPeriodMs(name: SystemName, pollMs: number): number {
  return name === 'pgboss' ? PGBOSS_POLL_SECONDS * 1000 : pollMs;
}

export async function loadSystem(name: SystemName): Promise<SystemAdapter> {
  switch (name) {
    case 'phaseline':
      return (await import('./phaseline.ts')).phaseline;
    case 'plainjob':
      return (await import('./plainjob.ts')).plainjob;
    case 'bullmq':
      return (await import('./bullmq.ts')).bullmq;
    case 'phaseline-pg':
      return (await import('./phaseline-pg.ts')).phaselinePg;
    case 'pgboss':
      return (await import('./pgboss.ts')).pgboss;
    case 'graphile':
      return (await import('./graphile.ts')).graphile;
    case 'graphile-batched':
      return (await import('./graphile.ts')).graphileBatched;
  }
}

export function isSystemName(value: string): value is SystemName {
  return (SYSTEMS as readonly string[]).includes(value);
}

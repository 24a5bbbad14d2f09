/** Systems are imported lazily, so a process only loads (and its RSS only counts) the one it runs. */
import type { SystemAdapter, SystemName } from './types.ts';

export const SYSTEMS: readonly SystemName[] = ['phaseline', 'plainjob', 'bullmq'];

export async function loadSystem(name: SystemName): Promise<SystemAdapter> {
  switch (name) {
    case 'phaseline':
      return (await import('./phaseline.ts')).phaseline;
    case 'plainjob':
      return (await import('./plainjob.ts')).plainjob;
    case 'bullmq':
      return (await import('./bullmq.ts')).bullmq;
  }
}

export function isSystemName(value: string): value is SystemName {
  return (SYSTEMS as readonly string[]).includes(value);
}

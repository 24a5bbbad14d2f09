export * from './common.ts';
export * from './define.ts';
export * from './ecotaxa.ts';
export * from './uws.ts';
export * from './rime.ts';
export * from './synapse.ts';
export * from './qiskit.ts';

import { ecotaxa } from './ecotaxa.ts';
import { qiskit } from './qiskit.ts';
import { rime } from './rime.ts';
import { synapse } from './synapse.ts';
import { uws } from './uws.ts';

import type { EcotaxaEvent } from './ecotaxa.ts';
import type { QiskitEvent } from './qiskit.ts';
import type { RimeEvent } from './rime.ts';
import type { SynapseEvent } from './synapse.ts';
import type { UwsEvent } from './uws.ts';

/** The events each built-in lifecycle's machine takes, by lifecycle name. */
export interface LifecycleEvents {
  ecotaxa: EcotaxaEvent;
  uws: UwsEvent;
  rime: RimeEvent;
  synapse: SynapseEvent;
  qiskit: QiskitEvent;
}

/** What a caller sends to a job of lifecycle `L`: one of its machine's events, without the instant the engine stamps. */
export type SendableEvent<L extends keyof LifecycleEvents> = LifecycleEvents[L] extends infer E ? (E extends { at: number } ? Omit<E, 'at'> : never) : never;

/** The five lifecycles Phaseline ships, by name. */
export const builtInLifecycles = { ecotaxa, uws, rime, synapse, qiskit } as const;

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

/** The five lifecycles Phaseline ships, by name. */
export const builtInLifecycles = { ecotaxa, uws, rime, synapse, qiskit } as const;

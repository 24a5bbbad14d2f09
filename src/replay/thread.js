// A replay worker thread (src/replay/parallel.ts). Phaseline ships TypeScript sources: as the
// `phaseline` bin does, register tsx in this thread before loading them.
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');

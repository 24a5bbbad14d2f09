// A replay worker thread (src/replay/parallel.ts) when Phaseline runs from its TypeScript sources
// (tests, `npm run phaseline`): register tsx in this thread before loading them. The build
// compiles thread.ts to this same name, so the published package starts the compiled thread.
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');

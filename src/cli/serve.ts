/** `phaseline serve`: the HTTP layer with the demo job types and workers, on node:http. */
import { serve as serveNode } from '@hono/node-server';
import { demoJobTypes } from '../demo/jobtypes.ts';
import { createHttpApp } from '../http/app.ts';
import type { Phaseline } from '../phaseline.ts';

export async function serve(phaseline: Phaseline, port: number): Promise<void> {
  for (const type of demoJobTypes) phaseline.register(type);
  phaseline.start({ concurrency: 4 });
  const app = createHttpApp(phaseline, { uwsJobType: 'uws.cutout' });
  await new Promise<void>((resolve) => {
    const server = serveNode({ fetch: app.fetch, port }, (info) => {
      process.stdout.write(`phaseline: serving UWS at http://localhost:${info.port}/uws, EcoTaxa at /api/jobs, views at /jobs/{id}?view=...\n`);
      resolve();
    });
    const shutdown = () => {
      server.close();
      void phaseline.close().then(() => process.exit(0));
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
}

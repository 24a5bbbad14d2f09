// Bundles the dashboard's browser script (src/dashboard/client/main.ts) into
// dist/dashboard/client.js with esbuild; `npm run build` runs it after tsc. The server serves that
// file, or, where it is missing (tsx, tests), bundles the same way on the first request (assets.ts).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
await build({
  entryPoints: [join(root, 'src/dashboard/client/main.ts')],
  outfile: join(root, 'dist/dashboard/client.js'),
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});

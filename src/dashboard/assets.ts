/**
 * The dashboard's browser script: from the build, the bundle `npm run build` writes
 * (build-client.mjs → dist/dashboard/client.js); from the sources (tsx, `npm start`, tests), or
 * where that file is missing, the same bundle made with esbuild's API on the first request and kept
 * in memory (a built file left from an older build is not taken for the sources). esbuild is a
 * development dependency: a built package never loads it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../package-root.ts';

export interface ClientScript {
  text: string;
  /** A hash of the text: the pages link `client.js?v=<version>`, which browsers may then keep for good. */
  version: string;
}

let script: Promise<ClientScript> | null = null;
let loaded: ClientScript | null = null;

export function clientScript(): Promise<ClientScript> {
  script ??= load().then(
    (text) => (loaded = { text, version: createHash('sha256').update(text).digest('hex').slice(0, 16) }),
    (error: unknown) => {
      script = null; // try again on the next request
      throw error;
    },
  );
  return script;
}

/** The loaded script's version, or null before the first load. */
export function clientScriptVersion(): string | null {
  return loaded?.version ?? null;
}

async function load(): Promise<string> {
  const root = packageRoot(import.meta.url)?.dir;
  if (!root) throw new Error('phaseline dashboard: the package folder was not found');
  const fromSources = import.meta.url.endsWith('.ts');
  try {
    if (!fromSources) return await readFile(join(root, 'dist', 'dashboard', 'client.js'), 'utf8');
  } catch {
    // not built: bundle it below
  }
  {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      entryPoints: [join(root, 'src', 'dashboard', 'client', 'main.ts')],
      bundle: true,
      format: 'esm',
      target: 'es2020',
      minify: true,
      legalComments: 'none',
      write: false,
      logLevel: 'silent',
    });
    return result.outputFiles[0]!.text;
  }
}

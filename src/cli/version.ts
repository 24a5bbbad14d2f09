/** `phaseline --version`: the version in Phaseline's package.json, found above this module. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Looks upward, so that it works from src/cli (sources) and dist/src/cli (the build). */
export function packageVersion(from: string = import.meta.url): string {
  for (let dir = dirname(fileURLToPath(from)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = parse(readFileSync(file, 'utf8'));
      if (pkg?.name === 'phaseline' && typeof pkg.version === 'string') return pkg.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

function parse(text: string): { name?: unknown; version?: unknown } | null {
  try {
    return JSON.parse(text) as { name?: unknown; version?: unknown };
  } catch {
    return null; // someone else's broken package.json on the way up
  }
}

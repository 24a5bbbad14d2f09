/**
 * Phaseline's own package folder, found by looking upward from a module for the package.json named
 * "phaseline": the same from src/ (sources) and dist/src/ (the build). Never a folder above it, so
 * a host app's own `migrations/` or package.json is never taken for Phaseline's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PackageRoot {
  dir: string;
  version: string;
}

export function packageRoot(from: string): PackageRoot | null {
  for (let dir = dirname(fileURLToPath(from)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = parse(readFileSync(file, 'utf8'));
      if (pkg?.name === 'phaseline') return { dir, version: typeof pkg.version === 'string' ? pkg.version : 'unknown' };
    }
    if (dirname(dir) === dir) return null;
  }
}

function parse(text: string): { name?: unknown; version?: unknown } | null {
  try {
    return JSON.parse(text) as { name?: unknown; version?: unknown };
  } catch {
    return null; // someone else's broken package.json on the way up
  }
}

/** `phaseline --version`: the version in Phaseline's own package.json. */
import { packageRoot } from '../package-root.ts';

export function packageVersion(from: string = import.meta.url): string {
  return packageRoot(from)?.version ?? 'unknown';
}

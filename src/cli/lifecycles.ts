/**
 * `--lifecycles FILE`: a module of the user's own lifecycles, so that the CLI replays, serves and
 * changes jobs of machines it does not ship. It may export them as a default array, as a named
 * `lifecycles` array, or as named exports, each `{ name, version, machine }`.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Lifecycle } from '../../machines/common.ts';
import { CliError } from './errors.ts';

export async function loadLifecycles(file: string): Promise<Lifecycle[]> {
  const path = resolve(file);
  if (!existsSync(path)) throw new CliError(`--lifecycles ${file}: no such file`);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(`--lifecycles ${file}: cannot load it: ${loadProblem(error, path)}`);
  }
  const lifecycles = fromModule(module, file);
  if (lifecycles.length === 0) {
    throw new CliError(`--lifecycles ${file} exports no lifecycle: export { name, version, machine } objects, or an array of them as default or as "lifecycles"`);
  }
  return lifecycles;
}

function fromModule(module: Record<string, unknown>, file: string): Lifecycle[] {
  for (const key of ['default', 'lifecycles']) {
    const value = module[key];
    if (!Array.isArray(value)) continue;
    const bad = value.findIndex((item) => !isLifecycle(item));
    if (bad >= 0) throw new CliError(`--lifecycles ${file}: ${key === 'default' ? 'the default export' : '"lifecycles"'}[${bad}] is not a lifecycle { name, version, machine }`);
    return value as Lifecycle[];
  }
  return Object.values(module).filter(isLifecycle);
}

export function isLifecycle(value: unknown): value is Lifecycle {
  if (typeof value !== 'object' || value === null) return false;
  const { name, version, machine } = value as Record<string, unknown>;
  return (
    typeof name === 'string' &&
    Number.isInteger(version) &&
    typeof machine === 'object' &&
    machine !== null &&
    typeof (machine as { transition?: unknown }).transition === 'function'
  );
}

/** The import's error in a few words; a TypeScript module under plain node needs a hint. */
function loadProblem(error: unknown, path: string): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?ts$/.test(path)) {
    return 'node cannot import TypeScript here; compile it to JavaScript, or run phaseline with node --import tsx';
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!;
}

/**
 * fast-check, loaded when a property check first needs it: it is an optional peer dependency, so
 * `phaseline/testing` imports without it and only `checkLifecycle` asks for it.
 */
import { createRequire } from 'node:module';
import type fc from 'fast-check';

/** The fast-check API. */
export type FastCheck = typeof fc;

let loaded: FastCheck | undefined;

/** fast-check, or an error that says how to install it. */
export function fastCheck(): FastCheck {
  if (loaded) return loaded;
  let module: FastCheck & { default?: FastCheck };
  try {
    module = createRequire(import.meta.url)('fast-check') as FastCheck & { default?: FastCheck };
  } catch {
    throw new Error('checkLifecycle needs fast-check, an optional peer dependency of phaseline: npm install --save-dev fast-check');
  }
  loaded = typeof module.oneof === 'function' ? module : module.default!;
  return loaded;
}

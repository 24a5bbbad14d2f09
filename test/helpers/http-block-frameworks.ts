/**
 * `node --import` this to make `express` and `fastify` unresolvable, as on a host that has
 * neither installed (test/http.mounts.test.ts loads `phaseline/http` this way).
 */
import { register } from 'node:module';

const hook = `export async function resolve(specifier, context, next) {
  if (/^(express|fastify)(\\/|$)/.test(specifier)) throw new Error('not installed: ' + specifier);
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

/**
 * Mount paths. A host that serves the app below a path of its own (Express `app.use('/x', ...)`,
 * a Fastify prefix) passes the full request URL to `app.fetch` and that path as
 * `app.fetch(request, { [MOUNT_PATH]: '/x' })`: routes are matched below it and links carry it.
 */
import { InvalidInputError } from '../errors.ts';

/** The `env` key of the mount path (what the adapters pass). */
export const MOUNT_PATH = 'phaselineMountPath';

/** `''` or `/a/b`: a leading slash, no trailing slash, no query, fragment or dot segment. */
export function normalizeBasePath(path: string, field: string): string {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return '';
  if (!/^(\/[^/?#\s\\]+)+$/.test(trimmed) || /\/\.\.?(\/|$)/.test(trimmed)) {
    throw new InvalidInputError(field, `${JSON.stringify(path)} is not a path such as /jobs-api`);
  }
  return trimmed;
}

/** The mount path a host passed in `env`, normalized; `''` when none (or not a usable path). */
export function mountPathOf(env: unknown): string {
  if (typeof env !== 'object' || env === null) return '';
  const value = (env as Record<string, unknown>)[MOUNT_PATH];
  if (typeof value !== 'string') return '';
  try {
    return normalizeBasePath(value, MOUNT_PATH);
  } catch {
    return '';
  }
}

/** A node request's headers (repeated ones as repeated values) as fetch Headers; HTTP/2 pseudo-headers left out. */
export function requestHeaders(headers: Record<string, string | string[] | undefined>): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}

/**
 * A response's headers onto a host's `set(name, value)`. Set-Cookie goes as one array: fetch
 * Headers join repeated headers with commas, which would merge cookies into one.
 */
export function copyResponseHeaders(headers: Headers, set: (name: string, value: string | string[]) => unknown): void {
  for (const [name, value] of headers) if (name !== 'set-cookie') set(name, value);
  const cookies = headers.getSetCookie();
  if (cookies.length) set('set-cookie', cookies);
}

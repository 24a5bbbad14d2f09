/**
 * Name/value pairs from a request's query and form body, in order and as sent: a name such as
 * `__proto__` is a name like any other (no object is built here), and a name may repeat.
 *
 * A body is a form (`application/x-www-form-urlencoded` in UTF-8, or `multipart/form-data`
 * without files) or absent; any other content type is refused with 415 and a form that cannot be
 * parsed with 400, before anything is written.
 */
import type { Context } from 'hono';
import { InvalidInputError } from '../errors.ts';
import { HttpProblem } from './errors.ts';

const unsupported = (contentType: string) =>
  new HttpProblem(415, 'UNSUPPORTED_MEDIA_TYPE', `${JSON.stringify(contentType.slice(0, 100))} is not a form: send application/x-www-form-urlencoded or multipart/form-data`);

export type Pair = [name: string, value: string];

/** The query string's pairs (URLSearchParams: `+` is a space, bad escapes stay as they are). */
export function queryPairs(c: Context): Pair[] {
  return [...new URL(c.req.url).searchParams];
}

/** The form body's pairs; [] for a request without a body. */
export async function formPairs(c: Context): Promise<Pair[]> {
  const contentType = c.req.header('content-type');
  const bytes = c.req.raw.body ? new Uint8Array(await c.req.arrayBuffer()) : new Uint8Array(0);
  if (contentType === undefined) {
    if (bytes.length === 0) return [];
    throw new HttpProblem(415, 'UNSUPPORTED_MEDIA_TYPE', 'a body without a Content-Type: send application/x-www-form-urlencoded or multipart/form-data');
  }
  const [type = '', ...parameters] = contentType.split(';').map((s) => s.trim());
  const media = type.toLowerCase();
  if (media === 'application/x-www-form-urlencoded') {
    const charset = parameters.find((p) => /^charset=/i.test(p))?.slice(8).replace(/^"|"$/g, '').toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'us-ascii') {
      throw new HttpProblem(415, 'UNSUPPORTED_MEDIA_TYPE', `charset ${JSON.stringify(charset.slice(0, 40))}: send the form in UTF-8`);
    }
    return [...new URLSearchParams(new TextDecoder().decode(bytes))];
  }
  if (media === 'multipart/form-data') return multipartPairs(bytes, contentType);
  throw unsupported(contentType);
}

async function multipartPairs(bytes: Uint8Array, contentType: string): Promise<Pair[]> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'Content-Type': contentType } }).formData();
  } catch {
    throw new InvalidInputError('body', 'is not well-formed multipart/form-data (check the boundary and the part headers)');
  }
  const pairs: Pair[] = [];
  for (const [name, value] of form) {
    if (typeof value !== 'string') throw new InvalidInputError(name, 'file uploads are not accepted');
    pairs.push([name, value]);
  }
  return pairs;
}

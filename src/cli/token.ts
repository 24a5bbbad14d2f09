/** `serve --token-file FILE` or PHASELINE_TOKEN: one bearer token that makes a caller an admin. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Caller } from '../http/app.ts';
import { CliError } from './errors.ts';

/** The token from the file (first line), else from the environment; null when neither is given. */
export function readToken(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  let token: string;
  let source: string;
  if (file !== undefined) {
    source = `--token-file ${file}`;
    try {
      token = readFileSync(file, 'utf8').split(/\r?\n/)[0]!.trim();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new CliError(`${source}: ${code === 'ENOENT' ? 'no such file' : 'cannot read it'}`);
    }
  } else if (env.PHASELINE_TOKEN !== undefined) {
    source = 'PHASELINE_TOKEN';
    token = env.PHASELINE_TOKEN.trim();
  } else {
    return null;
  }
  // An empty token would be a mistake that leaves the server open: refuse it.
  if (token === '') throw new CliError(`${source}: the token is empty`);
  // A bearer token is one word (RFC 6750's token68): one with spaces could never be sent, and the
  // server would refuse every request.
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw new CliError(`${source}: a bearer token is one word of letters, digits and -._~+/ (then =)`);
  return token;
}

/**
 * Checks `Authorization: Bearer <token>`. Both sides are hashed first, so timingSafeEqual compares
 * buffers of one length and the time taken says nothing about the token's length or content.
 */
export function bearerAuthenticator(token: string): (request: Request) => Caller | null {
  const expected = sha256(token);
  return (request) => {
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.get('authorization') ?? '');
    return match && timingSafeEqual(sha256(match[1]!), expected) ? { owner: null, admin: true } : null;
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

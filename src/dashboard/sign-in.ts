/**
 * Signing in to the dashboard with a bearer token, for browsers (which cannot add an
 * `Authorization` header to a page they open): a form takes the token, checks it with the same
 * `authenticate` as every request, and keeps it in an HttpOnly, SameSite=Strict cookie scoped to
 * the dashboard's path. A dashboard request without an `Authorization` header is then
 * authenticated as if it carried that token. Only the dashboard reads the cookie: the API's routes
 * never accept it, so a cookie a browser sends by itself cannot act through them.
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Caller } from '../http/app.ts';

export const TOKEN_COOKIE = 'phaseline_dashboard_token';

type Authenticate = (request: Request) => Caller | null | Promise<Caller | null>;

/** The request as it would be with the token as its bearer credentials. */
function withBearer(request: Request, token: string): Request {
  const headers = new Headers(request.headers);
  headers.set('authorization', `Bearer ${token}`);
  headers.delete('cookie');
  return new Request(request.url, { method: 'GET', headers });
}

/** The caller of a dashboard request: its own credentials, else the signed-in cookie's token. */
export async function callerOf(c: Context, authenticate: Authenticate, cookies: boolean): Promise<{ caller: Caller | null; signedIn: boolean }> {
  const request = c.req.raw;
  if (!cookies || request.headers.has('authorization')) return { caller: await authenticate(request), signedIn: false };
  const token = getCookie(c, TOKEN_COOKIE);
  if (token === undefined || token === '') return { caller: await authenticate(request), signedIn: false };
  const caller = await authenticate(withBearer(request, token));
  return { caller, signedIn: caller !== null };
}

/** Whether a token is one `authenticate` accepts. */
export async function tokenAccepted(c: Context, authenticate: Authenticate, token: string): Promise<boolean> {
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) return false;
  return (await authenticate(withBearer(c.req.raw, token))) !== null;
}

export function keepToken(c: Context, token: string, path: string): void {
  setCookie(c, TOKEN_COOKIE, token, {
    path: path === '' ? '/' : path,
    httpOnly: true,
    sameSite: 'Strict',
    secure: new URL(c.req.url).protocol === 'https:',
  });
}

export function forgetToken(c: Context, path: string): void {
  deleteCookie(c, TOKEN_COOKIE, { path: path === '' ? '/' : path });
}

/**
 * A small client for the HTTP tests: form posts and GETs that never follow redirects, so 303s can
 * be checked, each bounded in time so a request that blocks too long fails the test instead of
 * hanging it.
 */
import { assertValidUws } from './http-xml.ts';

export type Fields = Record<string, string | string[]>;

export function form(fields: Fields): URLSearchParams {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
  return body;
}

export interface Client {
  get(path: string, init?: RequestInit & { timeoutMs?: number }): Promise<Response>;
  post(path: string, fields?: Fields, init?: RequestInit): Promise<Response>;
  del(path: string, init?: RequestInit): Promise<Response>;
  /** GET a UWS XML resource: expects 200 and XML, validates it against the XSD, returns the text. */
  xml(path: string, init?: RequestInit & { timeoutMs?: number }): Promise<string>;
  /** As {@link Client.xml}, plus when the body had arrived (before validation, which takes a while). */
  xmlAt(path: string, init?: RequestInit & { timeoutMs?: number }): Promise<{ xml: string; receivedAt: number }>;
  /** GET a text/plain resource: expects 200, returns the text. */
  text(path: string, init?: RequestInit): Promise<string>;
  /** POST /uws (form); expects 303 to the new job and returns its id. */
  create(fields: Fields, init?: RequestInit): Promise<number>;
}

export function client(origin: string, defaults: { headers?: Record<string, string> } = {}): Client {
  const url = (path: string) => (path.startsWith('http') ? path : `${origin}${path}`);
  const request = (path: string, init: RequestInit & { timeoutMs?: number } = {}) => {
    const { timeoutMs = 10_000, ...rest } = init;
    return fetch(url(path), {
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      ...rest,
      headers: { ...defaults.headers, ...(rest.headers as Record<string, string> | undefined) },
    });
  };
  const self: Client = {
    get: (path, init) => request(path, { ...init, method: 'GET' }),
    post: (path, fields = {}, init) => request(path, { ...init, method: 'POST', body: init?.body ?? form(fields) }),
    del: (path, init) => request(path, { ...init, method: 'DELETE' }),
    async xml(path, init) {
      return (await self.xmlAt(path, init)).xml;
    },
    async xmlAt(path, init) {
      const response = await self.get(path, init);
      const body = await response.text();
      const receivedAt = Date.now();
      if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${body}`);
      if (!/xml/.test(response.headers.get('content-type') ?? '')) throw new Error(`GET ${path}: content-type ${response.headers.get('content-type')}`);
      return { xml: await assertValidUws(body), receivedAt };
    },
    async text(path, init) {
      const response = await self.get(path, init);
      const body = await response.text();
      if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${body}`);
      return body;
    },
    async create(fields, init) {
      const response = await self.post('/uws', fields, init);
      const body = await response.text();
      if (response.status !== 303) throw new Error(`POST /uws: ${response.status} ${body}`);
      const location = response.headers.get('location') ?? '';
      const match = /^(.*)\/uws\/([0-9]+)$/.exec(location);
      if (!match || match[1] !== origin) throw new Error(`POST /uws: Location ${location} is not ${origin}/uws/{id}`);
      return Number(match[2]);
    },
  };
  return self;
}

/**
 * The app as a node:http handler and Express/connect middleware: `app.use('/jobs-api',
 * createNodeHandler(phaseline))`. It honours the mount (links carry `/jobs-api`) and works after a
 * body parser (`express.urlencoded()`, `express.json()`, `express.raw()`, `express.text()`), which
 * has already read the request stream: the body is rebuilt from `req.body`, or passed on as sent
 * when the parser kept it ({@link keepRawBody}).
 *
 * Typed structurally, so nothing here needs Express installed.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { errorField, safeLog, silentLogger, type Logger } from '../logger.ts';
import type { Phaseline } from '../phaseline.ts';
import { createHttpApp, type HttpOptions } from './app.ts';
import { copyResponseHeaders, MOUNT_PATH, requestHeaders } from './mount.ts';

/** Anything with a fetch handler that reads the mount path from `env` (what createHttpApp returns). */
export interface FetchApp {
  fetch(request: Request, env?: Record<string, unknown>): Response | Promise<Response>;
}

/** The parts of a node:http IncomingMessage (or Express/connect request) the adapter reads. */
export interface NodeRequestLike extends AsyncIterable<unknown> {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  /** A TLSSocket has `encrypted: true`. */
  socket?: unknown;
  readableEnded?: boolean;
  /** Express/connect: the URL before the mount path was cut off. */
  originalUrl?: string;
  /** Express: the path the middleware is mounted at. */
  baseUrl?: string;
  /** Express: `http` or `https`, honouring its `trust proxy` setting. */
  protocol?: string;
  /** What a body parser made of the body, if one ran. */
  body?: unknown;
  /** The bytes the parser read, kept by {@link keepRawBody} (or a host's own `verify`). */
  rawBody?: unknown;
}

/** The parts of a node:http ServerResponse the adapter writes. */
export interface NodeResponseLike {
  statusCode: number;
  headersSent?: boolean;
  setHeader(name: string, value: string | string[]): unknown;
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): unknown;
  once(event: 'close' | 'drain' | 'error', listener: () => void): unknown;
  writableFinished?: boolean;
  destroyed?: boolean;
}

export type NodeHandler = (req: NodeRequestLike, res: NodeResponseLike, next?: (error?: unknown) => void) => Promise<void>;

export interface NodeHandlerOptions {
  /**
   * Origin used when the request carries no Host header (HTTP/1.0). Default `http://localhost`.
   * Links are built from the request's own scheme and Host otherwise.
   */
  fallbackOrigin?: string;
  /** Where a response that failed while being written is logged. Default: nowhere (createNodeHandler: the instance's logger). */
  logger?: Logger;
}

/**
 * Express/connect middleware, or a node:http `(req, res)` listener, serving `app`. It answers
 * every request it is given (it never calls `next`: a host's error page could show a stack).
 */
export function toNodeHandler(app: FetchApp, options: NodeHandlerOptions = {}): NodeHandler {
  return async (req, res) => {
    const controller = new AbortController();
    // The client went away before the answer: release what waits on its behalf (a blocking WAIT).
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    let request: Request;
    try {
      request = toRequest(req, controller.signal, options);
    } catch {
      return plain(res, 400, 'Malformed request\n');
    }
    try {
      await writeResponse(await app.fetch(request, { [MOUNT_PATH]: mountPath(req) }), res);
    } catch (error) {
      safeLog(options.logger ?? silentLogger, 'error', { err: errorField(error), method: req.method, url: req.url }, 'phaseline http: the response failed');
      if (!res.headersSent) return plain(res, 500, 'Internal error\n');
      res.end();
    }
  };
}

function plain(res: NodeResponseLike, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(new TextEncoder().encode(text));
}

/** {@link toNodeHandler} of a new {@link createHttpApp}. */
export function createNodeHandler(phaseline: Phaseline, options: HttpOptions & NodeHandlerOptions = {}): NodeHandler {
  return toNodeHandler(createHttpApp(phaseline, options), { logger: phaseline.logger, ...options });
}

/** The mount path: Express's `baseUrl`, else what connect cut off `originalUrl` to give `url`. */
export function mountPath(req: Pick<NodeRequestLike, 'url' | 'originalUrl' | 'baseUrl'>): string {
  if (typeof req.baseUrl === 'string') return req.baseUrl;
  const path = (url: string) => url.replace(/[?#].*$/s, '');
  if (typeof req.originalUrl !== 'string' || typeof req.url !== 'string') return '';
  const full = path(req.originalUrl);
  const rest = path(req.url);
  const cut = rest === '/' ? full.replace(/\/$/, '') : full.endsWith(rest) ? full.slice(0, full.length - rest.length) : '';
  return cut;
}

function toRequest(req: NodeRequestLike, signal: AbortSignal, options: NodeHandlerOptions): Request {
  const scheme = req.protocol ?? ((req.socket as { encrypted?: boolean } | null | undefined)?.encrypted ? 'https' : 'http');
  const host = typeof req.headers.host === 'string' && req.headers.host !== '' ? `${scheme}://${req.headers.host}` : (options.fallbackOrigin ?? 'http://localhost');
  const url = new URL(req.originalUrl ?? req.url ?? '/', host);
  const method = (req.method ?? 'GET').toUpperCase();
  const headers = requestHeaders(req.headers);
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (method !== 'GET' && method !== 'HEAD') {
    const parsed = parsedBody(req, headers);
    if (parsed !== undefined) {
      // The parser consumed the stream; the rebuilt body has its own length.
      headers.delete('content-length');
      headers.delete('transfer-encoding');
      if (parsed.contentType) headers.set('content-type', parsed.contentType);
      init.body = parsed.body;
    } else if (!req.readableEnded) {
      init.body = Readable.toWeb(Readable.from(req)) as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
  }
  return new Request(url, init);
}

/**
 * body-parser's `verify` option that keeps the bytes it read, so the app gets the body exactly
 * as sent: `express.urlencoded({ extended: true, verify: keepRawBody })`. Without it a form is
 * rebuilt from `req.body`, and Express's parser (qs) has dropped `__proto__` names and, with
 * `extended: true`, renamed `a[]` to `a`.
 */
export function keepRawBody(req: object, _res: unknown, buffer: Uint8Array): void {
  (req as NodeRequestLike).rawBody = buffer;
}

/**
 * The body again, after a parser read the stream: the raw bytes if kept ({@link keepRawBody}),
 * else rebuilt from `req.body`: a Buffer or string as it was; an urlencoded or multipart object
 * as a form of that type (arrays as repeated names, nested objects of `extended: true` as
 * `a[b]`); a JSON value as JSON. Undefined when no parser ran (the stream is still there).
 */
function parsedBody(req: NodeRequestLike, headers: Headers): { body: Uint8Array | string | FormData; contentType?: string } | undefined {
  const body = req.body;
  if (!req.readableEnded) return undefined;
  if (req.rawBody instanceof Uint8Array) return { body: new Uint8Array(req.rawBody) };
  if (body === undefined) return undefined;
  if (body instanceof Uint8Array) return { body: new Uint8Array(body) };
  if (typeof body === 'string') return { body };
  const type = (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded' && typeof body === 'object' && body !== null) {
    const form = new URLSearchParams();
    appendForm(form, '', body);
    return { body: form.toString(), contentType: 'application/x-www-form-urlencoded' };
  }
  if (type === 'multipart/form-data' && typeof body === 'object' && body !== null) {
    // (multer and the like) the fields again; files, which the app refuses anyway, are not in req.body.
    const form = new URLSearchParams();
    appendForm(form, '', body);
    const data = new FormData();
    for (const [name, value] of form) data.append(name, value);
    headers.delete('content-type'); // the new body has its own boundary
    return { body: data };
  }
  if (type === 'application/json' || type.endsWith('+json')) return { body: JSON.stringify(body) };
  // A parser ran for a type we cannot write back (or left `{}` for no body): nothing to send.
  return { body: '' };
}

function appendForm(form: URLSearchParams, prefix: string, value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) appendForm(form, prefix, item);
  } else if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) appendForm(form, prefix ? `${prefix}[${key}]` : key, (value as Record<string, unknown>)[key]);
  } else if (prefix !== '') {
    form.append(prefix, value === null || value === undefined ? '' : String(value));
  }
}

/**
 * Status, headers (each Set-Cookie on its own) and body of `response`, onto `res`. If the client
 * goes away first, writing stops and the body is cancelled: a full socket would never drain.
 */
export async function writeResponse(response: Response, res: NodeResponseLike): Promise<void> {
  res.statusCode = response.status;
  copyResponseHeaders(response.headers, (name, value) => res.setHeader(name, value));
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  let gone = res.destroyed === true;
  let wake = () => {};
  const stop = () => {
    gone = true;
    wake();
    reader.cancel().catch(() => {});
  };
  if (gone) return stop();
  res.once('close', () => {
    if (!res.writableFinished) stop();
  });
  res.once('error', stop);
  for (;;) {
    const { done, value } = await reader.read();
    if (done || gone) break;
    if (!res.write(value) && !gone) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        res.once('drain', resolve);
      });
    }
    if (gone) return;
  }
  if (!gone) res.end();
}

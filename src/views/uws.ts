/**
 * IVOA UWS 1.1: Safir's `Job` JSON model (lsst-sqre/safir `safir.uws`, the Wobbly serialized form)
 * and the standard's XML documents (UWS-1.1.xsd: `uws:job`, `uws:jobs`, `uws:parameters`,
 * `uws:results`) plus the single-value text resources (`/phase`, `/executionduration`,
 * `/destruction`, `/quote`, `/error`, `/owner`), as the IVOA UWS 1.1 recommendation
 * (REC-20161024) defines them.
 *
 * Mapping decisions:
 * - Phase: a UWS job's stored phase; a job of another lifecycle through `VIEW_STATES.uws`
 *   (phase.ts). UNKNOWN is never produced.
 * - Instants are ISO 8601 UTC with `Z`. `executionDuration` is whole seconds, 0 = unlimited (JSON:
 *   `null` = unlimited, as Safir). `destruction` and `quote` are `xsi:nil` / `null` when unset, and
 *   the empty string at `/destruction` and `/quote`. `ownerId` is `xsi:nil` for an anonymous job.
 * - `endTime` is when the job became terminal (Phaseline sets it on every terminal phase).
 * - Parameters: a params object gives one `uws:parameter` per key; any other params value is one
 *   parameter `id="params"`; null params give none. A string value is its text, any other value its
 *   JSON text (numbers, booleans, null, arrays, objects). A value XML 1.0 cannot carry (control
 *   characters other than TAB, LF and CR; lone surrogates) is given by reference,
 *   as UWS §2.1.11 says: `byReference="true"` and the URL `{base}/{jobId}/parameters/{id}`, which the
 *   HTTP layer serves. Every other parameter says `byReference="false"`.
 * - Results: a job result of the shape `{ results: [{ id, href, size?, mimeType? }, ...] }` lists
 *   those results (`size` a non-negative integer, `mimeType` a string). JSON keeps `href` as given;
 *   XML writes it as a URI (IRI characters percent-encoded), or, when it is no URI reference at all,
 *   points at `{base}/{jobId}/results/{id}` instead (see `uwsResultHref`). Any other
 *   non-null result is one result `id="result"` at `{base}/{jobId}/results/result`. A null result
 *   (not finished, failed, aborted, or ARCHIVED) lists none. `uws:results` is always present (the
 *   XSD requires it, even empty).
 * - Errors: a job that failed shows its last error: Safir `JobError{type, code, message, detail}`
 *   with type = the error's kind (default fatal), code = its class name (default `Error`),
 *   detail = its stack (Safir's detail may carry a traceback), with server file paths cut to file
 *   names, as in the message (`withoutPaths`). The XML `errorSummary` is Safir's: message
 *   `"{code}: {message}"`, `hasDetail` when there is a stack; `/error` is that line, then a blank
 *   line and the stack.
 * - Safir JSON: `service` defaults to the job's type; `message_id` is always null (Phaseline has no
 *   arq queue); `owner` and `destruction_time` are required by Safir but may be null here
 *   (anonymous job, no destruction time).
 * - Strings XML 1.0 cannot hold (control characters, lone surrogates) in ids, messages, owners and
 *   run ids are replaced by U+FFFD, so every document is well formed.
 */
import { create } from 'xmlbuilder2';
import type { Json } from '../../machines/common.ts';
import { UWS_PHASES, type UwsPhase } from '../../machines/uws.ts';
import type { AnyJob, Job } from '../engine/job-types.ts';
import { viewState } from './phase.ts';
import { WireReader, isPlainObject, isoInstant, isoInstantOrNull, lastError, parseJsonText } from './wire.ts';

export const UWS_NS = 'http://www.ivoa.net/xml/UWS/v1.0';
export const XLINK_NS = 'http://www.w3.org/1999/xlink';
export const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
type XMLBuilder = ReturnType<typeof create>;
/** xs:int's upper bound: a longer execution duration is written as this. */
const XS_INT_MAX = 2147483647;

export interface UwsViewOptions {
  /** URL of the job list (`/{jobs}`), without a trailing slash; job, parameter and result URLs hang below it. */
  baseUrl: string;
  /** Safir `service`. Default: the job's type. */
  service?: string;
}

export type UwsErrorType = 'transient' | 'fatal';

/** Safir `JobError`. */
export interface SafirJobError {
  type: UwsErrorType;
  code: string;
  message: string;
  detail: string | null;
}

/** Safir `JobResult`. */
export interface SafirJobResult {
  id: string;
  url: string;
  size: number | null;
  mime_type: string | null;
}

/** Safir `SerializedJob` (the `Job` model as it goes over the wire; `parameters` is excluded). */
export interface SafirJob {
  json_parameters: { [key: string]: Json };
  run_id: string | null;
  destruction_time: string | null;
  /** Whole seconds; null = unlimited. */
  execution_duration: number | null;
  id: string;
  service: string;
  owner: string | null;
  phase: UwsPhase;
  message_id: string | null;
  creation_time: string;
  start_time: string | null;
  end_time: string | null;
  quote: string | null;
  errors: SafirJobError[];
  results: SafirJobResult[];
}

/** One UWS result reference. */
export interface UwsResult {
  id: string;
  href: string;
  size?: number;
  mimeType?: string;
}

/** One UWS parameter: its text, or the URL of its value when `byReference`. */
export interface UwsParameter {
  id: string;
  value: string;
  byReference: boolean;
}

// ---------------------------------------------------------------------------------------------
// From a job to UWS values
// ---------------------------------------------------------------------------------------------

function base(options: UwsViewOptions): string {
  return options.baseUrl.replace(/\/+$/, '');
}

export function uwsPhase(job: AnyJob): UwsPhase {
  return viewState(job, 'uws');
}

/** The job's params as `json_parameters`: an object as it is, null as `{}`, anything else as `{ params }`. */
export function uwsJsonParameters(job: Pick<Job, 'params'>): { [key: string]: Json } {
  const params = job.params;
  if (params === null) return {};
  if (isPlainObject(params)) return params as { [key: string]: Json };
  return { params };
}

/** Text XML 1.0 can carry: its legal characters (no other control characters, no lone surrogates). */
const XML_SAFE_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

export function uwsParameters(job: AnyJob, options: UwsViewOptions): UwsParameter[] {
  return Object.entries(uwsJsonParameters(job)).map(([id, value]) => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return XML_SAFE_TEXT.test(text)
      ? { id, value: text, byReference: false }
      : { id, value: `${base(options)}/${job.id}/parameters/${segment(id)}`, byReference: true };
  });
}

function asResultList(result: Json | null): UwsResult[] | null {
  if (!isPlainObject(result) || !Array.isArray(result.results)) return null;
  const list: UwsResult[] = [];
  for (const entry of result.results) {
    if (!isPlainObject(entry)) return null;
    const { id, href, size, mimeType } = entry;
    if (typeof id !== 'string' || id === '' || typeof href !== 'string') return null;
    if (size !== undefined && !(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0)) return null;
    if (mimeType !== undefined && typeof mimeType !== 'string') return null;
    list.push({ id, href, ...(size === undefined ? {} : { size }), ...(mimeType === undefined ? {} : { mimeType }) });
  }
  return list;
}

export function uwsResults(job: AnyJob, options: UwsViewOptions): UwsResult[] {
  if (job.result === null) return [];
  return asResultList(job.result) ?? [{ id: 'result', href: `${base(options)}/${job.id}/results/result` }];
}

/** The string with each lone surrogate (which UTF-8, and so percent-encoding, cannot carry) as U+FFFD. */
function wellFormed(value: string): string {
  return value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** A path segment: percent-encoded, lone surrogates as U+FFFD. */
function segment(value: string): string {
  return encodeURIComponent(wellFormed(value));
}

/** Characters a URI may hold as they are (RFC 3986 unreserved, reserved and `%`). */
const URI_CHAR = /[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/;

/**
 * An IRI or sloppy URL as a URI (RFC 3987 §3.1): UTF-8 percent-encoding of every character a URI
 * cannot hold (spaces, controls, non-ASCII, `<>"{}|\^\``; a lone surrogate as U+FFFD), and `%25`
 * for a `%` that starts no escape. The resource named does not change.
 */
export function toUri(href: string): string {
  let out = '';
  for (const ch of wellFormed(href)) out += URI_CHAR.test(ch) ? ch : encodeURIComponent(ch);
  return out.replace(/%(?![0-9A-Fa-f]{2})/g, '%25');
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
/** userinfo@ host :port, the host a reg-name, IPv4, or an IP literal in brackets. */
const AUTHORITY = /^(?:[^@[\]/?#]*@)?(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]|[^@[\]:/?#]*)(?::[0-9]*)?$/;

/**
 * True when `uri` (already through {@link toUri}) is an RFC 3986 URI-reference: split by the RFC's
 * Appendix B expression, then a valid scheme, an authority whose brackets are only an IP literal,
 * and no brackets or second `#` in path, query or fragment. Strict enough that libxml2's xs:anyURI
 * check accepts every string this accepts (views.xml.test.ts tries random strings).
 */
export function isUriReference(uri: string): boolean {
  const m = /^(?:([^:/?#]+):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(uri);
  if (!m) return false;
  const [, scheme, authority, path = '', query = '', fragment = ''] = m;
  if (scheme !== undefined && !SCHEME.test(scheme)) return false;
  if (authority !== undefined && !AUTHORITY.test(authority)) return false;
  if (/[[\]]/.test(path + query + fragment) || fragment.includes('#')) return false;
  // A relative reference whose first segment holds a colon would read as a scheme.
  if (scheme === undefined && authority === undefined && /^[^/]*:/.test(path)) return false;
  return true;
}

/**
 * The `xlink:href` of a result in XML: its href as a URI ({@link toUri}); when even that is no URI
 * reference, the result's URL below the job, `{base}/{jobId}/results/{id}`, which the HTTP layer
 * answers (JSON models keep the href as given).
 */
export function uwsResultHref(job: Pick<Job, 'id'>, result: UwsResult, options: UwsViewOptions): string {
  const uri = toUri(result.href);
  return isUriReference(uri) ? uri : `${base(options)}/${job.id}/results/${segment(result.id)}`;
}

/** The job's errors in Safir's form: its last error when it failed, else none. */
export function uwsErrors(job: AnyJob): SafirJobError[] {
  const error = job.outcome === 'failed' ? lastError(job) : undefined;
  if (!error) return [];
  return [{ type: error.kind ?? 'fatal', code: error.name ?? 'Error', message: error.message, detail: error.stack ?? null }];
}

function executionSeconds(job: AnyJob): number {
  return Math.min(XS_INT_MAX, Math.max(0, Math.trunc(job.executionDuration)));
}

// ---------------------------------------------------------------------------------------------
// Safir JSON
// ---------------------------------------------------------------------------------------------

export function toSafirJob(job: AnyJob, options: UwsViewOptions): SafirJob {
  const seconds = executionSeconds(job);
  return {
    json_parameters: uwsJsonParameters(job),
    run_id: job.runId,
    destruction_time: isoInstantOrNull(job.destructionAt, 'destruction_time'),
    execution_duration: seconds === 0 ? null : seconds,
    id: String(job.id),
    service: options.service ?? job.type,
    owner: job.owner,
    phase: uwsPhase(job),
    message_id: null,
    creation_time: isoInstant(job.createdAt, 'creation_time'),
    start_time: isoInstantOrNull(job.startedAt, 'start_time'),
    end_time: isoInstantOrNull(job.endedAt, 'end_time'),
    quote: isoInstantOrNull(job.quoteAt, 'quote'),
    errors: uwsErrors(job),
    results: uwsResults(job, options).map((r) => ({ id: r.id, url: r.href, size: r.size ?? null, mime_type: r.mimeType ?? null })),
  };
}

/**
 * Reads a Safir job (Pydantic validation of `SerializedJob`, as `Job.from_serialized_job` does).
 * Fields with defaults may be absent and get them; an integer `id` becomes a string, as Safir's
 * validator does. Throws InvalidInputError naming the field on a wrong type, an unknown phase or
 * error type, a malformed instant, a negative duration or size, or a key the model does not define.
 */
export function fromSafirJob(data: unknown): SafirJob {
  const r = new WireReader('Safir Job', data);
  const nonNegative = (v: unknown, key: string): number => {
    const n = r.integer(v, key);
    return n >= 0 ? n : r.fail(key, `expected 0 or more, got ${n}`);
  };
  const job: SafirJob = {
    json_parameters: r.required('json_parameters', r.jsonObject),
    run_id: r.nullable('run_id', r.string),
    destruction_time: r.required('destruction_time', (v, key) => (v === null ? null : r.instant(v, key))),
    execution_duration: r.nullable('execution_duration', nonNegative),
    id: r.required('id', (v, key) => (typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : r.string(v, key))),
    service: r.required('service', r.string),
    owner: r.required('owner', (v, key) => (v === null ? null : r.string(v, key))),
    phase: r.required('phase', r.oneOf(UWS_PHASES)),
    message_id: r.nullable('message_id', r.string),
    creation_time: r.required('creation_time', r.instant),
    start_time: r.nullable('start_time', r.instant),
    end_time: r.nullable('end_time', r.instant),
    quote: r.nullable('quote', r.instant),
    errors:
      r.nullable(
        'errors',
        r.arrayOf(
          r.nested((e) => ({
            type: e.required('type', e.oneOf(['transient', 'fatal'] as const)),
            code: e.required('code', e.string),
            message: e.required('message', e.string),
            detail: e.nullable('detail', e.string),
          })),
        ),
        [],
      ) ?? r.fail('errors', 'expected an array, got null'),
    results:
      r.nullable(
        'results',
        r.arrayOf(
          r.nested((e) => ({
            id: e.required('id', e.string),
            url: e.required('url', e.string),
            size: e.nullable('size', (v, key) => {
              const n = e.integer(v, key);
              return n >= 0 ? n : e.fail(key, `expected 0 or more, got ${n}`);
            }),
            mime_type: e.nullable('mime_type', e.string),
          })),
        ),
        [],
      ) ?? r.fail('results', 'expected an array, got null'),
  };
  r.done();
  return job;
}

export function fromSafirJson(text: string): SafirJob {
  return fromSafirJob(parseJsonText('Safir Job', text));
}

// ---------------------------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------------------------

function document(): XMLBuilder {
  return create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '\uFFFD' });
}

/**
 * Text for xmlbuilder2. It leaves an `&` alone when it starts something shaped like an entity
 * (`&amp;`, `&x;`, `&#38;`: its "no double encoding"), in text and in attributes, so the text `&x;`
 * would come out as an undefined entity. Escaping every `&` first gives `&amp;...`, which it then
 * keeps as it is, and a character reference written here passes through the same way: a CR as
 * `&#13;` (a parser folds a raw CR LF into LF). The parsed text is exactly the input
 * (views.xml.test.ts reads values back with xmllint's XPath to check).
 */
function esc(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/\r/g, '&#13;');
}

/** Attribute text: also TAB and LF as references, which attribute-value normalisation would turn into spaces. */
function escAttr(value: string): string {
  return esc(value).replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

function end(doc: XMLBuilder): string {
  return doc.end({ prettyPrint: true, indent: '  ' });
}

/** A root element with the namespaces it needs declared on it. */
function root(doc: XMLBuilder, name: string, ns: { xlink?: boolean; xsi?: boolean } = {}): XMLBuilder {
  const el = doc.ele(UWS_NS, `uws:${name}`);
  if (ns.xlink) el.att(XMLNS_NS, 'xmlns:xlink', XLINK_NS);
  if (ns.xsi) el.att(XMLNS_NS, 'xmlns:xsi', XSI_NS);
  return el;
}

function text(parent: XMLBuilder, name: string, value: string): void {
  parent.ele(UWS_NS, `uws:${name}`).txt(esc(value));
}

/** An element the XSD declares nillable: its text, or `xsi:nil="true"` when there is none. */
function nillable(parent: XMLBuilder, name: string, value: string | null): void {
  const el = parent.ele(UWS_NS, `uws:${name}`);
  if (value === null) el.att(XSI_NS, 'xsi:nil', 'true');
  else el.txt(esc(value));
}

/** `uws:parameter` children, added to a `uws:parameters` element. */
function addParameters(el: XMLBuilder, job: AnyJob, options: UwsViewOptions): void {
  for (const p of uwsParameters(job, options)) {
    el.ele(UWS_NS, 'uws:parameter').att('id', escAttr(p.id)).att('byReference', String(p.byReference)).txt(esc(p.value));
  }
}

/** `uws:result` children, added to a `uws:results` element. */
function addResults(el: XMLBuilder, job: AnyJob, options: UwsViewOptions): void {
  for (const r of uwsResults(job, options)) {
    const result = el.ele(UWS_NS, 'uws:result').att('id', escAttr(r.id)).att(XLINK_NS, 'xlink:href', escAttr(uwsResultHref(job, r, options)));
    if (r.size !== undefined) result.att('size', String(r.size));
    if (r.mimeType !== undefined) result.att('mime-type', escAttr(r.mimeType));
  }
}

/** `GET /{jobs}/{job-id}`: the `uws:job` document (XSD `JobSummary`, elements in its order). */
export function toUwsJobXml(job: AnyJob, options: UwsViewOptions): string {
  const doc = document();
  const el = root(doc, 'job', { xlink: true, xsi: true }).att('version', '1.1');
  text(el, 'jobId', String(job.id));
  if (job.runId !== null) text(el, 'runId', job.runId);
  nillable(el, 'ownerId', job.owner);
  text(el, 'phase', uwsPhase(job));
  nillable(el, 'quote', isoInstantOrNull(job.quoteAt, 'quote'));
  text(el, 'creationTime', isoInstant(job.createdAt, 'creationTime'));
  nillable(el, 'startTime', isoInstantOrNull(job.startedAt, 'startTime'));
  nillable(el, 'endTime', isoInstantOrNull(job.endedAt, 'endTime'));
  text(el, 'executionDuration', String(executionSeconds(job)));
  nillable(el, 'destruction', isoInstantOrNull(job.destructionAt, 'destruction'));
  addParameters(el.ele(UWS_NS, 'uws:parameters'), job, options);
  addResults(el.ele(UWS_NS, 'uws:results'), job, options);
  const error = uwsErrors(job)[0];
  if (error) {
    el.ele(UWS_NS, 'uws:errorSummary')
      .att('type', error.type)
      .att('hasDetail', String(error.detail !== null))
      .ele(UWS_NS, 'uws:message')
      .txt(esc(`${error.code}: ${error.message}`));
  }
  return end(doc);
}

/** `GET /{jobs}`: the `uws:jobs` list, one `uws:jobref` per job with `xlink:href` = `{base}/{id}`, in the order given. */
export function toUwsJobListXml(jobs: readonly AnyJob[], options: UwsViewOptions): string {
  const doc = document();
  const el = root(doc, 'jobs', { xlink: true, xsi: true }).att('version', '1.1');
  for (const job of jobs) {
    const ref = el.ele(UWS_NS, 'uws:jobref').att('id', String(job.id)).att(XLINK_NS, 'xlink:href', escAttr(`${base(options)}/${job.id}`));
    text(ref, 'phase', uwsPhase(job));
    if (job.runId !== null) text(ref, 'runId', job.runId);
    nillable(ref, 'ownerId', job.owner);
    text(ref, 'creationTime', isoInstant(job.createdAt, 'creationTime'));
  }
  return end(doc);
}

/** `GET /{jobs}/{job-id}/parameters`: the `uws:parameters` document. */
export function toUwsParametersXml(job: AnyJob, options: UwsViewOptions): string {
  const doc = document();
  addParameters(root(doc, 'parameters'), job, options);
  return end(doc);
}

/** `GET /{jobs}/{job-id}/results`: the `uws:results` document. */
export function toUwsResultsXml(job: AnyJob, options: UwsViewOptions): string {
  const doc = document();
  addResults(root(doc, 'results', { xlink: true }), job, options);
  return end(doc);
}

export type UwsTextResource = 'phase' | 'executionduration' | 'destruction' | 'quote' | 'error' | 'owner';

/**
 * The `text/plain` body of a single-value resource: the phase; the execution duration in seconds;
 * the destruction and quote instants (empty when unset); the error (`"{code}: {message}"`, then a
 * blank line and the detail when there is one; empty when the job has not failed); the owner
 * (empty for an anonymous job).
 */
export function uwsTextResource(job: AnyJob, resource: UwsTextResource): string {
  switch (resource) {
    case 'phase':
      return uwsPhase(job);
    case 'executionduration':
      return String(executionSeconds(job));
    case 'destruction':
      return isoInstantOrNull(job.destructionAt, 'destruction') ?? '';
    case 'quote':
      return isoInstantOrNull(job.quoteAt, 'quote') ?? '';
    case 'error': {
      const error = uwsErrors(job)[0];
      if (!error) return '';
      return `${error.code}: ${error.message}${error.detail === null ? '' : `\n\n${error.detail}`}`;
    }
    case 'owner':
      return job.owner ?? '';
  }
}

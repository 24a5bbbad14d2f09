/**
 * OpenTelemetry, optional: `@opentelemetry/api` is an optional peer dependency, loaded on first
 * use and only if it is installed; without it (or with `telemetry: false`) nothing is traced and
 * nothing else changes. With it and no SDK registered, the API's own no-op tracer answers.
 *
 * Only the few API members used here are typed, structurally (no type of the package appears in
 * Phaseline's declarations, so a consumer's type-check never needs it either). The W3C
 * traceparent is written and read here rather than by a propagator, which the API alone lacks.
 */
import { createRequire } from 'node:module';

export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}

export type OtelAttributes = Record<string, string | number | boolean>;

export interface OtelSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  addEvent(name: string, attributes?: OtelAttributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

export interface OtelTracer {
  startSpan(name: string, options?: { kind?: number; attributes?: OtelAttributes }, context?: unknown): OtelSpan;
}

/** The part of `@opentelemetry/api` Phaseline calls. */
export interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): OtelTracer;
    getSpanContext(context: unknown): OtelSpanContext | undefined;
    setSpanContext(context: unknown, spanContext: OtelSpanContext): unknown;
    setSpan(context: unknown, span: OtelSpan): unknown;
    isSpanContextValid(spanContext: OtelSpanContext): boolean;
  };
  context: {
    active(): unknown;
    with<T>(context: unknown, fn: () => T): T;
  };
  ROOT_CONTEXT: unknown;
  SpanStatusCode: { OK: number; ERROR: number };
  SpanKind: { CONSUMER: number };
}

let loaded: OtelApi | null | undefined;

/** The API when it is installed, else null (looked up once per process). */
export function otelApi(): OtelApi | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Whether `value` is a W3C traceparent (version 00, ids not all zero). */
export function isTraceparent(value: string): boolean {
  const match = TRACEPARENT.exec(value);
  return match !== null && !/^0+$/.test(match[1]!) && !/^0+$/.test(match[2]!);
}

/** The traceparent of the active span, or null when there is none (or no API). */
export function activeTraceparent(api: OtelApi | null): string | null {
  if (api === null) return null;
  const span = api.trace.getSpanContext(api.context.active());
  if (!span || !api.trace.isSpanContextValid(span)) return null;
  return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** A context whose parent is the (remote) span a traceparent names; the root context for none. */
export function contextOf(api: OtelApi, traceparent: string | null): unknown {
  const match = traceparent === null ? null : TRACEPARENT.exec(traceparent);
  if (!match) return api.ROOT_CONTEXT;
  return api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16), isRemote: true });
}

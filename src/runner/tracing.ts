/**
 * A span per attempt (src/telemetry.ts): a child of the context the job was enqueued in (its stored
 * traceparent, so a restart in between loses nothing), with the job's id, type, lifecycle and
 * attempt, an event per transition the job makes while the attempt runs (CLAIM, PROGRESS, ASK,
 * SUCCEED...), and the outcome. The handler runs inside the span's context, so the spans it makes
 * are the attempt's children.
 */
import type { Job } from '../engine/job-types.ts';
import { activeTraceparent, contextOf, type OtelApi, type OtelSpan, type OtelTracer } from '../telemetry.ts';

export class AttemptSpan {
  readonly #api: OtelApi;
  readonly #span: OtelSpan;
  readonly #context: unknown;
  #ended = false;

  constructor(api: OtelApi, span: OtelSpan, context: unknown) {
    this.#api = api;
    this.#span = span;
    this.#context = context;
  }

  /** A transition of the job during the attempt. */
  event(type: string, state: string): void {
    if (!this.#ended) this.#span.addEvent(type, { 'phaseline.job.state': state });
  }

  /** The attempt span's W3C traceparent: a child job spawned in the attempt is traced under it. */
  traceparent(): string | null {
    return this.#api.context.with(this.#context, () => activeTraceparent(this.#api));
  }

  /** Run `fn` (the handler) with the attempt's span active. */
  run<T>(fn: () => T): T {
    return this.#api.context.with(this.#context, fn);
  }

  /** End the span (once) with the attempt's outcome; a failure sets the error status. */
  end(outcome: string, error?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#span.setAttribute('phaseline.attempt.outcome', outcome);
    if (error !== undefined) this.#span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message: error });
    else if (outcome === 'succeeded') this.#span.setStatus({ code: this.#api.SpanStatusCode.OK });
    this.#span.end();
  }
}

/** Starts attempt spans; none when the API is absent. */
export class AttemptTracing {
  readonly #api: OtelApi | null;
  readonly #tracer: OtelTracer | null;

  constructor(api: OtelApi | null) {
    this.#api = api;
    this.#tracer = api?.trace.getTracer('phaseline') ?? null;
  }

  start(job: Job, workerId: string): AttemptSpan | null {
    if (this.#api === null || this.#tracer === null) return null;
    const api = this.#api;
    const parent = contextOf(api, job.traceparent);
    const span = this.#tracer.startSpan(
      `phaseline attempt ${job.type}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          'phaseline.job.id': job.id,
          'phaseline.job.type': job.type,
          'phaseline.job.lifecycle': job.lifecycle,
          'phaseline.job.attempt': job.attempt,
          'phaseline.worker.id': workerId,
        },
      },
      parent,
    );
    span.addEvent('CLAIM', { 'phaseline.job.state': job.state });
    return new AttemptSpan(api, span, api.trace.setSpan(parent, span));
  }
}

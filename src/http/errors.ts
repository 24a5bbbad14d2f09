/** One table from error code to HTTP status, and the plain-text error body. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isPhaselineError, type PhaselineErrorCode } from '../errors.ts';

const STATUS: Record<PhaselineErrorCode, ContentfulStatusCode> = {
  JOB_NOT_FOUND: 404,
  // Someone else's job is answered exactly as one that does not exist.
  WRONG_OWNER: 404,
  // UWS 1.1 §2.2: a request not allowed in the job's current phase is 403.
  ILLEGAL_TRANSITION: 403,
  STALE_VERSION: 409,
  INVALID_INPUT: 400,
  // A stored job whose machine this server has not loaded: the server's misconfiguration, not
  // the client's fault (no client request names a lifecycle; an unknown job type stays a 400).
  UNKNOWN_LIFECYCLE: 503,
  UNKNOWN_JOB_TYPE: 400,
  LEASE_LOST: 409,
  CLOSED: 503,
  STORE_UNAVAILABLE: 503,
  NOT_A_PHASELINE_DATABASE: 503,
  // Thrown inside a handler only; never an answer to a request.
  SIGNAL_TIMEOUT: 500,
  SCHEDULE_NOT_FOUND: 404,
};

/** The one body of every "no such job" answer: it names no id and no owner, so it tells nothing. */
export const NO_SUCH_JOB = 'JOB_NOT_FOUND: No such job\n';

/** A refusal that is about HTTP itself (not a Phaseline error), with its own status and code. */
export class HttpProblem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpProblem';
  }
}

export function statusOf(error: unknown): ContentfulStatusCode {
  if (error instanceof HttpProblem) return error.status;
  return isPhaselineError(error) ? STATUS[error.code] : 500;
}

export function problem(c: Context, status: ContentfulStatusCode, error: unknown): Response {
  if (status === 500) return c.text('Internal error\n', 500);
  if (error instanceof HttpProblem) return c.text(`${error.code}: ${error.message}\n`, status);
  if (isPhaselineError(error, 'JOB_NOT_FOUND') || isPhaselineError(error, 'WRONG_OWNER')) return c.text(NO_SUCH_JOB, 404);
  const code = isPhaselineError(error) ? error.code : 'ERROR';
  // Server-side failures (a closed engine, a database that cannot be opened) name server paths
  // and state in their messages: the client learns only that the service is unavailable.
  if (status >= 500) return c.text(`${code}: Service unavailable\n`, status);
  const message = error instanceof Error ? error.message : String(error);
  return c.text(`${code}: ${message}\n`, status);
}

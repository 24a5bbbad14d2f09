/** One table from error code to HTTP status, and the plain-text error body. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isPhaselineError, type PhaselineErrorCode } from '../errors.ts';

const STATUS: Record<PhaselineErrorCode, ContentfulStatusCode> = {
  JOB_NOT_FOUND: 404,
  // Someone else's job is answered as if it did not exist.
  WRONG_OWNER: 404,
  // UWS 1.1 §2.2: a request not allowed in the job's current phase is 403.
  ILLEGAL_TRANSITION: 403,
  STALE_VERSION: 409,
  INVALID_INPUT: 400,
  UNKNOWN_LIFECYCLE: 400,
  UNKNOWN_JOB_TYPE: 400,
  LEASE_LOST: 409,
  CLOSED: 503,
};

export function statusOf(error: unknown): ContentfulStatusCode {
  return isPhaselineError(error) ? STATUS[error.code] : 500;
}

export function problem(c: Context, status: ContentfulStatusCode, error: unknown): Response {
  if (status === 500) return c.text('Internal error\n', 500);
  const code = isPhaselineError(error) ? error.code : 'ERROR';
  // Do not reveal that someone else's job exists.
  const message = isPhaselineError(error, 'WRONG_OWNER') ? 'No such job' : error instanceof Error ? error.message : String(error);
  return c.text(`${code}: ${message}\n`, status);
}

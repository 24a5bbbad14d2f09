/**
 * Every failure reaches the user as one line on stderr and a stable exit code: 2 for bad or
 * missing input (usage, a missing database, job or lifecycle), 1 for a refusal or a divergence,
 * 70 (sysexits' EX_SOFTWARE) for a failure nobody expected (a damaged file, an I/O error), so that a
 * script never reads a broken store as a refusal.
 */
import { isPhaselineError, type PhaselineErrorCode } from '../errors.ts';

export const EXIT = { ok: 0, refused: 1, usage: 2, internal: 70 } as const;

/** A failure of the CLI's own (a lifecycles module, a port), with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The engine refused the command; the job is unchanged. */
const REFUSED = new Set<PhaselineErrorCode>(['ILLEGAL_TRANSITION', 'STALE_VERSION', 'WRONG_OWNER', 'LEASE_LOST', 'CLOSED']);

export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (isPhaselineError(error)) return REFUSED.has(error.code) ? EXIT.refused : EXIT.usage;
  return EXIT.internal;
}

/** The line to print: the error's message, and what to do about it where the CLI knows. */
export function messageOf(error: unknown): string {
  if (isPhaselineError(error, 'UNKNOWN_LIFECYCLE')) return `${error.message}; load it with --lifecycles FILE`;
  if (isPhaselineError(error, 'STORE_UNAVAILABLE') && (error as { reason?: unknown }).reason === 'no-file') {
    return `${error.message} (this command does not create one; check --db)`;
  }
  if (error instanceof CliError || isPhaselineError(error)) return error.message;
  // Not a failure the CLI expects: its message, and its stack only when asked for.
  const message = error instanceof Error ? error.message : String(error);
  if (process.env.PHASELINE_DEBUG && error instanceof Error && error.stack) return `unexpected error: ${error.stack}`;
  return `unexpected error: ${message} (PHASELINE_DEBUG=1 shows where)`;
}

/** One line: `phaseline: ...`, newlines folded. */
export function errorLine(message: string): string {
  return `phaseline: ${process.env.PHASELINE_DEBUG ? message : message.replace(/\s*\n\s*/g, ' ')}\n`;
}

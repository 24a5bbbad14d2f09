/**
 * Typed errors. Each has a stable `code` (codes go on the wire), structured readonly fields,
 * and a message built in its constructor. Match with {@link isPhaselineError}: it works on
 * errors revived from storage or received over HTTP, where `instanceof` does not.
 */
export type PhaselineErrorCode =
  | 'JOB_NOT_FOUND'
  | 'ILLEGAL_TRANSITION'
  | 'STALE_VERSION'
  | 'WRONG_OWNER'
  | 'INVALID_INPUT'
  | 'UNKNOWN_LIFECYCLE'
  | 'UNKNOWN_JOB_TYPE'
  | 'LEASE_LOST'
  | 'CLOSED'
  | 'STORE_UNAVAILABLE'
  | 'NOT_A_PHASELINE_DATABASE'
  | 'SIGNAL_TIMEOUT'
  | 'SCHEDULE_NOT_FOUND';

export class PhaselineError extends Error {
  constructor(
    readonly code: PhaselineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PhaselineError';
  }
}

export class JobNotFoundError extends PhaselineError {
  /** @param ofType the job type asked for, when the job must be of one */
  constructor(readonly jobId: number, ofType?: string) {
    super('JOB_NOT_FOUND', ofType === undefined ? `No job with id ${jobId}` : `No job with id ${jobId} of type ${ofType}`);
    this.name = 'JobNotFoundError';
  }
}

/** The job's machine does not accept this event in its current state. Nothing was written. */
export class IllegalTransitionError extends PhaselineError {
  constructor(
    readonly jobId: number,
    readonly lifecycle: string,
    readonly state: string,
    readonly eventType: string,
    detail?: string,
  ) {
    super('ILLEGAL_TRANSITION', `Job ${jobId} (${lifecycle}) in state ${state} does not accept ${eventType}${detail ? `: ${detail}` : ''}`);
    this.name = 'IllegalTransitionError';
  }
}

/** The caller expected another version of the job (optimistic concurrency). Nothing was written. */
export class StaleVersionError extends PhaselineError {
  constructor(
    readonly jobId: number,
    readonly expected: number,
    readonly actual: number,
  ) {
    super('STALE_VERSION', `Job ${jobId} is at version ${actual}, not ${expected}`);
    this.name = 'StaleVersionError';
  }
}

export class WrongOwnerError extends PhaselineError {
  constructor(
    readonly jobId: number,
    readonly owner: string | null,
  ) {
    super('WRONG_OWNER', `Job ${jobId} does not belong to ${owner ?? 'an anonymous caller'}`);
    this.name = 'WrongOwnerError';
  }
}

export class InvalidInputError extends PhaselineError {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super('INVALID_INPUT', `Invalid ${field}: ${problem}`);
    this.name = 'InvalidInputError';
  }
}

export class UnknownLifecycleError extends PhaselineError {
  constructor(
    readonly lifecycle: string,
    readonly version?: number,
  ) {
    super('UNKNOWN_LIFECYCLE', `No lifecycle ${lifecycle}${version === undefined ? '' : ` version ${version}`} is registered`);
    this.name = 'UnknownLifecycleError';
  }
}

export class UnknownJobTypeError extends PhaselineError {
  constructor(readonly type: string) {
    super('UNKNOWN_JOB_TYPE', `No job type ${type} is registered`);
    this.name = 'UnknownJobTypeError';
  }
}

/** A worker wrote with a lease it no longer holds (fencing). Nothing was written. */
export class LeaseLostError extends PhaselineError {
  constructor(
    readonly jobId: number,
    readonly leaseId: string,
  ) {
    super('LEASE_LOST', `Lease ${leaseId} on job ${jobId} is no longer held`);
    this.name = 'LeaseLostError';
  }
}

export class ClosedError extends PhaselineError {
  constructor(readonly operation: string) {
    super('CLOSED', `Cannot ${operation}: Phaseline is closed`);
    this.name = 'ClosedError';
  }
}

/** Why a database could not be opened; the message says it in words. */
export type StoreUnavailableReason = 'no-file' | 'no-directory' | 'cannot-open' | 'no-migrations';

/** The database file cannot be opened or created. Nothing was written. */
export class StoreUnavailableError extends PhaselineError {
  constructor(
    readonly path: string,
    readonly reason: StoreUnavailableReason,
    detail?: string,
  ) {
    super('STORE_UNAVAILABLE', `Cannot open database ${path}: ${STORE_REASONS[reason]}${detail ? ` (${detail})` : ''}`);
    this.name = 'StoreUnavailableError';
  }
}

const STORE_REASONS: Record<StoreUnavailableReason, string> = {
  'no-file': 'no such file',
  'no-directory': 'its directory does not exist',
  'cannot-open': 'it cannot be opened',
  'no-migrations': 'no migrations folder (migrations/meta/_journal.json) was found above the Phaseline module',
};

/** The file is not SQLite, or is another application's SQLite database. It was left as it was. */
export class NotAPhaselineDatabaseError extends PhaselineError {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super('NOT_A_PHASELINE_DATABASE', `${path} is not a Phaseline database: ${detail}`);
    this.name = 'NotAPhaselineDatabaseError';
  }
}

/**
 * `ctx.waitFor(name, { timeout })` ran out before the signal came: thrown inside the handler, which
 * may catch it (the wait's outcome is recorded, so a re-entered handler gets the same error).
 */
export class SignalTimeoutError extends PhaselineError {
  constructor(
    readonly jobId: number,
    readonly signal: string,
    readonly until: number,
  ) {
    super('SIGNAL_TIMEOUT', `Job ${jobId} waited for the signal ${JSON.stringify(signal)} until ${new Date(until).toISOString()}; it did not come`);
    this.name = 'SignalTimeoutError';
  }
}

/** No schedule of that name is stored. Nothing was written. */
export class ScheduleNotFoundError extends PhaselineError {
  constructor(readonly schedule: string) {
    super('SCHEDULE_NOT_FOUND', `No schedule ${JSON.stringify(schedule)}`);
    this.name = 'ScheduleNotFoundError';
  }
}

export function isPhaselineError<C extends PhaselineErrorCode>(
  error: unknown,
  code?: C,
): error is PhaselineError & { code: C } {
  // Not "any error with a string code": SQLite's and Node's errors have codes too (SQLITE_CORRUPT,
  // ENOENT), and must not pass for a refusal of Phaseline's.
  return error instanceof PhaselineError && (code === undefined || error.code === code);
}

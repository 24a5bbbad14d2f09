/**
 * The logger Phaseline writes to: the shape of pino's (and of most structured loggers'), taken
 * structurally so that no logging library is a dependency. The library itself never writes to the
 * console; without a `logger` option nothing is logged at all (the facade's `error` event still
 * carries every error outside a job).
 */
import { InvalidInputError } from './errors.ts';

/** One level: a structured object first, then an optional message (pino's order). */
export type LogFn = (obj: Record<string, unknown>, msg?: string) => void;

/** What `createPhaseline({ logger })` takes: a pino logger, or anything with these methods. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** A logger that adds `bindings` to each entry; without it Phaseline adds them itself. */
  child?: (bindings: Record<string, unknown>) => Logger;
}

const nothing: LogFn = () => {};

/** The default: writes nothing anywhere. */
export const silentLogger: Logger = Object.freeze({ debug: nothing, info: nothing, warn: nothing, error: nothing });

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** The logger given, checked (INVALID_INPUT when a level is missing), or the silent one. */
export function resolveLogger(logger: unknown): Logger {
  if (logger === undefined || logger === null) return silentLogger;
  if (typeof logger !== 'object' && typeof logger !== 'function') throw new InvalidInputError('logger', 'must be an object with debug, info, warn and error methods');
  for (const level of LEVELS) {
    if (typeof (logger as Record<string, unknown>)[level] !== 'function') throw new InvalidInputError('logger', `has no ${level} method`);
  }
  const child = (logger as Logger).child;
  if (child !== undefined && typeof child !== 'function') throw new InvalidInputError('logger', 'child must be a method');
  return logger as Logger;
}

/** A logger that adds `bindings` to each entry: the logger's own `child` when it has one. */
export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  if (logger === silentLogger) return silentLogger;
  if (typeof logger.child === 'function') return logger.child(bindings);
  const bound = (level: (typeof LEVELS)[number]): LogFn => (obj, msg) => logger[level].call(logger, { ...bindings, ...obj }, msg);
  return { debug: bound('debug'), info: bound('info'), warn: bound('warn'), error: bound('error'), child: (more) => childLogger(logger, { ...bindings, ...more }) };
}

/**
 * Call a logger without letting it break the caller: a logger that throws must not undo or hide
 * a committed transition or stop a worker.
 */
export function safeLog(logger: Logger, level: (typeof LEVELS)[number], obj: Record<string, unknown>, msg: string): void {
  if (logger === silentLogger) return;
  try {
    logger[level](obj, msg);
  } catch {
    // Nowhere left to report it.
  }
}

/** The error as a log field: message, name and stack, as pino's `err` serializer shows it. */
export function errorField(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { type: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}), ...('code' in error ? { code: (error as { code: unknown }).code } : {}) };
  return { message: String(error) };
}

/** A logger writing warnings and errors to stderr, one line each: for the CLI, which may print. */
export function stderrLogger(stream: NodeJS.WritableStream = process.stderr): Logger {
  const write = (level: string): LogFn => (obj, msg) => {
    const err = obj.err as { message?: string } | undefined;
    stream.write(`phaseline ${level}: ${msg ?? ''}${err?.message ? `: ${err.message}` : ''}\n`);
  };
  return { debug: nothing, info: nothing, warn: write('warn'), error: write('error') };
}

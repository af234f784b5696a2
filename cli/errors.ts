/**
 * Errors the `felhom` command turns into a one-line message and an exit status.
 * Felhom's own errors (lib/errors.ts: `ESIGNATURE`, `ESPEC`, ...) keep their code and get the
 * status of their kind and fault; everything else is `EINTERNAL` and shows a stack only with
 * `--debug`.
 */
import { ERROR_CODE_PATTERN, FelhomError, type ErrorFault, type ErrorKind, type FelhomErrorOptions } from '../lib/errors.js';

/** Exit statuses, documented in docs/operator-guide.md. */
export const ExitCode = {
  ok: 0,
  /** The input was understood and is wrong: invalid spec, refused envelope, policy violation. */
  invalid: 1,
  /** The command line itself is wrong: unknown option, missing argument. */
  usage: 2,
  /** Something outside the input failed: hub unreachable, engine crashed, file unreadable. */
  failure: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The exit status of a failure of `kind` and `fault`: a wrong command line is 2, a wrong input 1,
 * a failure outside the input 3 (docs/operator-guide.md). The only place that knows the numbers.
 */
export function exitStatus(kind: ErrorKind, fault: ErrorFault): ExitCode {
  if (kind === 'usage') return ExitCode.usage;
  return fault === 'input' ? ExitCode.invalid : ExitCode.failure;
}

/** An error of the command itself, reported as `felhom: <code>: <message>`; by default the input's fault (exit 1). */
export class CliError extends FelhomError {
  constructor(code: string, message: string, options: FelhomErrorOptions & { kind?: ErrorKind } = {}) {
    super(code, options.kind ?? 'generic', message, { ...options, fault: options.fault ?? 'input' });
  }
}

/** A usage error: exit 2. */
export function usageError(message: string): CliError {
  return new CliError('EUSAGE', message, { kind: 'usage' });
}

/** What the command prints for a failure: one line on stderr, and with `--json` this object on stdout. */
export interface Failure {
  readonly code: string;
  readonly message: string;
  readonly exitCode: ExitCode;
  readonly details: readonly string[];
}

/** The JSON document a failing command prints on stdout with `--json`. */
export interface FailureDocument {
  readonly error: { readonly code: string; readonly message: string; readonly exitCode: number; readonly details?: readonly string[] };
}

/** Node's own errors (a file, a socket, a port) carry the system call that failed. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException & { syscall: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * Classifies any error into the contract every command follows (docs/operator-guide.md):
 * a {@link FelhomError} keeps its code and gets the exit status of its kind and fault; Node's
 * system errors (a missing file, a port in use, a refused connection) are failures outside the
 * input (exit 3); anything else is `EINTERNAL`, also exit 3.
 */
export function describeFailure(error: unknown): Failure {
  if (error instanceof FelhomError) return { code: error.code, message: error.message, exitCode: exitStatus(error.kind, error.fault), details: [...error.details] };
  if (isSystemError(error)) {
    return { code: typeof error.code === 'string' && ERROR_CODE_PATTERN.test(error.code) ? error.code : 'EIO', message: error.message, exitCode: ExitCode.failure, details: [] };
  }
  return { code: 'EINTERNAL', message: error instanceof Error ? error.message : String(error), exitCode: ExitCode.failure, details: [] };
}

export function failureDocument(failure: Failure): FailureDocument {
  return {
    error: { code: failure.code, message: failure.message, exitCode: failure.exitCode, ...(failure.details.length > 0 ? { details: failure.details } : {}) },
  };
}

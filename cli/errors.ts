/**
 * Errors the `felhom` command turns into a one-line message and an exit status.
 * Library errors that carry a `code` (`ESIGNATURE`, `ESPEC`, ...) keep it; everything
 * else is `EINTERNAL` and shows a stack only with `--debug`.
 */

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

/** An error the CLI reports as `felhom: <code>: <message>` with the given exit status. */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  /** Extra lines printed under the message (for example every validation problem). */
  readonly details: readonly string[];
  constructor(code: string, message: string, options: { exitCode?: ExitCode; details?: readonly string[]; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.invalid;
    this.details = options.details ?? [];
  }
}

/** A usage error: exit 2. */
export function usageError(message: string): CliError {
  return new CliError('EUSAGE', message, { exitCode: ExitCode.usage });
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

const CODE_PATTERN = /^E[A-Z0-9_]+$/;

/** Node's own errors (a file, a socket, a port) carry the system call that failed. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException & { syscall: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

function isExitCode(value: unknown): value is ExitCode {
  return value === 0 || value === 1 || value === 2 || value === 3;
}

/**
 * Classifies any error into the contract every command follows (docs/operator-guide.md):
 * errors that name their code keep it and their exit status; Node's system errors (a missing
 * file, a port in use, a refused connection) are failures outside the input (exit 3); anything
 * else is `EINTERNAL`, also exit 3.
 */
export function describeFailure(error: unknown): Failure {
  if (error instanceof CliError) return { code: error.code, message: error.message, exitCode: error.exitCode, details: error.details };
  const coded = error instanceof Error ? (error as Error & { code?: unknown; exitCode?: unknown; details?: unknown }) : undefined;
  const details = Array.isArray(coded?.details) ? coded.details.map(String) : [];
  if (isSystemError(error)) {
    return { code: typeof error.code === 'string' && CODE_PATTERN.test(error.code) ? error.code : 'EIO', message: error.message, exitCode: ExitCode.failure, details };
  }
  if (coded && typeof coded.code === 'string' && CODE_PATTERN.test(coded.code)) {
    return { code: coded.code, message: coded.message, exitCode: isExitCode(coded.exitCode) && coded.exitCode !== 0 ? coded.exitCode : ExitCode.invalid, details };
  }
  return { code: 'EINTERNAL', message: error instanceof Error ? error.message : String(error), exitCode: ExitCode.failure, details };
}

export function failureDocument(failure: Failure): FailureDocument {
  return {
    error: { code: failure.code, message: failure.message, exitCode: failure.exitCode, ...(failure.details.length > 0 ? { details: failure.details } : {}) },
  };
}

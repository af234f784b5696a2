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

/**
 * The one base of every error Felhom's own code throws (STYLE: "An error hierarchy ... under one
 * base"). A {@link FelhomError} says, as data and never in its message:
 *
 * - `code`: the reason, `E[A-Z0-9_]+` (`ESPEC`, `EREPLAY`, `EHUB_UNAVAILABLE`), kept by journals,
 *   reports, audit entries and the CLI's `felhom: <code>: <message>` line;
 * - `kind`: how the agent handles it: `stalled` needs a person, `waiting` passes on retry,
 *   `generic` is neither known to pass nor known to need a person, `usage` is a wrong command line;
 * - `fault`: whose fault it is: `input` (the spec, envelope, key or request is understood and
 *   wrong) or `environment` (something outside the input: a file, the hub, the engine, the disk);
 * - `details`: extra lines for people (every problem of a spec, every policy violation);
 * - `cause`: the error underneath, as `Error`'s own.
 *
 * Nothing here knows about exit statuses: the `felhom` command alone maps `kind` and `fault`
 * to them (cli/errors.ts `describeFailure`, docs/operator-guide.md).
 */

/** How the agent handles an error (docs/agent.md "Error kinds"); `usage` only comes from a command line. */
export type ErrorKind = 'stalled' | 'waiting' | 'generic' | 'usage';

/** Whose fault an error is: the input's (a person fixes the input) or the environment's (retry once the cause is fixed). */
export type ErrorFault = 'input' | 'environment';

/** What every error code looks like. */
export const ERROR_CODE_PATTERN = /^E[A-Z0-9_]+$/;

export interface FelhomErrorOptions {
  /** The error underneath. */
  readonly cause?: unknown;
  /** Extra lines for people, printed under the message. @default - none */
  readonly details?: readonly string[];
  /** Whose fault it is. @default - {@link defaultFault} of the kind */
  readonly fault?: ErrorFault;
}

/**
 * The fault an error of `kind` has unless it says otherwise: a stalled error or a usage error is
 * the input's (the same input will fail the same way); a waiting or generic one the environment's.
 */
export function defaultFault(kind: ErrorKind): ErrorFault {
  return kind === 'stalled' || kind === 'usage' ? 'input' : 'environment';
}

export class FelhomError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly fault: ErrorFault;
  readonly details: readonly string[];
  constructor(code: string, kind: ErrorKind, message: string, options: FelhomErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.kind = kind;
    this.fault = options.fault ?? defaultFault(kind);
    this.details = options.details ?? [];
  }
}

/**
 * Why an enrollment (docs/hub-protocol.md "Enrollment") did not finish. `stalled` needs a person
 * (a new code, the right trust root); `waiting` is worth retrying as it is (the hub was down).
 */
export type EnrollmentErrorKind = 'stalled' | 'waiting';

export class EnrollmentError extends Error {
  readonly code: string;
  readonly kind: EnrollmentErrorKind;
  /** Exit status for the `felhom` command: 1 refused or needs a person, 2 bad usage, 3 retry later. */
  readonly exitCode: 1 | 2 | 3;
  constructor(code: string, message: string, options: { kind?: EnrollmentErrorKind; exitCode?: 1 | 2 | 3; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'EnrollmentError';
    this.code = code;
    this.kind = options.kind ?? 'stalled';
    this.exitCode = options.exitCode ?? (this.kind === 'waiting' ? 3 : 1);
  }
}

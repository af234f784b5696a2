/**
 * Why an enrollment (docs/hub-protocol.md "Enrollment") did not finish. `stalled` needs a person
 * (a new code, the right trust root); `waiting` is worth retrying as it is (the hub was down);
 * `usage` is a code or fingerprint typed wrong.
 */
import { FelhomError, type ErrorFault } from '../../lib/errors.js';

export type EnrollmentErrorKind = 'stalled' | 'waiting' | 'usage';

export class EnrollmentError extends FelhomError {
  declare readonly kind: EnrollmentErrorKind;
  constructor(code: string, message: string, options: { kind?: EnrollmentErrorKind; fault?: ErrorFault; cause?: unknown } = {}) {
    super(code, options.kind ?? 'stalled', message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      ...(options.fault ? { fault: options.fault } : {}),
    });
  }
}

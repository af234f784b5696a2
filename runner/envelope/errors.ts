/**
 * Why an envelope was refused. One class per verification rule (docs/envelope.md), all under
 * {@link EnvelopeError}, so the runner catches them with `instanceof` and the CLI prints their
 * `code`. Every refusal is *stalled*: retrying the same bytes cannot succeed, a person must look.
 */
import { FelhomError } from '../../lib/errors.js';

/** Machine-readable reason codes, in verification order. */
export const REASONS = [
  'malformed',
  'unknown-key',
  'weak-hash',
  'critical-notation',
  'weak-key',
  'key-expired',
  'key-revoked',
  'unusable-key',
  'tampered',
  'insufficient-signatures',
  'wrong-box',
  'wrong-tier',
  'wrong-type',
  'replay',
  'rollback',
  'expired',
  'not-yet-valid',
  'invalid-body',
] as const;
export type EnvelopeReason = (typeof REASONS)[number];

export abstract class EnvelopeError extends FelhomError {
  /** The CLI error code (`felhom: <code>: <message>`); each refusal class names its own. */
  abstract override readonly code: string;
  abstract readonly reason: EnvelopeReason;
  /** A refused envelope needs a person; the runner must not retry it. */
  declare readonly kind: 'stalled';
  /** The input was understood and refused. `details`: extra lines (for example every body problem). */
  constructor(message: string, options: { cause?: unknown; details?: readonly string[] } = {}) {
    super('EENVELOPE', 'stalled', message, options);
  }
}

/** Rule 1: the envelope is too large, not JSON, the wrong shape, or carries unreadable armour. */
export class MalformedEnvelopeError extends EnvelopeError {
  override readonly code = 'EMALFORMED';
  readonly reason = 'malformed';
}

/**
 * Codes of refusals at the signature rules (1 to 4, 14): they judge one *copy* of a payload (its
 * signatures), so a differently signed copy of the same payload is judged on its own.
 */
export const SIGNATURE_REFUSAL_CODES: ReadonlySet<string> = new Set([
  'EMALFORMED',
  'EUNKNOWNKEY',
  'EWEAK_HASH',
  'ECRITICAL_NOTATION',
  'EWEAK_KEY',
  'EKEY_EXPIRED',
  'EKEY_REVOKED',
  'EKEY_UNUSABLE',
  'ETAMPERED',
  'ETHRESHOLD',
]);

export function isSignatureRefusal(error: unknown): error is EnvelopeError {
  return error instanceof EnvelopeError && SIGNATURE_REFUSAL_CODES.has(error.code);
}

/** Rule 2: no signature was made by a key in the trust store. */
export class UnknownKeyError extends EnvelopeError {
  override readonly code = 'EUNKNOWNKEY';
  readonly reason = 'unknown-key';
}

/** Rule 3a: a signature by a trusted key uses a broken hash (SHA-1, MD5, RIPEMD-160). */
export class WeakHashError extends EnvelopeError {
  override readonly code = 'EWEAK_HASH';
  readonly reason = 'weak-hash';
}

/** Rule 3a: a signature by a trusted key carries a critical notation or subpacket the box does not understand. */
export class CriticalNotationError extends EnvelopeError {
  override readonly code = 'ECRITICAL_NOTATION';
  readonly reason = 'critical-notation';
}

/** Rule 3b: the trusted key that signed is too weak to count (RSA under 2048 bits, DSA, ElGamal). */
export class WeakKeyError extends EnvelopeError {
  override readonly code = 'EWEAK_KEY';
  readonly reason = 'weak-key';
}

/** Rule 3b: the trusted key (or its signing subkey) has expired by the box's clock, whatever date the signature claims. */
export class KeyExpiredError extends EnvelopeError {
  override readonly code = 'EKEY_EXPIRED';
  readonly reason = 'key-expired';
}

/** Rule 3b: the trusted key (or its signing subkey) is revoked, whatever date the signature claims. */
export class KeyRevokedError extends EnvelopeError {
  override readonly code = 'EKEY_REVOKED';
  readonly reason = 'key-revoked';
}

/** Rule 3b: the trusted key cannot sign at the box's clock for another reason openpgp names. */
export class UnusableKeyError extends EnvelopeError {
  override readonly code = 'EKEY_UNUSABLE';
  readonly reason = 'unusable-key';
}

/** Rule 3: a signature that names a trusted key does not verify over the payload bytes. */
export class TamperedError extends EnvelopeError {
  override readonly code = 'ETAMPERED';
  readonly reason = 'tampered';
}

/** Rule 4 (and 14 for a rotation's new keys): fewer distinct trusted keys signed than the threshold asks for. */
export class ThresholdError extends EnvelopeError {
  override readonly code = 'ETHRESHOLD';
  readonly reason = 'insufficient-signatures';
}

/** Rule 6: the envelope is addressed to another box. */
export class WrongBoxError extends EnvelopeError {
  override readonly code = 'EWRONGBOX';
  readonly reason = 'wrong-box';
}

/** Rule 7: the envelope is addressed to another tier of this box. */
export class WrongTierError extends EnvelopeError {
  override readonly code = 'EWRONGTIER';
  readonly reason = 'wrong-tier';
}

/** Rule 8: the envelope is a spec where a job was expected, or the reverse. */
export class WrongTypeError extends EnvelopeError {
  override readonly code = 'EWRONGTYPE';
  readonly reason = 'wrong-type';
}

/** Rule 9: the serial equals the highest one this box has verified: the same envelope again, or another one reusing its serial. */
export class ReplayError extends EnvelopeError {
  override readonly code = 'EREPLAY';
  readonly reason = 'replay';
}

/** Rule 10: the serial is lower than the highest one this box has verified: an older envelope (applied or not). */
export class RollbackError extends EnvelopeError {
  override readonly code = 'EROLLBACK';
  readonly reason = 'rollback';
}

/** Rule 11: the envelope expired (a frozen hub serving stale envelopes). */
export class ExpiredError extends EnvelopeError {
  override readonly code = 'EEXPIRED';
  readonly reason = 'expired';
}

/** Rule 12: the envelope was issued in the future, beyond the clock-skew allowance. */
export class NotYetValidError extends EnvelopeError {
  override readonly code = 'ENOTYETVALID';
  readonly reason = 'not-yet-valid';
}

/** Rule 13: the body is not a valid box spec or job. */
export class InvalidBodyError extends EnvelopeError {
  override readonly code = 'EINVALIDBODY';
  readonly reason = 'invalid-body';
}

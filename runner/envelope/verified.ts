/**
 * The result of a successful verification, and a private record of which objects
 * `verifyEnvelope` produced: a hand-built object with the same fields is not "verified".
 */
import type { EnvelopeHeader } from './format.js';
import type { TrustStore } from './trust.js';

export interface VerifiedEnvelope {
  readonly header: EnvelopeHeader;
  /** `header.body`, for convenience. */
  readonly body: Record<string, unknown>;
  /** sha256 of the canonical payload bytes, hex. */
  readonly digest: string;
  /** The exact signed payload. */
  readonly payload: string;
  /** Primary-key fingerprints of the trusted keys whose signatures verified, sorted. */
  readonly signers: readonly string[];
}

const verifiedBy = new WeakMap<VerifiedEnvelope, TrustStore>();

export function markVerified(envelope: VerifiedEnvelope, trust: TrustStore): VerifiedEnvelope {
  verifiedBy.set(envelope, trust);
  return envelope;
}

/** The trust store `envelope` was verified against, or undefined when verifyEnvelope did not produce it. */
export function trustStoreOfVerified(envelope: VerifiedEnvelope): TrustStore | undefined {
  return verifiedBy.get(envelope);
}

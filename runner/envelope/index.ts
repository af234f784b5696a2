/**
 * Signed envelopes: how operator specs and jobs reach a box (docs/architecture.md#signed-envelopes, docs/envelope.md).
 * The runner uses this module only through this index.
 */
export {
  REASONS,
  EnvelopeError,
  MalformedEnvelopeError,
  UnknownKeyError,
  WeakHashError,
  CriticalNotationError,
  WeakKeyError,
  KeyExpiredError,
  KeyRevokedError,
  UnusableKeyError,
  isSignatureRefusal,
  SIGNATURE_REFUSAL_CODES,
  TamperedError,
  ThresholdError,
  WrongBoxError,
  WrongTierError,
  WrongTypeError,
  ReplayError,
  RollbackError,
  ExpiredError,
  NotYetValidError,
  InvalidBodyError,
  type EnvelopeReason,
} from './errors.js';
export {
  ENVELOPE_FORMAT,
  DEFAULT_MAX_ENVELOPE_BYTES,
  ENVELOPE_TYPES,
  JOB_ACTIONS,
  canonicalPayload,
  formatEnvelope,
  parseEnvelope,
  payloadDigest,
  type EnvelopeDocument,
  type EnvelopeHeader,
  type EnvelopeType,
  type JobAction,
  type JobBody,
  type RotateKeysBody,
} from './format.js';
export { generateKey, readPrivateKey, readPublicKey, fingerprintOf, KeyError, type GeneratedKey, type GenerateKeyOptions } from './keys.js';
export { signEnvelope, addSignature, buildHeader, DEFAULT_VALIDITY_MS, type EnvelopeContent } from './sign.js';
export { pinningProblem, MIN_RSA_BITS } from './key-policy.js';
export { verifyEnvelope, DEFAULT_CLOCK_SKEW_MS, type BodyValidator, type VerifyOptions } from './verify.js';
export type { VerifiedEnvelope } from './verified.js';
export {
  applyKeyRotation,
  rotationInstalled,
  createTrustStore,
  loadTrustStore,
  parseTrustStore,
  serializeTrustStore,
  writeTrustStore,
  TrustStoreError,
  type TrustStore,
  type TrustedKey,
  type RotationRecord,
} from './trust.js';
export { encryptSecret, decryptSecret, SecretError } from './secrets.js';

/**
 * The enrollment configuration: what a box learns when it redeems its code, as a signed envelope
 * (runner/envelope/). The operator signs it when creating the code; the hub only stores and serves
 * it. It is a `spec` envelope for the `host` tier whose body is `{ kind: "felhom-enrollment/v1", ... }`:
 * no box spec has that shape, so it can never pass as a host spec, nor a spec as it.
 *
 * The box checks it against the trust root its code carries before pinning anything
 * ({@link verifyEnrollmentConfig}): the key named by the trust root must be one of the operator keys
 * the configuration lists, and must have signed it, next to the configuration's own threshold.
 */
import type * as openpgp from 'openpgp';
import {
  createTrustStore,
  EnvelopeError,
  formatEnvelope,
  parseEnvelope,
  signEnvelope,
  verifyEnvelope,
  type BodyValidator,
  type TrustStore,
} from '../envelope/index.js';
import { isPlainObject } from '../envelope/format.js';
import { enrollmentCodeDigest, TRUST_ROOT_HEX } from './code.js';
import { EnrollmentError } from './errors.js';

export const ENROLLMENT_KIND = 'felhom-enrollment/v1';
/**
 * How long the signed configuration stays valid after the code expires: a box whose fetch
 * succeeded just before the code's expiry and then failed still finishes on its credentials.
 */
export const CONFIG_GRACE_MS = 7 * 24 * 60 * 60 * 1000;

export interface EnrollmentBody {
  readonly kind: typeof ENROLLMENT_KIND;
  /** sha256 hex of the code this configuration was made for. */
  readonly codeDigest: string;
  /** The operator keys the box pins, and how many must sign each envelope. */
  readonly trust: { readonly threshold: number; readonly keys: readonly string[] };
}

/** Problems with an enrollment body, each naming the field. */
export const enrollmentBodyProblems: BodyValidator = (body) => {
  if (!isPlainObject(body)) return ['body: expected an object'];
  const problems: string[] = [];
  if (body.kind !== ENROLLMENT_KIND) problems.push(`body.kind: expected ${JSON.stringify(ENROLLMENT_KIND)}, got ${JSON.stringify(body.kind)}`);
  if (typeof body.codeDigest !== 'string' || !/^[0-9a-f]{64}$/.test(body.codeDigest)) problems.push('body.codeDigest: expected the sha256 hex of the code');
  const trust = body.trust;
  if (!isPlainObject(trust)) problems.push('body.trust: expected { threshold, keys }');
  else {
    if (!Array.isArray(trust.keys) || trust.keys.length === 0 || !trust.keys.every((key) => typeof key === 'string' && key.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----'))) {
      problems.push('body.trust.keys: expected a non-empty array of armoured public keys');
    }
    if (!Number.isSafeInteger(trust.threshold) || (trust.threshold as number) < 1) problems.push('body.trust.threshold: expected a positive integer');
  }
  const extra = Object.keys(body).filter((key) => !['kind', 'codeDigest', 'trust'].includes(key));
  if (extra.length > 0) problems.push(`body: unexpected field ${JSON.stringify(extra[0])}`);
  return problems;
};

export interface SignEnrollmentOptions {
  readonly box: string;
  readonly code: string;
  /** The trust store the box pins (felhom trust init). */
  readonly trust: TrustStore;
  /** Operator keys that sign: at least the trust's threshold of them, the trust root first. */
  readonly signingKeys: readonly openpgp.PrivateKey[];
  readonly codeExpiresAt: Date;
  /** @default - now */
  readonly issuedAt?: Date;
}

/** The operator's side: the configuration envelope file for a code. */
export async function signEnrollmentConfig(options: SignEnrollmentOptions): Promise<string> {
  const body: EnrollmentBody = {
    kind: ENROLLMENT_KIND,
    codeDigest: enrollmentCodeDigest(options.code),
    trust: { threshold: options.trust.threshold, keys: options.trust.keys.map((key) => key.armored) },
  };
  const document = await signEnvelope(
    {
      type: 'spec',
      box: options.box,
      tier: 'host',
      serial: 1,
      body: body as unknown as Record<string, unknown>,
      ...(options.issuedAt ? { issuedAt: options.issuedAt } : {}),
      expiresAt: new Date(options.codeExpiresAt.getTime() + CONFIG_GRACE_MS),
    },
    options.signingKeys,
  );
  return formatEnvelope(document);
}

export interface VerifiedEnrollment {
  readonly trust: TrustStore;
  /** The full fingerprint of the trust root key. */
  readonly rootFingerprint: string;
  /** sha256 of the configuration's payload. */
  readonly digest: string;
}

function refused(message: string, cause?: unknown): EnrollmentError {
  return new EnrollmentError('EENROLL_UNTRUSTED', `${message}; nothing was pinned. Ask the operator to check the hub and regenerate the code`, { cause });
}

/**
 * The box's side. Reads the candidate operator keys from the configuration, requires the trust
 * root among them, verifies the envelope against them (signatures, threshold, box, tier, time,
 * body), and requires the trust root's own signature and the code's digest. Pure: nothing is
 * written; the caller pins `trust` only after this returned.
 */
export async function verifyEnrollmentConfig(envelope: string, options: { box: string; codeDigest: string; trustRoot: string; now?: Date }): Promise<VerifiedEnrollment> {
  const trustRoot = options.trustRoot.replace(/\s/g, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(trustRoot) || trustRoot.length < TRUST_ROOT_HEX) throw new EnrollmentError('EENROLL_CODE', `trust root: expected at least ${TRUST_ROOT_HEX} hex digits of a fingerprint`, { kind: 'usage' });
  let candidate: TrustStore;
  try {
    // The keys are read before the signatures are checked only to know which keys to check them with;
    // nothing they say is acted on unless the trust root signed it.
    const payload = JSON.parse(parseEnvelope(envelope).payload) as { body?: { trust?: { keys?: unknown; threshold?: unknown } } };
    const keys = payload.body?.trust?.keys;
    const threshold = payload.body?.trust?.threshold;
    if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string') || typeof threshold !== 'number') throw new Error('body.trust: expected { threshold, keys }');
    candidate = await createTrustStore(keys as string[], threshold);
  } catch (error) {
    throw refused(`the enrollment configuration is not one: ${(error as Error).message}`, error);
  }
  const root = candidate.keys.find((key) => key.fingerprint.startsWith(trustRoot));
  if (!root) {
    throw refused(`the enrollment configuration names operator keys ${candidate.keys.map((key) => key.fingerprint).join(', ')}, none of them the trust root ${trustRoot} the code carries`);
  }
  let verified;
  try {
    verified = await verifyEnvelope(envelope, { trust: candidate, box: options.box, tier: 'host', type: 'spec', validateBody: enrollmentBodyProblems, ...(options.now ? { now: options.now } : {}) });
  } catch (error) {
    if (error instanceof EnvelopeError) throw refused(`the enrollment configuration does not verify (${error.code}: ${error.message})`, error);
    throw error;
  }
  if (!verified.signers.includes(root.fingerprint)) throw refused(`the enrollment configuration is not signed by the trust root key ${root.fingerprint}`);
  const body = verified.body as unknown as EnrollmentBody;
  if (body.codeDigest !== options.codeDigest) throw refused('the enrollment configuration was made for another code');
  return { trust: candidate, rootFingerprint: root.fingerprint, digest: verified.digest };
}

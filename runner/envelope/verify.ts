/**
 * Envelope verification, in the fixed order of docs/envelope.md ("Verification order"). Like
 * go-tuf it checks signatures over the exact bytes before reading what they say, then the
 * addressing, then freshness (serial, then time), then content. It is pure: it reads the
 * trust store and the caller's last serial, writes nothing, and returns what it verified.
 * The caller records the new serial (and applies a rotation) only after it returned.
 */
import * as openpgp from 'openpgp';
import { enums } from 'openpgp';
import type { Tier } from '../../stacks/spec/types.js';
import { bodyProblems } from './body.js';
import {
  ExpiredError,
  InvalidBodyError,
  MalformedEnvelopeError,
  NotYetValidError,
  ReplayError,
  RollbackError,
  TamperedError,
  ThresholdError,
  UnknownKeyError,
  WrongBoxError,
  WrongTierError,
  WrongTypeError,
} from './errors.js';
import { instant, parseEnvelope, parseHeader, payloadDigest, type EnvelopeType, type RotateKeysBody } from './format.js';
import { keyUsableProblem, signaturePacketProblem } from './key-policy.js';
import { createTrustStore, type TrustStore } from './trust.js';
import { markVerified, type VerifiedEnvelope } from './verified.js';

/** How far the box clock may be off from the operator's, either way. */
export const DEFAULT_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** Problems with a body, as sentences that name the field; empty when valid. */
export type BodyValidator = (body: unknown, type: EnvelopeType) => readonly string[];

export interface VerifyOptions {
  readonly trust: TrustStore;
  /** This box's id. */
  readonly box: string;
  /** The tier this verifier serves. */
  readonly tier: Tier;
  /** The envelope type expected here. @default - spec and job both accepted */
  readonly type?: EnvelopeType;
  /**
   * The rollback floor: the highest serial this box has verified for this box and tier, specs
   * and jobs alike, whether or not applying it succeeded. @default - none yet (any serial is new)
   */
  readonly lastSerial?: number;
  /** The box's clock: freshness and key validity (expiry, revocation) are judged at this time. @default - the current time */
  readonly now?: Date;
  /** @default - 5 minutes ({@link DEFAULT_CLOCK_SKEW_MS}) */
  readonly clockSkewMs?: number;
  /** The box spec validator, plugged in by the caller. @default - only the built-in shape checks */
  readonly validateBody?: BodyValidator;
  /** @default - 1 MiB */
  readonly maxBytes?: number;
}

export async function verifyEnvelope(input: Uint8Array | string, options: VerifyOptions): Promise<VerifiedEnvelope> {
  const clock = options.now ?? new Date();
  const now = clock.getTime();
  const skew = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;

  // Rule 1: size, JSON, shape, armour: before anything is interpreted.
  const document = parseEnvelope(input, { maxBytes: options.maxBytes });
  const signatures = await readSignatures(document.signatures);
  const payloadBytes = new TextEncoder().encode(document.payload);

  // Rules 2 to 4: who signed exactly these bytes, with keys usable now.
  const tally = await tallySignatures(payloadBytes, signatures, options.trust, clock);
  if (tally.byTrustedKeys === 0) {
    throw new UnknownKeyError(`no signature is by a trusted key (signed by key id ${tally.unknownKeyIds.join(', ') || 'none'})`);
  }
  if (tally.failed.length > 0) {
    throw new TamperedError(`the signature by trusted key ${tally.failed[0]} does not verify over the payload`, { details: tally.failed.map((fingerprint) => `bad signature by ${fingerprint}`) });
  }
  if (tally.verified.size < options.trust.threshold) {
    throw new ThresholdError(`${tally.verified.size} distinct trusted key(s) signed; the threshold is ${options.trust.threshold}`);
  }

  // Rule 5: the signed payload is a canonical, well-formed header.
  const header = parseHeader(document.payload);

  // Rules 6 to 8: addressed to this box, this tier, this kind of envelope (no cross-box or cross-tier replay).
  if (header.box !== options.box) throw new WrongBoxError(`envelope is for box ${JSON.stringify(header.box)}, this is ${JSON.stringify(options.box)}`);
  if (header.tier !== options.tier) throw new WrongTierError(`envelope is for the ${header.tier} tier, this is the ${options.tier} tier`);
  if (options.type !== undefined && header.type !== options.type) throw new WrongTypeError(`envelope is a ${header.type}, expected a ${options.type}`);

  // Rules 9 and 10: strictly above the floor, the highest serial verified (not merely applied):
  // an envelope that verified and then failed still holds the floor, as TUF clients keep it.
  if (options.lastSerial !== undefined) {
    if (header.serial === options.lastSerial) throw new ReplayError(`serial ${header.serial} was already verified on this box`);
    if (header.serial < options.lastSerial) throw new RollbackError(`serial ${header.serial} is older than serial ${options.lastSerial}, the highest this box has verified`);
  }

  // Rules 11 and 12: within its validity window, give or take the clock-skew allowance.
  const expiresAt = instant(header.expiresAt)!;
  const issuedAt = instant(header.issuedAt)!;
  if (now > expiresAt + skew) throw new ExpiredError(`envelope expired at ${header.expiresAt}`);
  if (issuedAt > now + skew) throw new NotYetValidError(`envelope is issued at ${header.issuedAt}, in the future`);

  // Rule 13: the body is something the runner can act on.
  const problems = [...bodyProblems(header.body, header.type, header.box), ...(options.validateBody?.(header.body, header.type) ?? [])];
  if (problems.length > 0) throw new InvalidBodyError(`invalid ${header.type} body: ${problems[0]}`, { details: problems });

  // Rule 14: a key rotation must also be accepted by the keys it installs (TUF root rotation),
  // so a rotation cannot hand the box to keys that never agreed to hold it.
  if (header.type === 'job' && header.body.action === 'rotate-keys') {
    await checkRotationSignatures(header.body as unknown as RotateKeysBody, payloadBytes, signatures, clock);
  }

  const digest = payloadDigest(document.payload);
  return markVerified({ header, body: header.body, digest, payload: document.payload, signers: [...tally.verified].sort() }, options.trust);
}

async function readSignatures(armored: readonly string[]): Promise<openpgp.Signature[]> {
  const signatures: openpgp.Signature[] = [];
  for (const [index, text] of armored.entries()) {
    let signature: openpgp.Signature;
    try {
      signature = await openpgp.readSignature({ armoredSignature: text });
    } catch (error) {
      throw new MalformedEnvelopeError(`envelope.signatures[${index}]: unreadable armour (${(error as Error).message})`, { cause: error });
    }
    // Only signatures over a document count; a key certification or revocation is not one.
    const wrongKind = signature.packets.find((packet) => packet.signatureType !== enums.signature.binary && packet.signatureType !== enums.signature.text);
    if (signature.packets.length === 0 || wrongKind) {
      throw new MalformedEnvelopeError(`envelope.signatures[${index}]: not a document signature (type ${wrongKind?.signatureType ?? 'none'})`);
    }
    signatures.push(signature);
  }
  return signatures;
}

interface Tally {
  /** Signature packets that named a trusted key, valid or not. */
  byTrustedKeys: number;
  unknownKeyIds: string[];
  /** Fingerprints of trusted keys with a signature that failed. */
  failed: string[];
  /** Distinct primary fingerprints with a verified signature: a key counts once however often it signed. */
  verified: Set<string>;
}

async function tallySignatures(payload: Uint8Array, signatures: readonly openpgp.Signature[], trust: TrustStore, now: Date): Promise<Tally> {
  const tally: Tally = { byTrustedKeys: 0, unknownKeyIds: [], failed: [], verified: new Set() };
  const verificationKeys = trust.keys.map((key) => key.publicKey);
  for (const signature of signatures) {
    // Rules 3a and 3b, before the mathematics: a signature by a trusted key counts only with a
    // sound hash, nothing critical the box does not understand, and a key usable at the box's
    // clock. The signature's own creation time is the signer's claim, so it decides nothing here.
    for (const packet of signature.packets) {
      const signer = trust.keys.find((key) => key.publicKey.getKeys(packet.issuerKeyID).length > 0);
      if (!signer) continue;
      const problem =
        signaturePacketProblem(packet, signer.fingerprint) ?? (await keyUsableProblem(signer.publicKey, signer.publicKey.getKeys(packet.issuerKeyID)[0]!, now));
      if (problem) throw problem;
    }
    const message = await openpgp.createMessage({ binary: payload });
    // `date: null` for the mathematics: the envelope's own time is judged once, by the signed
    // issuedAt/expiresAt with the documented skew (rules 11 and 12); key validity was judged
    // above at the box's clock, and openpgp also checks the key was valid when it signed.
    let result: openpgp.VerifyMessageResult<Uint8Array>;
    try {
      result = await openpgp.verify({ message, signature, verificationKeys, format: 'binary', date: null });
    } catch (error) {
      throw new MalformedEnvelopeError(`a signature cannot be checked: ${(error as Error).message}`, { cause: error });
    }
    for (const packet of result.signatures) {
      // A subkey's signature counts for its primary key.
      const signer = trust.keys.find((key) => key.publicKey.getKeys(packet.keyID).length > 0);
      if (!signer) {
        tally.unknownKeyIds.push(packet.keyID.toHex().toUpperCase());
        continue;
      }
      tally.byTrustedKeys += 1;
      try {
        await packet.verified;
        tally.verified.add(signer.fingerprint);
      } catch {
        tally.failed.push(signer.fingerprint);
      }
    }
  }
  return tally;
}

async function checkRotationSignatures(body: RotateKeysBody, payload: Uint8Array, signatures: readonly openpgp.Signature[], now: Date): Promise<void> {
  let next: TrustStore;
  try {
    next = await createTrustStore(body.keys, body.threshold);
  } catch (error) {
    throw new InvalidBodyError(`invalid rotate-keys body: ${(error as Error).message}`, { cause: error });
  }
  const tally = await tallySignatures(payload, signatures, next, now);
  if (tally.failed.length > 0) throw new TamperedError(`the signature by new key ${tally.failed[0]} does not verify over the payload`);
  if (tally.verified.size < next.threshold) {
    throw new ThresholdError(`rotation signed by ${tally.verified.size} of the new keys; their threshold is ${next.threshold}`);
  }
}

/**
 * What makes a trusted key's signature count, beyond the mathematics openpgp checks: the key is
 * usable **at the box's clock** (not at the creation time the signer wrote into the signature,
 * which a holder of an expired or retired key can back-date at will), the key is strong enough,
 * and the signature uses a sound hash and nothing the box does not understand (docs/envelope.md,
 * rules 3a and 3b). `felhom trust init` applies the same key rules before pinning a key.
 */
import * as openpgp from 'openpgp';
import { enums } from 'openpgp';
import {
  CriticalNotationError,
  KeyExpiredError,
  KeyRevokedError,
  UnusableKeyError,
  WeakHashError,
  WeakKeyError,
  type EnvelopeError,
} from './errors.js';

/** Hashes no signature may use: collisions are practical (SHA-1, MD5) or the hash is retired. */
const BROKEN_HASHES: ReadonlySet<number> = new Set([enums.hash.md5, enums.hash.sha1, enums.hash.ripemd]);

/** RSA keys below this many bits do not count (NIST SP 800-131A; openpgp's own floor is 2047). */
export const MIN_RSA_BITS = 2048;

const RSA = new Set<string>(['rsaEncryptSign', 'rsaSign', 'rsaEncrypt']);
const RETIRED = new Set<string>(['dsa', 'elgamal']);

type SigningKey = openpgp.PublicKey | openpgp.Subkey;

/** Rule 3a: the signature packet itself. */
export function signaturePacketProblem(packet: openpgp.SignaturePacket, fingerprint: string): EnvelopeError | undefined {
  if (packet.hashAlgorithm !== null && BROKEN_HASHES.has(packet.hashAlgorithm)) {
    const name = enums.read(enums.hash, packet.hashAlgorithm).toUpperCase();
    return new WeakHashError(`the signature by trusted key ${fingerprint} uses ${name}, which is broken; sign with SHA-256 or stronger`);
  }
  const notation = packet.rawNotations.find((raw) => raw.critical);
  if (notation) return new CriticalNotationError(`the signature by trusted key ${fingerprint} carries the critical notation ${JSON.stringify(notation.name)}, which this box does not understand`);
  const subpacket = packet.unknownSubpackets.find((raw) => raw.critical);
  if (subpacket) return new CriticalNotationError(`the signature by trusted key ${fingerprint} carries critical subpacket type ${subpacket.type}, which this box does not understand`);
  return undefined;
}

/** The key's strength: RSA under {@link MIN_RSA_BITS}, DSA and ElGamal are refused. */
export function keyStrengthProblem(key: SigningKey, fingerprint: string): EnvelopeError | undefined {
  const { algorithm, bits } = key.getAlgorithmInfo();
  if (RSA.has(algorithm) && (bits ?? 0) < MIN_RSA_BITS) {
    return new WeakKeyError(`key ${fingerprint} is RSA-${bits}; RSA keys need at least ${MIN_RSA_BITS} bits`);
  }
  if (RETIRED.has(algorithm)) return new WeakKeyError(`key ${fingerprint} uses ${algorithm}, which is no longer accepted`);
  return undefined;
}

/**
 * Rule 3b: whether `primary` (and `signing`, the subkey that signed when it is one) can sign at
 * `now`: not revoked, not expired, strong enough. Returns the refusal, or undefined.
 */
export async function keyUsableProblem(primary: openpgp.PublicKey, signing: SigningKey, now: Date): Promise<EnvelopeError | undefined> {
  const fingerprint = primary.getFingerprint().toUpperCase();
  for (const key of signing === primary ? [primary] : [primary, signing]) {
    const weak = keyStrengthProblem(key, fingerprint);
    if (weak) return weak;
  }
  if (await primary.isRevoked(undefined, undefined, now)) return new KeyRevokedError(`trusted key ${fingerprint} is revoked; a signature by it no longer counts, whatever date it claims`);
  if (signing !== primary && (await (signing as openpgp.Subkey).isRevoked(undefined as never, undefined as never, now))) {
    return new KeyRevokedError(`the signing subkey ${signing.getKeyID().toHex().toUpperCase()} of trusted key ${fingerprint} is revoked`);
  }
  const expired = await expiredAt(primary, signing, now);
  if (expired) return new KeyExpiredError(`trusted key ${fingerprint} expired at ${expired.toISOString()}; a signature by it no longer counts, whatever date it claims`);
  try {
    await primary.getSigningKey(signing.getKeyID(), now);
  } catch (error) {
    return new UnusableKeyError(`trusted key ${fingerprint} cannot sign at ${now.toISOString()}: ${(error as Error).message}`, { cause: error });
  }
  return undefined;
}

/** When the primary key or the signing subkey expired, if that is at or before `now`. */
async function expiredAt(primary: openpgp.PublicKey, signing: SigningKey, now: Date): Promise<Date | undefined> {
  const times: (Date | number | null)[] = [];
  try {
    times.push(await primary.getExpirationTime());
  } catch {
    // No valid self-signature at all: getSigningKey below names it.
  }
  if (signing !== primary) times.push(await (signing as openpgp.Subkey).getExpirationTime(now).catch(() => null));
  for (const time of times) if (time instanceof Date && time.getTime() <= now.getTime()) return time;
  return undefined;
}

/** Why `key` must not be pinned in a trust store at `now` (`felhom trust init`), or undefined. */
export async function pinningProblem(key: openpgp.PublicKey, now: Date): Promise<EnvelopeError | undefined> {
  const fingerprint = key.getFingerprint().toUpperCase();
  for (const candidate of [key, ...key.getSubkeys()]) {
    const weak = keyStrengthProblem(candidate, fingerprint);
    if (weak) return weak;
  }
  // Self-signatures made with a broken hash are forgeable: such a key's expiry and user ids cannot be believed.
  for (const user of key.users) {
    for (const certification of user.selfCertifications) {
      if (certification.hashAlgorithm !== null && BROKEN_HASHES.has(certification.hashAlgorithm)) {
        const name = enums.read(enums.hash, certification.hashAlgorithm).toUpperCase();
        return new WeakHashError(`key ${fingerprint} is self-signed with ${name}, which is broken; make a new key`);
      }
    }
  }
  let signing: SigningKey;
  try {
    signing = await key.getSigningKey(undefined, now, undefined, { ...openpgp.config, minRSABits: 0 } as openpgp.Config);
  } catch {
    signing = key;
  }
  return keyUsableProblem(key, signing, now);
}

/**
 * The zero-knowledge escrow (docs/architecture.md#key-custody): the box's passphrase-protected PBS keyfile wrapped under
 * the customer's recovery code, so the hub stores a blob it cannot open.
 *
 *   wrapping key = scrypt(normalised recovery code, salt (32 random bytes), n 2^17, r 8, p 1) → 32 bytes
 *   ciphertext   = AES-256-GCM(wrapping key, iv (12 random bytes), keyfile text),
 *                  AAD = canonical JSON (RFC 8785) of { format, box, custody, fingerprint, createdAt, kdf }
 *
 * The AAD binds the blob to its box and to the key it holds: a hub that swaps blobs between
 * boxes, or edits the custody or fingerprint it shows, makes the unwrap fail. The fingerprint is
 * PBS's own (pbs-keyfile.ts), which PBS itself writes in clear into every backup manifest.
 *
 * With `operator-managed` custody the recovery code is also encrypted (OpenPGP) to each operator
 * key named in the spec, and those wraps travel in the blob, visibly: `operatorWraps` lists the
 * key fingerprints that can open it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import canonicalize from 'canonicalize';
import type * as openpgp from 'openpgp';
import { decryptSecret, encryptSecret } from '../envelope/secrets.js';
import { fingerprintOf } from '../envelope/keys.js';
import type { EscrowBlob } from '../hub/protocol.js';
import { ESCROW_FORMAT } from '../hub/protocol.js';
import { escrowBlobProblems } from './escrow-blob.js';
import { keyfileInfo, openKeyfile, scrypt } from './pbs-keyfile.js';
import { normalizeRecoveryCode } from './recovery-code.js';
import { FelhomError } from '../../lib/errors.js';

export { escrowBlobProblems, MAX_ESCROW_CIPHERTEXT_BYTES } from './escrow-blob.js';

/** Scrypt cost of the escrow's wrapping key (128 MiB): the code has 160 bits, this is margin. */
export const ESCROW_SCRYPT = { n: 131072, r: 8, p: 1 } as const;

export type EscrowReason = 'malformed' | 'wrong-code' | 'wrong-box' | 'not-operator-managed' | 'no-operator-wrap';

/** An escrow blob that cannot be used; never carries the code or the key. */
export class EscrowError extends FelhomError {
  readonly reason: EscrowReason;
  declare readonly kind: 'stalled';
  constructor(reason: EscrowReason, message: string, options: { cause?: unknown } = {}) {
    super(`EESCROW_${reason.toUpperCase().replace(/-/g, '_')}`, 'stalled', message, options);
    this.reason = reason;
  }
}

export interface WrapOptions {
  readonly box: string;
  /** The PBS keyfile text (passphrase-protected). */
  readonly keyfile: string;
  readonly recoveryCode: string;
  readonly custody: EscrowBlob['custody'];
  /** With `operator-managed`: the operator keys that may unwrap (public, with an encryption subkey). */
  readonly operatorKeys?: readonly openpgp.PublicKey[];
  readonly clock?: () => Date;
  /** Only tests lower it. @default - ESCROW_SCRYPT */
  readonly scrypt?: { readonly n: number; readonly r: number; readonly p: number };
}

/** Wraps a keyfile for the hub. The keyfile must open with the recovery code (it is its passphrase). */
export async function wrapKeyfile(options: WrapOptions): Promise<EscrowBlob> {
  const code = normalizeRecoveryCode(options.recoveryCode);
  const info = keyfileInfo(options.keyfile);
  // Refuse to escrow a keyfile the code cannot open: the customer would find out in a disaster.
  const opened = await openKeyfile(options.keyfile, code);
  opened.key.fill(0);
  if (options.custody === 'operator-managed' && (options.operatorKeys ?? []).length === 0) {
    throw new EscrowError('no-operator-wrap', 'operator-managed custody needs at least one operator key to wrap the recovery code to');
  }
  if (options.custody !== 'operator-managed' && (options.operatorKeys ?? []).length > 0) {
    throw new EscrowError('not-operator-managed', `${options.custody} custody gives the operator no way in: no operator key may wrap the code`);
  }
  const cost = options.scrypt ?? ESCROW_SCRYPT;
  const header = {
    format: ESCROW_FORMAT as typeof ESCROW_FORMAT,
    box: options.box,
    custody: options.custody,
    fingerprint: info.fingerprint ?? opened.fingerprint,
    createdAt: (options.clock ?? (() => new Date()))().toISOString(),
    kdf: { name: 'scrypt' as const, n: cost.n, r: cost.r, p: cost.p, salt: randomBytes(32).toString('base64') },
  };
  const wrappingKey = await scrypt(Buffer.from(code, 'utf8'), Buffer.from(header.kdf.salt, 'base64'), cost);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', wrappingKey, iv);
  cipher.setAAD(Buffer.from(canonicalize(header)!, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(options.keyfile, 'utf8'), cipher.final()]);
  wrappingKey.fill(0);
  const operatorWraps = [];
  for (const key of options.operatorKeys ?? []) operatorWraps.push({ keyFingerprint: fingerprintOf(key), message: await encryptSecret(code, key) });
  return {
    ...header,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    ...(operatorWraps.length > 0 ? { operatorWraps } : {}),
  };
}

/** The keyfile inside a blob, opened with the customer's recovery code. A wrong code is `EESCROW_WRONG_CODE`. */
export async function unwrapEscrow(blob: EscrowBlob, recoveryCode: string, expectedBox?: string): Promise<string> {
  const problems = escrowBlobProblems(blob);
  if (problems.length > 0) throw new EscrowError('malformed', `the escrow blob is malformed: ${problems.join('; ')}`);
  if (expectedBox !== undefined && blob.box !== expectedBox) throw new EscrowError('wrong-box', `the escrow blob is for box ${blob.box}, not ${expectedBox}`);
  const code = normalizeRecoveryCode(recoveryCode);
  const { iv, tag, ciphertext, operatorWraps: _wraps, ...rest } = blob;
  const header = { format: rest.format, box: rest.box, custody: rest.custody, fingerprint: rest.fingerprint, createdAt: rest.createdAt, kdf: rest.kdf };
  const wrappingKey = await scrypt(Buffer.from(code, 'utf8'), Buffer.from(blob.kdf.salt, 'base64'), blob.kdf);
  let keyfile: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', wrappingKey, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(canonicalize(header)!, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    keyfile = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new EscrowError('wrong-code', 'the recovery code does not open this escrow (or the blob was altered)', { cause: error });
  } finally {
    wrappingKey.fill(0);
  }
  if (keyfileInfo(keyfile).fingerprint !== blob.fingerprint) throw new EscrowError('malformed', 'the escrowed keyfile does not hold the key the blob names');
  return keyfile;
}

/** The recovery code, recovered with an operator's private key (operator-managed custody only). */
export async function recoveryCodeFromOperatorKey(blob: EscrowBlob, operatorKey: openpgp.PrivateKey): Promise<string> {
  if (blob.custody !== 'operator-managed') throw new EscrowError('not-operator-managed', `box ${blob.box}'s escrow is ${blob.custody}: no operator key can open it`);
  const fingerprint = fingerprintOf(operatorKey);
  const wrap = (blob.operatorWraps ?? []).find((candidate) => candidate.keyFingerprint === fingerprint);
  if (!wrap) throw new EscrowError('no-operator-wrap', `box ${blob.box}'s escrow has no wrap for operator key ${fingerprint}`);
  return decryptSecret(wrap.message, operatorKey);
}

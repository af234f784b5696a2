/**
 * The zero-knowledge escrow (seed §8): the box's passphrase-protected PBS keyfile wrapped under
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
import { isPlainObject } from '../../stacks/spec/problems.js';
import type { EscrowBlob } from '../hub/protocol.js';
import { ESCROW_FORMAT } from '../hub/protocol.js';
import { keyfileInfo, openKeyfile, scrypt } from './pbs-keyfile.js';
import { normalizeRecoveryCode } from './recovery-code.js';

/** Scrypt cost of the escrow's wrapping key (128 MiB): the code has 160 bits, this is margin. */
export const ESCROW_SCRYPT = { n: 131072, r: 8, p: 1 } as const;
/** Largest wrapped keyfile accepted (a PBS keyfile is about 300 bytes). */
export const MAX_ESCROW_CIPHERTEXT_BYTES = 16 * 1024;

export type EscrowReason = 'malformed' | 'wrong-code' | 'wrong-box' | 'not-operator-managed' | 'no-operator-wrap';

/** An escrow blob that cannot be used; never carries the code or the key. */
export class EscrowError extends Error {
  readonly code: string;
  readonly reason: EscrowReason;
  readonly kind = 'stalled' as const;
  readonly exitCode = 1;
  constructor(reason: EscrowReason, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'EscrowError';
    this.reason = reason;
    this.code = `EESCROW_${reason.toUpperCase().replace(/-/g, '_')}`;
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

/** Problems with a value as an escrow blob, each naming the field (the hub checks uploads with this). */
export function escrowBlobProblems(value: unknown): string[] {
  if (!isPlainObject(value)) return ['expected an object'];
  const problems: string[] = [];
  const base64 = (field: string, bytes?: number) => {
    const text = value[field];
    if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) problems.push(`${field}: expected base64`);
    else if (bytes !== undefined && Buffer.from(text, 'base64').length !== bytes) problems.push(`${field}: expected ${bytes} bytes`);
    else if (Buffer.from(text, 'base64').length > MAX_ESCROW_CIPHERTEXT_BYTES) problems.push(`${field}: larger than ${MAX_ESCROW_CIPHERTEXT_BYTES} bytes`);
  };
  if (value.format !== ESCROW_FORMAT) problems.push(`format: expected ${JSON.stringify(ESCROW_FORMAT)}, got ${JSON.stringify(value.format)}`);
  if (typeof value.box !== 'string' || value.box === '') problems.push('box: expected a box id');
  if (!['zero-knowledge-escrow', 'operator-managed'].includes(value.custody as string)) problems.push(`custody: expected zero-knowledge-escrow or operator-managed, got ${JSON.stringify(value.custody)}`);
  if (typeof value.fingerprint !== 'string' || !/^[0-9a-f]{2}(?::[0-9a-f]{2}){31}$/.test(value.fingerprint)) problems.push('fingerprint: expected 32 colon-separated hex bytes');
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt))) problems.push('createdAt: expected an ISO 8601 time');
  const kdf = value.kdf;
  if (!isPlainObject(kdf) || kdf.name !== 'scrypt') problems.push('kdf: expected { name: "scrypt", n, r, p, salt }');
  else {
    for (const field of ['n', 'r', 'p'] as const) if (!Number.isSafeInteger(kdf[field]) || (kdf[field] as number) < 1) problems.push(`kdf.${field}: expected a positive integer`);
    if (Number.isSafeInteger(kdf.n) && ((kdf.n as number) & ((kdf.n as number) - 1)) !== 0) problems.push('kdf.n: expected a power of two');
    if (typeof kdf.salt !== 'string' || Buffer.from(kdf.salt, 'base64').length !== 32) problems.push('kdf.salt: expected 32 bytes of base64');
  }
  base64('iv', 12);
  base64('tag', 16);
  base64('ciphertext');
  if (value.operatorWraps !== undefined) {
    if (!Array.isArray(value.operatorWraps)) problems.push('operatorWraps: expected a list');
    else value.operatorWraps.forEach((wrap, index) => {
      if (!isPlainObject(wrap) || typeof wrap.keyFingerprint !== 'string' || !/^[0-9A-F]{40}$/.test(wrap.keyFingerprint) || typeof wrap.message !== 'string' || !wrap.message.includes('-----BEGIN PGP MESSAGE-----')) {
        problems.push(`operatorWraps[${index}]: expected { keyFingerprint: 40 hex, message: an armoured OpenPGP message }`);
      }
    });
    if (value.custody !== 'operator-managed' && Array.isArray(value.operatorWraps) && value.operatorWraps.length > 0) problems.push('operatorWraps: only operator-managed custody carries operator wraps');
  }
  const known = new Set(['format', 'box', 'custody', 'fingerprint', 'createdAt', 'kdf', 'iv', 'tag', 'ciphertext', 'operatorWraps']);
  for (const field of Object.keys(value)) if (!known.has(field)) problems.push(`${field}: unknown field`);
  return problems;
}

/**
 * The escrow blob's shape (docs/hub-protocol.md "Key escrow"), checked by the hub on upload and
 * by the box before an unwrap. Apart from escrow.ts so the hub checks blobs without loading the
 * OpenPGP and key code it never needs.
 */
import { isPlainObject } from '../../templates/lib/problems.js';
import { ESCROW_FORMAT } from '../hub/protocol.js';

/** Largest wrapped keyfile accepted (a PBS keyfile is about 300 bytes). */
export const MAX_ESCROW_CIPHERTEXT_BYTES = 16 * 1024;

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

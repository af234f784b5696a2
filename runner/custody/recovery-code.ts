/**
 * The customer's recovery code (docs/architecture.md#key-custody): 160 random bits shown once on the box and printed on
 * the recovery sheet, stored nowhere in clear. It is the PBS keyfile's passphrase (so the stock
 * `proxmox-backup-client` opens the keyfile with it) and the secret the escrow is wrapped under.
 *
 * Written in Crockford base32 (no I, L, O, U: nothing to misread) as nine groups of four: eight
 * groups carry the 160 bits, the ninth is a check over them, so a typo is caught at once instead
 * of after a slow scrypt and a "wrong code" that is counted against the customer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { FelhomError } from '../../lib/errors.js';
import { base32 } from '../../lib/base32.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_BYTES = 20;
const GROUPS = 9;

/** A code that is not a recovery code (wrong length, characters, or check group). */
export class RecoveryCodeError extends FelhomError {
  declare readonly kind: 'stalled';
  constructor(message: string) {
    super('ERECOVERY_CODE', 'stalled', message);
  }
}

/** A fresh recovery code, formatted `XXXX-XXXX-...` (9 groups). */
export function newRecoveryCode(): string {
  return formatRecoveryCode(randomBytes(CODE_BYTES));
}

export function formatRecoveryCode(bytes: Uint8Array): string {
  if (bytes.length !== CODE_BYTES) throw new RecoveryCodeError(`a recovery code holds ${CODE_BYTES} bytes, got ${bytes.length}`);
  const body = base32(bytes, ALPHABET);
  const text = body + checkGroup(body);
  return text.match(/.{4}/g)!.join('-');
}

/**
 * The canonical form of what a customer typed: case, spaces and dashes ignored, O read as 0 and
 * I or L as 1. Throws naming what is wrong; never echoes the code.
 */
export function normalizeRecoveryCode(typed: string): string {
  const cleaned = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (cleaned.length !== GROUPS * 4) throw new RecoveryCodeError(`a recovery code has ${GROUPS * 4} characters (${GROUPS} groups of 4), got ${cleaned.length}`);
  const bad = [...cleaned].findIndex((char) => !ALPHABET.includes(char));
  if (bad !== -1) throw new RecoveryCodeError(`a recovery code uses the letters and digits on the sheet; character ${bad + 1} is not one of them`);
  const body = cleaned.slice(0, 32);
  if (checkGroup(body) !== cleaned.slice(32)) throw new RecoveryCodeError('the recovery code has a typo: its last group does not match the others');
  return cleaned.match(/.{4}/g)!.join('-');
}

function checkGroup(body: string): string {
  return base32(createHash('sha256').update(`felhom-recovery-code:${body}`).digest(), ALPHABET).slice(0, 4);
}


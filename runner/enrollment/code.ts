/**
 * One-time retrieval codes (docs/architecture.md#enrollment): what the operator hands the person at the box.
 *
 *   <box>.<secret>.<trust root>
 *   box-1.k3qd-7vxa-m2pe-c9rt-bw4h-yn6j.8F3A21C09D4E5B6A7F8091A2B3C4D5E6
 *
 * - `box`: the box id, so the hub can rate-limit guesses per box without revealing which boxes exist;
 * - `secret`: 120 random bits, base32 in groups of four (the hub keeps only the code's sha256);
 * - `trust root`: the first {@link TRUST_ROOT_HEX} hex digits of the fingerprint of the operator key
 *   that signed the enrollment configuration. The box pins no operator key the configuration names
 *   unless that key is among them and signed it, so the hub cannot choose whom the box trusts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { BOX_ID_PATTERN } from '../hub/protocol.js';
import { EnrollmentError } from './errors.js';
import { base32 } from '../../lib/base32.js';

/** Hex digits of the trust root fingerprint a code carries: 128 bits, beyond a second-preimage search. */
export const TRUST_ROOT_HEX = 32;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const SECRET_PATTERN = /^[a-z2-7]{4}(?:-[a-z2-7]{4}){5}$/;

export interface EnrollmentCode {
  readonly box: string;
  /** The whole code, normalised (lower-case box and secret, upper-case trust root). */
  readonly code: string;
  /** Upper-case hex prefix of the trust root key's fingerprint. */
  readonly trustRoot: string;
}


/** A new code for `box` whose trust root is the key with `fingerprint`. */
export function newEnrollmentCode(box: string, fingerprint: string): EnrollmentCode {
  if (!BOX_ID_PATTERN.test(box)) throw new EnrollmentError('EENROLL_CODE', `box: expected a box id (lower-case letters, digits, dashes), got ${JSON.stringify(box)}`, { kind: 'usage' });
  const trustRoot = normaliseFingerprint(fingerprint).slice(0, TRUST_ROOT_HEX);
  if (trustRoot.length < TRUST_ROOT_HEX) throw new EnrollmentError('EENROLL_CODE', `fingerprint: expected at least ${TRUST_ROOT_HEX} hex digits`, { kind: 'usage' });
  const secret = base32(randomBytes(15), BASE32).match(/.{4}/g)!.join('-');
  return { box, code: `${box}.${secret}.${trustRoot}`, trustRoot };
}

function normaliseFingerprint(value: string): string {
  return value.replace(/\s/g, '').toUpperCase();
}

/** Reads a code as a person typed it (spaces around it, any case); the message names what is wrong. */
export function parseEnrollmentCode(text: string): EnrollmentCode {
  const parts = text.trim().split('.');
  if (parts.length !== 3) throw new EnrollmentError('EENROLL_CODE', 'code: expected <box>.<secret>.<trust root>, three parts separated by dots', { kind: 'usage' });
  const box = parts[0]!.toLowerCase();
  const secret = parts[1]!.toLowerCase();
  const trustRoot = normaliseFingerprint(parts[2]!);
  if (!BOX_ID_PATTERN.test(box)) throw new EnrollmentError('EENROLL_CODE', `code: ${JSON.stringify(parts[0])} is not a box id`, { kind: 'usage' });
  if (!SECRET_PATTERN.test(secret)) throw new EnrollmentError('EENROLL_CODE', 'code: the secret part is not six groups of four letters and digits (was a character mistyped?)', { kind: 'usage' });
  if (!new RegExp(`^[0-9A-F]{${TRUST_ROOT_HEX}}$`).test(trustRoot)) throw new EnrollmentError('EENROLL_CODE', `code: the trust root is not ${TRUST_ROOT_HEX} hex digits`, { kind: 'usage' });
  return { box, code: `${box}.${secret}.${trustRoot}`, trustRoot };
}

/** sha256 hex of the normalised code: what the hub stores, and what the signed configuration names. */
export function enrollmentCodeDigest(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex');
}

/**
 * A box's trust store: the operator keys pinned at enrollment and how many of them must sign
 * (TUF's root role). The agent owns the file; only a verified `rotate-keys` envelope changes it,
 * and only through {@link applyKeyRotation}, after every check passed.
 */
import { readFile } from 'node:fs/promises';
import type * as openpgp from 'openpgp';
import { writeFileDurably } from '../state/store.js';
import { isPlainObject, isSerial, type RotateKeysBody } from './format.js';
import { fingerprintOf, KeyError, readPublicKey } from './keys.js';
import { trustStoreOfVerified, type VerifiedEnvelope } from './verified.js';
import { FelhomError } from '../../lib/errors.js';

export const TRUST_STORE_VERSION = 1;

/**
 * A trust store problem (inconsistent, or changed under a rotation): `ETRUST`, exit 1; a store
 * that cannot be read at all is a failure outside the input, exit 3.
 */
export class TrustStoreError extends FelhomError {
  /** `unreadable`: the file could not be read at all (the environment's fault, not the store's). */
  constructor(message: string, options: { cause?: unknown; unreadable?: boolean } = {}) {
    super('ETRUST', 'stalled', message, { cause: options.cause, fault: options.unreadable ? 'environment' : 'input' });
  }
}

export interface TrustedKey {
  /** Upper-case hex fingerprint of the primary key; signatures by its subkeys count for it. */
  readonly fingerprint: string;
  readonly userIds: readonly string[];
  readonly armored: string;
  readonly publicKey: openpgp.PublicKey;
}

/** The rotation that produced this store, so the same rotation cannot be applied twice. */
export interface RotationRecord {
  readonly tier: string;
  readonly serial: number;
  readonly digest: string;
}

export interface TrustStore {
  /** Distinct trusted keys that must each sign an envelope. */
  readonly threshold: number;
  /** Distinct by fingerprint: a key listed twice is kept once. */
  readonly keys: readonly TrustedKey[];
  readonly lastRotation?: RotationRecord;
}

/** The JSON file. */
interface TrustStoreDocument {
  version: typeof TRUST_STORE_VERSION;
  threshold: number;
  keys: { fingerprint: string; userIds: string[]; publicKey: string }[];
  lastRotation?: RotationRecord;
}

/** Builds a store from armoured public keys; duplicates collapse, the threshold must be reachable. */
export async function createTrustStore(armoredKeys: readonly string[], threshold = 1, lastRotation?: RotationRecord): Promise<TrustStore> {
  const keys: TrustedKey[] = [];
  for (const [index, armored] of armoredKeys.entries()) {
    const publicKey = await readPublicKey(armored, `keys[${index}]`);
    const fingerprint = fingerprintOf(publicKey);
    if (keys.some((key) => key.fingerprint === fingerprint)) continue;
    keys.push({ fingerprint, userIds: publicKey.getUserIDs(), armored: armored.trim() + '\n', publicKey });
  }
  if (keys.length === 0) throw new KeyError('a trust store needs at least one key');
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > keys.length) {
    throw new KeyError(`threshold: expected an integer from 1 to ${keys.length} (the number of distinct keys), got ${threshold}`);
  }
  return lastRotation ? { threshold, keys, lastRotation } : { threshold, keys };
}

export function serializeTrustStore(store: TrustStore): string {
  const document: TrustStoreDocument = {
    version: TRUST_STORE_VERSION,
    threshold: store.threshold,
    keys: store.keys.map((key) => ({ fingerprint: key.fingerprint, userIds: [...key.userIds], publicKey: key.armored })),
    ...(store.lastRotation ? { lastRotation: store.lastRotation } : {}),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

export async function parseTrustStore(text: string, source = 'trust store'): Promise<TrustStore> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TrustStoreError(`${source}: not JSON (${(error as Error).message})`, { cause: error });
  }
  if (!isPlainObject(value) || value.version !== TRUST_STORE_VERSION) throw new TrustStoreError(`${source}: expected a version ${TRUST_STORE_VERSION} trust store`);
  if (!Array.isArray(value.keys)) throw new TrustStoreError(`${source}.keys: expected an array`);
  const armored: string[] = [];
  for (const [index, entry] of value.keys.entries()) {
    if (!isPlainObject(entry) || typeof entry.publicKey !== 'string' || typeof entry.fingerprint !== 'string') {
      throw new TrustStoreError(`${source}.keys[${index}]: expected { fingerprint, publicKey }`);
    }
    armored.push(entry.publicKey);
  }
  const lastRotation = value.lastRotation;
  if (lastRotation !== undefined && !(isPlainObject(lastRotation) && isSerial(lastRotation.serial) && typeof lastRotation.tier === 'string' && typeof lastRotation.digest === 'string')) {
    throw new TrustStoreError(`${source}.lastRotation: expected { tier, serial, digest }`);
  }
  let store: TrustStore;
  try {
    store = await createTrustStore(armored, value.threshold as number, lastRotation as RotationRecord | undefined);
  } catch (error) {
    throw new TrustStoreError(`${source}: ${(error as Error).message}`, { cause: error });
  }
  // The recorded fingerprint is what a person compared at enrollment: it must be the key's own.
  for (const [index, entry] of (value.keys as { fingerprint: string }[]).entries()) {
    const actual = fingerprintOf(await readPublicKey(armored[index]!));
    if (entry.fingerprint.replace(/\s/g, '').toUpperCase() !== actual) {
      throw new TrustStoreError(`${source}.keys[${index}].fingerprint: recorded ${entry.fingerprint}, but the key's fingerprint is ${actual}`);
    }
  }
  return store;
}

export async function loadTrustStore(path: string): Promise<TrustStore> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TrustStoreError(`cannot read trust store ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error, unreadable: true });
  }
  return parseTrustStore(text, path);
}

export async function writeTrustStore(path: string, store: TrustStore): Promise<void> {
  await writeFileDurably(path, serializeTrustStore(store), 0o644);
}

/**
 * Whether the store at `path` already holds exactly the rotation `verified` names (its tier,
 * serial and digest recorded, its key set and threshold installed): a run killed after writing
 * the store and before journaling the result. The rotation took effect; the agent records it as
 * succeeded instead of applying it twice (which {@link applyKeyRotation} refuses).
 */
export async function rotationInstalled(verified: VerifiedEnvelope, path: string): Promise<boolean> {
  const body = verified.body as Partial<RotateKeysBody>;
  if (!trustStoreOfVerified(verified) || body.action !== 'rotate-keys' || !Array.isArray(body.keys) || typeof body.threshold !== 'number') return false;
  const current = await loadTrustStore(path);
  const last = current.lastRotation;
  if (!last || last.tier !== verified.header.tier || last.serial !== verified.header.serial || last.digest !== verified.digest) return false;
  return identity(await createTrustStore(body.keys, body.threshold)) === identity(current);
}

/** Keys and threshold as one comparable string. */
function identity(store: TrustStore): string {
  return `${store.threshold}:${store.keys.map((key) => key.fingerprint).sort().join(',')}`;
}

/**
 * Replaces the trust store at `path` with the key set a verified `rotate-keys` envelope names.
 * `verifyEnvelope` already required the current threshold AND the new keys' threshold; this
 * refuses anything it did not verify, a store that changed since that verification, and a
 * rotation that was already applied. The file is replaced atomically.
 */
export async function applyKeyRotation(verified: VerifiedEnvelope, path: string): Promise<TrustStore> {
  const verifiedAgainst = trustStoreOfVerified(verified);
  if (!verifiedAgainst) throw new TrustStoreError('refusing a rotation that verifyEnvelope did not verify');
  const body = verified.body as Partial<RotateKeysBody>;
  if (verified.header.type !== 'job' || body.action !== 'rotate-keys' || !Array.isArray(body.keys) || typeof body.threshold !== 'number') {
    throw new TrustStoreError(`envelope ${verified.digest.slice(0, 12)} is not a rotate-keys job`);
  }
  const current = await loadTrustStore(path);
  if (identity(current) !== identity(verifiedAgainst)) {
    throw new TrustStoreError(`trust store ${path} changed since the rotation was verified; verify it again`);
  }
  const serial = verified.header.serial;
  if (current.lastRotation && current.lastRotation.tier === verified.header.tier && serial <= current.lastRotation.serial) {
    throw new TrustStoreError(`rotation serial ${serial} is not after the last applied rotation (serial ${current.lastRotation.serial})`);
  }
  const next = await createTrustStore(body.keys, body.threshold, { tier: verified.header.tier, serial, digest: verified.digest });
  await writeTrustStore(path, next);
  return next;
}

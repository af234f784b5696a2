/**
 * The Proxmox Backup Server client-side encryption keyfile, byte for byte as
 * `proxmox-backup-client key create` writes it (proxmox-backup: pbs-key-config/src/lib.rs
 * `KeyConfig`, pbs-tools/src/crypt_config.rs `CryptConfig`), so a customer opens the box's key
 * with the stock client on any machine. Only node's own primitives, in PBS's own layout:
 *
 *   {"kdf":{"Scrypt":{"n":65536,"r":8,"p":1,"salt":"<base64, 32 bytes>"}},
 *    "created":"<RFC 3339>","modified":"<RFC 3339>",
 *    "data":"<base64: iv (16) | tag (16) | AES-256-GCM(key (32)), no AAD>",
 *    "fingerprint":"<32 bytes, colon-separated hex>"}
 *
 * - The wrapping key is scrypt(passphrase, salt, n, r, p) → 32 bytes (PBS also reads PBKDF2-
 *   SHA256 keyfiles, `{"PBKDF2":{"iter","salt"}}`; `kdf: null` means `data` is the bare key).
 * - The fingerprint is CryptConfig::fingerprint: id_key = PBKDF2-HMAC-SHA256(key, "_id_key",
 *   10 iterations, 32 bytes); fingerprint = SHA-256(FINGERPRINT_INPUT ‖ id_key), where
 *   FINGERPRINT_INPUT = SHA-256("Proxmox Backup Encryption Key Fingerprint"). PBS prints the
 *   first 8 bytes as the short key id.
 * - Decrypting checks the stored fingerprint against the key's, as PBS does.
 */
import { createCipheriv, createDecipheriv, createHash, pbkdf2Sync, randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import { FelhomError } from '../../lib/errors.js';

/** PBS's `KeyConfig::with_key` scrypt parameters (estimated memory 128·r·n·p = 64 MiB). */
export const PBS_SCRYPT = { n: 65536, r: 8, p: 1 } as const;
/** PBS refuses to decrypt with a passphrase shorter than this (KeyConfig::decrypt). */
export const MIN_PASSPHRASE_LENGTH = 5;
/** The raw AES-256 key length. */
export const KEY_BYTES = 32;

const FINGERPRINT_INPUT = createHash('sha256').update('Proxmox Backup Encryption Key Fingerprint').digest();
/** PBS's scrypt memory limit (openssl::pkcs5::scrypt maxmem in derive_key). */
const SCRYPT_MAXMEM = 1025 * 1024 * 1024;

export type PbsKdf =
  | { readonly Scrypt: { readonly n: number; readonly r: number; readonly p: number; readonly salt: string } }
  | { readonly PBKDF2: { readonly iter: number; readonly salt: string } };

/** The keyfile's JSON, field for field and in PBS's order. */
export interface PbsKeyConfig {
  readonly kdf: PbsKdf | null;
  readonly created: string;
  readonly modified: string;
  readonly data: string;
  readonly fingerprint?: string;
  readonly hint?: string;
}

/** What `proxmox-backup-client key show` prints, read without the passphrase. */
export interface PbsKeyInfo {
  readonly kdf: 'scrypt' | 'pbkdf2' | 'none';
  readonly created: string;
  readonly modified: string;
  readonly fingerprint: string | null;
  readonly hint: string | null;
}

export type PbsKeyfileReason = 'malformed' | 'wrong-passphrase' | 'weak-passphrase' | 'fingerprint-mismatch';

/** A keyfile that cannot be read or opened; never carries the passphrase or key. */
export class PbsKeyfileError extends FelhomError {
  readonly reason: PbsKeyfileReason;
  /** A person must supply a different file or passphrase; retrying cannot help. */
  declare readonly kind: 'stalled';
  constructor(reason: PbsKeyfileReason, message: string, options: { cause?: unknown } = {}) {
    super(`EKEYFILE_${reason.toUpperCase().replace(/-/g, '_')}`, 'stalled', message, options);
    this.reason = reason;
  }
}

export interface KeyfileOptions {
  /** @default - the current time */
  readonly clock?: () => Date;
  /** A password hint stored in clear in the keyfile, as PBS's `--hint`. @default - none */
  readonly hint?: string;
  /** Scrypt cost; only tests lower it. @default - PBS_SCRYPT */
  readonly scrypt?: { readonly n: number; readonly r: number; readonly p: number };
}

/** A keyfile as text plus what identifies its key. */
export interface CreatedKeyfile {
  /** The keyfile exactly as PBS stores it (compact JSON). */
  readonly text: string;
  readonly fingerprint: string;
}

/** An opened keyfile: the raw key (keep it in memory only), its creation time and fingerprint. */
export interface OpenedKeyfile {
  readonly key: Buffer;
  readonly created: string;
  readonly fingerprint: string;
}

/** Colon-separated lower-case hex, as PBS prints a fingerprint. */
export function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1:');
}

/** CryptConfig::fingerprint of a raw 32-byte key, colon-separated hex. */
export function pbsKeyFingerprint(key: Uint8Array): string {
  if (key.length !== KEY_BYTES) throw new PbsKeyfileError('malformed', `a PBS key is ${KEY_BYTES} bytes, got ${key.length}`);
  const idKey = pbkdf2Sync(key, '_id_key', 10, 32, 'sha256');
  return colonHex(createHash('sha256').update(FINGERPRINT_INPUT).update(idKey).digest());
}

/** The short key id PBS shows (`Display for Fingerprint`): the fingerprint's first 8 bytes. */
export function shortKeyId(fingerprint: string): string {
  return fingerprint.split(':').slice(0, 8).join(':');
}

/** RFC 3339 in UTC with a numeric offset, as proxmox_time::epoch_to_rfc3339 writes it. */
export function rfc3339(date: Date): string {
  return `${date.toISOString().slice(0, 19)}+00:00`;
}

/** Creates a fresh random key protected by `passphrase` (`proxmox-backup-client key create`). */
export async function createKeyfile(passphrase: string, options: KeyfileOptions = {}): Promise<CreatedKeyfile> {
  const key = randomBytes(KEY_BYTES);
  try {
    return await keyfileWithKey(key, passphrase, options);
  } finally {
    key.fill(0);
  }
}

/** Protects an existing raw key with `passphrase` (KeyConfig::with_key). */
export async function keyfileWithKey(key: Uint8Array, passphrase: string, options: KeyfileOptions = {}, created?: string): Promise<CreatedKeyfile> {
  checkNewPassphrase(passphrase);
  const fingerprint = pbsKeyFingerprint(key);
  const cost = options.scrypt ?? PBS_SCRYPT;
  const salt = randomBytes(32);
  const derived = await scrypt(Buffer.from(passphrase, 'utf8'), salt, cost);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-gcm', derived, iv);
  const encrypted = Buffer.concat([cipher.update(key), cipher.final()]);
  const tag = cipher.getAuthTag();
  derived.fill(0);
  const now = rfc3339((options.clock ?? (() => new Date()))());
  const config: PbsKeyConfig = {
    kdf: { Scrypt: { n: cost.n, r: cost.r, p: cost.p, salt: salt.toString('base64') } },
    created: created ?? now,
    modified: now,
    data: Buffer.concat([iv, tag, encrypted]).toString('base64'),
    fingerprint,
    ...(options.hint !== undefined ? { hint: options.hint } : {}),
  };
  return { text: JSON.stringify(config), fingerprint };
}

/**
 * The same key without a passphrase (KeyConfig::without_password, `--kdf none`): the form a
 * Proxmox VE storage holds (`/etc/pve/priv/storage/<id>.enc`) to encrypt backups unattended.
 */
export function keyfileWithoutPassphrase(key: Uint8Array, created: string, options: Pick<KeyfileOptions, 'clock'> = {}): CreatedKeyfile {
  const fingerprint = pbsKeyFingerprint(key);
  const config: PbsKeyConfig = { kdf: null, created, modified: rfc3339((options.clock ?? (() => new Date()))()), data: Buffer.from(key).toString('base64'), fingerprint };
  return { text: JSON.stringify(config), fingerprint };
}

/** Parses and checks a keyfile's fields without opening it. */
export function parseKeyfile(text: string): PbsKeyConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PbsKeyfileError('malformed', 'the keyfile is not JSON', { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PbsKeyfileError('malformed', 'the keyfile is not a JSON object');
  const config = value as Record<string, unknown>;
  for (const field of ['created', 'modified', 'data'] as const) {
    if (typeof config[field] !== 'string') throw new PbsKeyfileError('malformed', `keyfile field ${field}: expected a string, got ${JSON.stringify(config[field])}`);
  }
  for (const field of ['created', 'modified'] as const) {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/.test(config[field] as string) || Number.isNaN(Date.parse(config[field] as string))) {
      throw new PbsKeyfileError('malformed', `keyfile field ${field}: expected an RFC 3339 time, got ${JSON.stringify(config[field])}`);
    }
  }
  if (!isBase64(config.data as string)) throw new PbsKeyfileError('malformed', 'keyfile field data: expected base64');
  if (config.fingerprint !== undefined && (typeof config.fingerprint !== 'string' || !/^[0-9a-f]{2}(?::[0-9a-f]{2}){31}$/i.test(config.fingerprint))) {
    throw new PbsKeyfileError('malformed', 'keyfile field fingerprint: expected 32 colon-separated hex bytes');
  }
  if (config.hint !== undefined && config.hint !== null && typeof config.hint !== 'string') throw new PbsKeyfileError('malformed', 'keyfile field hint: expected a string');
  checkKdf(config.kdf);
  return config as unknown as PbsKeyConfig;
}

function checkKdf(kdf: unknown): void {
  if (kdf === null || kdf === undefined) return;
  const problem = (what: string) => new PbsKeyfileError('malformed', `keyfile field kdf: ${what}`);
  if (typeof kdf !== 'object' || Array.isArray(kdf)) throw problem('expected {"Scrypt": {...}}, {"PBKDF2": {...}} or null');
  const entries = Object.entries(kdf as Record<string, unknown>);
  if (entries.length !== 1) throw problem('expected exactly one of Scrypt or PBKDF2');
  const [name, params] = entries[0]!;
  if (params === null || typeof params !== 'object') throw problem(`${name}: expected an object`);
  const p = params as Record<string, unknown>;
  const positive = (field: string) => {
    if (!Number.isSafeInteger(p[field]) || (p[field] as number) < 1) throw problem(`${name}.${field}: expected a positive integer, got ${JSON.stringify(p[field])}`);
  };
  if (typeof p.salt !== 'string' || !isBase64(p.salt)) throw problem(`${name}.salt: expected base64`);
  if (name === 'Scrypt') {
    positive('n');
    positive('r');
    positive('p');
    if (((p.n as number) & ((p.n as number) - 1)) !== 0) throw problem(`Scrypt.n: expected a power of two, got ${p.n}`);
  } else if (name === 'PBKDF2') {
    positive('iter');
  } else {
    throw problem(`unknown key derivation ${JSON.stringify(name)}`);
  }
}

/** The keyfile's metadata (`proxmox-backup-client key show`). */
export function keyfileInfo(text: string): PbsKeyInfo {
  const config = parseKeyfile(text);
  const kdf = config.kdf === null || config.kdf === undefined ? 'none' : 'Scrypt' in config.kdf ? 'scrypt' : 'pbkdf2';
  return { kdf, created: config.created, modified: config.modified, fingerprint: config.fingerprint ?? null, hint: config.hint ?? null };
}

/** Opens a keyfile with its passphrase (KeyConfig::decrypt), checking the stored fingerprint. */
export async function openKeyfile(text: string, passphrase: string): Promise<OpenedKeyfile> {
  const config = parseKeyfile(text);
  const data = Buffer.from(config.data, 'base64');
  let key: Buffer;
  if (config.kdf === null || config.kdf === undefined) {
    key = data;
  } else {
    if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new PbsKeyfileError('weak-passphrase', `the passphrase is too short (PBS needs at least ${MIN_PASSPHRASE_LENGTH} characters)`);
    if (data.length < 32) throw new PbsKeyfileError('malformed', 'keyfile field data: too short to hold iv and tag');
    const derived = await deriveKey(config.kdf, Buffer.from(passphrase, 'utf8'));
    try {
      const decipher = createDecipheriv('aes-256-gcm', derived, data.subarray(0, 16));
      decipher.setAuthTag(data.subarray(16, 32));
      key = Buffer.concat([decipher.update(data.subarray(32)), decipher.final()]);
    } catch (error) {
      const hint = config.hint ? ` (password hint: ${config.hint})` : ' (wrong passphrase?)';
      throw new PbsKeyfileError('wrong-passphrase', `unable to decrypt the key${hint}`, { cause: error });
    } finally {
      derived.fill(0);
    }
  }
  if (key.length !== KEY_BYTES) throw new PbsKeyfileError('malformed', `keyfile field data: the key is ${key.length} bytes, not ${KEY_BYTES}`);
  const fingerprint = pbsKeyFingerprint(key);
  if (config.fingerprint !== undefined && config.fingerprint.toLowerCase() !== fingerprint) {
    throw new PbsKeyfileError('fingerprint-mismatch', `the keyfile names fingerprint ${config.fingerprint}, but its key has fingerprint ${fingerprint}`);
  }
  return { key, created: config.created, fingerprint };
}

/**
 * Protects the same key with a new passphrase (`proxmox-backup-client key change-passphrase`):
 * fresh salt and iv, `created` kept, `modified` now. The old passphrase must open it first.
 */
export async function changeKeyfilePassphrase(text: string, oldPassphrase: string, newPassphrase: string, options: KeyfileOptions = {}): Promise<CreatedKeyfile> {
  const opened = await openKeyfile(text, oldPassphrase);
  try {
    return await keyfileWithKey(opened.key, newPassphrase, options, opened.created);
  } finally {
    opened.key.fill(0);
  }
}

function checkNewPassphrase(passphrase: string): void {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new PbsKeyfileError('weak-passphrase', `the passphrase is too short (PBS needs at least ${MIN_PASSPHRASE_LENGTH} characters)`);
}

async function deriveKey(kdf: PbsKdf, passphrase: Buffer): Promise<Buffer> {
  try {
    if ('Scrypt' in kdf) return await scrypt(passphrase, Buffer.from(kdf.Scrypt.salt, 'base64'), kdf.Scrypt);
    return pbkdf2Sync(passphrase, Buffer.from(kdf.PBKDF2.salt, 'base64'), kdf.PBKDF2.iter, 32, 'sha256');
  } catch (error) {
    // Parameters beyond PBS's own memory limit: no stock client could open this file either.
    throw new PbsKeyfileError('malformed', `keyfile field kdf: the key derivation failed (${(error as Error).message})`, { cause: error });
  }
}

/** scrypt → 32 bytes with PBS's memory limit (node's default of 32 MiB is below PBS's cost). */
export function scrypt(secret: Buffer, salt: Buffer, cost: { readonly n: number; readonly r: number; readonly p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.n, r: cost.r, p: cost.p, maxmem: SCRYPT_MAXMEM };
  return new Promise((resolve, reject) => scryptCallback(secret, salt, 32, options, (error, derived) => (error ? reject(error) : resolve(derived))));
}

function isBase64(text: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text);
}

/**
 * Operator keys: OpenPGP v4 keys with an ed25519 signing primary and a curve25519 encryption
 * subkey, which GnuPG 2.2 reads. The same kind of key serves as a box's agent key, the
 * recipient of encrypted secrets (docs/envelope.md, "Keys").
 */
import * as openpgp from 'openpgp';
import { FelhomError } from '../../lib/errors.js';

/** A key problem the CLI reports as `EKEY` (exit 1): the key file is not what was asked for. */
export class KeyError extends FelhomError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EKEY', 'generic', message, { ...options, fault: 'input' });
  }
}

export interface GeneratedKey {
  /** Upper-case hex v4 fingerprint of the primary key, as GnuPG prints it. */
  readonly fingerprint: string;
  readonly publicKey: string;
  /** Armoured and protected with the passphrase. */
  readonly privateKey: string;
  readonly revocationCertificate: string;
}

export interface GenerateKeyOptions {
  readonly name: string;
  readonly email: string;
  readonly passphrase: string;
  /** @default - now */
  readonly date?: Date;
}

export async function generateKey(options: GenerateKeyOptions): Promise<GeneratedKey> {
  if (options.passphrase.length === 0) throw new KeyError('a private key needs a non-empty passphrase');
  let generated;
  try {
    generated = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      // The encryption subkey lets the same key receive secrets as a box agent key.
      subkeys: [{ type: 'ecc', curve: 'curve25519Legacy' }],
      userIDs: [{ name: options.name, email: options.email }],
      passphrase: options.passphrase,
      format: 'armored',
      date: options.date,
      config: { v6Keys: false },
    });
  } catch (error) {
    throw new KeyError(`cannot generate a key for ${options.name} <${options.email}>: ${(error as Error).message}`, { cause: error });
  }
  const publicKey = await openpgp.readKey({ armoredKey: generated.publicKey });
  return {
    fingerprint: fingerprintOf(publicKey),
    publicKey: generated.publicKey,
    privateKey: generated.privateKey,
    revocationCertificate: generated.revocationCertificate,
  };
}

/** The primary key's 16-hex-digit key id in GnuPG's spelling (the fingerprint's last 16 digits for v4 keys). */
export function keyIdOf(key: openpgp.Key): string {
  return key.getKeyID().toHex().toUpperCase();
}

/** The primary key's fingerprint in GnuPG's spelling. */
export function fingerprintOf(key: openpgp.Key): string {
  return key.getFingerprint().toUpperCase();
}

/** Reads an armoured public key; a private key here is refused so secret material never lands in a trust store. */
export async function readPublicKey(armored: string, source = 'key'): Promise<openpgp.PublicKey> {
  let key: openpgp.Key;
  try {
    key = await openpgp.readKey({ armoredKey: armored });
  } catch (error) {
    throw new KeyError(`${source}: not an armoured OpenPGP public key (${(error as Error).message})`, { cause: error });
  }
  if (key.isPrivate()) throw new KeyError(`${source}: is a private key; pass the public key (felhom keys generate writes both)`);
  return key as openpgp.PublicKey;
}

/**
 * Reads an armoured private key and unlocks it when it is protected. `passphrase` may be a
 * function, called only for a protected key (so an unprotected key never prompts).
 */
export async function readPrivateKey(
  armored: string,
  passphrase: string | undefined | ((key: openpgp.PrivateKey) => Promise<string>),
  source = 'private key',
): Promise<openpgp.PrivateKey> {
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch (error) {
    throw new KeyError(`${source}: not an armoured OpenPGP private key (${(error as Error).message})`, { cause: error });
  }
  if (key.isDecrypted()) return key;
  if (typeof passphrase === 'function') passphrase = await passphrase(key);
  if (passphrase === undefined) throw new KeyError(`${source}: is passphrase-protected and no passphrase was given`);
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch (error) {
    // openpgp's message says only "incorrect key passphrase"; never echo the passphrase itself.
    throw new KeyError(`${source}: cannot unlock ${fingerprintOf(key)} with the given passphrase`, { cause: error });
  }
}

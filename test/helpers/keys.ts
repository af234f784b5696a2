/**
 * Operator keys for tests, generated once per process and shared: key generation and
 * passphrase unlocking cost tens of milliseconds each, a test file needs a handful.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { createTrustStore, generateKey, readPrivateKey, readPublicKey, type TrustStore } from '../../runner/envelope/index.js';

export const TEST_PASSPHRASE = 'correct horse battery staple';

export interface TestKey {
  readonly name: string;
  readonly fingerprint: string;
  readonly publicArmored: string;
  /** Protected with {@link TEST_PASSPHRASE}, as `felhom keys generate` writes it. */
  readonly privateArmored: string;
  readonly publicKey: openpgp.PublicKey;
  /** Already unlocked. */
  readonly privateKey: openpgp.PrivateKey;
}

const cache = new Map<string, Promise<TestKey>>();

/** The test key called `name` (alice, bob, carol, mallory, ...), the same object on every call. */
export function testKey(name: string): Promise<TestKey> {
  let key = cache.get(name);
  if (!key) {
    key = makeKey(name);
    cache.set(name, key);
  }
  return key;
}

async function makeKey(name: string): Promise<TestKey> {
  // Backdated so the key is valid at any "now" a test picks.
  const generated = await generateKey({ name, email: `${name}@operators.example`, passphrase: TEST_PASSPHRASE, date: new Date('2020-01-01T00:00:00Z') });
  return {
    name,
    fingerprint: generated.fingerprint,
    publicArmored: generated.publicKey,
    privateArmored: generated.privateKey,
    publicKey: await readPublicKey(generated.publicKey),
    privateKey: await readPrivateKey(generated.privateKey, TEST_PASSPHRASE),
  };
}

export async function testKeys(...names: string[]): Promise<TestKey[]> {
  return Promise.all(names.map(testKey));
}

/** A trust store pinning the named keys. */
export async function trustOf(names: readonly string[], threshold = 1): Promise<TrustStore> {
  const keys = await testKeys(...names);
  return createTrustStore(keys.map((key) => key.publicArmored), threshold);
}

/** Writes each key's public and protected private key into a new temporary directory: `<name>.pub.asc`, `<name>.key.asc`. */
export async function writeKeyFiles(names: readonly string[], directory?: string): Promise<string> {
  const dir = directory ?? (await mkdtemp(join(tmpdir(), 'felhom-keys-')));
  for (const key of await testKeys(...names)) {
    await writeFile(join(dir, `${key.name}.pub.asc`), key.publicArmored);
    await writeFile(join(dir, `${key.name}.key.asc`), key.privateArmored, { mode: 0o600 });
  }
  return dir;
}

/**
 * Secrets inside box specs: OpenPGP messages encrypted to the box's agent key, so the hub
 * stores and serves only ciphertext. The plaintext exists only in the operator's process that
 * encrypts it and in the agent's memory at apply time.
 */
import * as openpgp from 'openpgp';
import { readPublicKey } from './keys.js';
import { FelhomError } from '../../lib/errors.js';

/** A secret that cannot be encrypted or decrypted: `ESECRET`, exit 1. The message never holds the value. */
export class SecretError extends FelhomError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ESECRET', 'stalled', message, options);
  }
}

/** Encrypts `plaintext` to the agent key; returns the armoured message a spec's `{ encrypted }` holds. */
export async function encryptSecret(plaintext: string, agentPublicKey: openpgp.PublicKey | string): Promise<string> {
  const key = typeof agentPublicKey === 'string' ? await readPublicKey(agentPublicKey, 'agent key') : agentPublicKey;
  try {
    await key.getEncryptionKey();
  } catch (error) {
    throw new SecretError(`agent key ${key.getFingerprint().toUpperCase()} has no usable encryption subkey`, { cause: error });
  }
  const message = await openpgp.createMessage({ text: plaintext });
  return openpgp.encrypt({ message, encryptionKeys: key, format: 'armored' });
}

/** Decrypts a spec secret with the agent's unlocked private key. The result stays in memory: never log it. */
export async function decryptSecret(armored: string, agentPrivateKey: openpgp.PrivateKey): Promise<string> {
  let message: openpgp.Message<string>;
  try {
    message = await openpgp.readMessage({ armoredMessage: armored });
  } catch (error) {
    throw new SecretError(`not an armoured OpenPGP message (${(error as Error).message})`, { cause: error });
  }
  try {
    const { data } = await openpgp.decrypt({ message, decryptionKeys: agentPrivateKey });
    return data as string;
  } catch (error) {
    throw new SecretError(`cannot decrypt the secret with agent key ${agentPrivateKey.getFingerprint().toUpperCase()}: ${(error as Error).message}`, { cause: error });
  }
}

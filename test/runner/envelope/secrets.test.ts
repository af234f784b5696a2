import t from 'tap';
import { decryptSecret, encryptSecret, SecretError } from '../../../runner/envelope/index.js';
import { testKeys } from '../../helpers/keys.js';

t.test('a secret encrypted to the agent key decrypts only with that key', async (t) => {
  const [agent, other] = await testKeys('agent', 'mallory');
  const armored = await encryptSecret('nfs-password-ü', agent.publicArmored);
  t.match(armored, /^-----BEGIN PGP MESSAGE-----/);
  t.notMatch(armored, /nfs-password/);
  t.equal(await decryptSecret(armored, agent.privateKey), 'nfs-password-ü');
  const error = await decryptSecret(armored, other.privateKey).catch((e: unknown) => e);
  t.type(error, SecretError);
  t.equal((error as SecretError).code, 'ESECRET');
  t.notMatch((error as Error).message, /nfs-password/);
});

t.test('a secret that is not an armoured message is refused', async (t) => {
  const [agent] = await testKeys('agent');
  await t.rejects(decryptSecret('plaintext', agent.privateKey), { code: 'ESECRET', message: /armoured/ });
});

t.test('encrypting to a private key file is refused', async (t) => {
  const [agent] = await testKeys('agent');
  await t.rejects(encryptSecret('x', agent.privateArmored), { code: 'EKEY' });
});

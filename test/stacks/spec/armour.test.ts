import t from 'tap';
import * as openpgp from 'openpgp';
import { armourProblem } from '../../../stacks/spec/armour.js';

t.test('a message OpenPGP.js encrypted passes; an edited or invented one does not', async (t) => {
  const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'agent' }], format: 'object' });
  const armored = await openpgp.encrypt({ message: await openpgp.createMessage({ text: 'tunnel token' }), encryptionKeys: publicKey });
  t.equal(armourProblem(armored), undefined);
  t.equal(armourProblem(armored.replace('-----BEGIN PGP MESSAGE-----\n', '-----BEGIN PGP MESSAGE-----\nComment: felhom\n')), undefined, 'armour headers are allowed');
  t.match(armourProblem('just text'), /between "-----BEGIN PGP MESSAGE-----"/);
  t.match(armourProblem('-----BEGIN PGP MESSAGE-----\nwcBMAw==\n-----END PGP MESSAGE-----'), /blank line/);
  t.match(armourProblem('-----BEGIN PGP MESSAGE-----\n\nnot base64!\n-----END PGP MESSAGE-----'), /base64/);
  t.match(armourProblem('-----BEGIN PGP MESSAGE-----\n\naGVsbG8=\n-----END PGP MESSAGE-----'), /does not start with an OpenPGP packet/);
});

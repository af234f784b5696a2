import { readFile } from 'node:fs/promises';
import t from 'tap';
import { createTrustStore, formatEnvelope, verifyEnvelope } from '../../../runner/envelope/index.js';
import { document, signed, verifyOptions } from '../../helpers/envelopes.js';
import { gnupgHome } from '../../helpers/gnupg.js';
import { TEST_PASSPHRASE, testKeys } from '../../helpers/keys.js';

t.test('every signature felhom makes verifies with gpgv', async (t) => {
  const gnupg = await gnupgHome();
  t.teardown(() => gnupg.close());
  const [alice, bob] = await testKeys('alice', 'bob');
  const { payload, signatures } = document(await signed([alice, bob]));
  const data = await gnupg.file('payload.json', payload);
  for (const [index, signature] of signatures.entries()) {
    const signaturePath = await gnupg.file(`payload.${index}.asc`, signature);
    const result = await gnupg.gpgv([alice.publicArmored, bob.publicArmored], signaturePath, data);
    t.equal(result.exitCode, 0, `signature ${index} verifies`);
    t.match(result.status, /\[GNUPG:\] VALIDSIG [0-9A-F]{40}/);
    t.ok(result.status.includes(`VALIDSIG ${[alice, bob][index]!.fingerprint}`), 'made by the expected key');
  }
  const tampered = await gnupg.file('tampered.json', payload.replace('"serial":10', '"serial":11'));
  const rejected = await gnupg.gpgv([alice.publicArmored], await gnupg.file('a.asc', signatures[0]!), tampered);
  t.not(rejected.exitCode, 0, 'gpgv rejects the signature over changed bytes');
  t.match(rejected.status, /BADSIG/);
});

t.test('a signature made by gpg --detach-sign with a GnuPG-generated key verifies in felhom', async (t) => {
  const gnupg = await gnupgHome();
  t.teardown(() => gnupg.close());
  await gnupg.gpg('--passphrase', '', '--quick-gen-key', 'GnuPG Operator <gpg-op@operators.example>', 'ed25519', 'sign', 'never');
  const { stdout: publicKey } = await gnupg.gpg('--armor', '--export', 'gpg-op@operators.example');
  // The key is made now, so the box judges it (and the envelope) at the real clock: a key is not valid before it exists.
  const now = new Date();
  const { payload } = document(await signed(await testKeys('alice'), { issuedAt: new Date(now.getTime() - 60_000), expiresAt: new Date(now.getTime() + 3600_000) }));
  const data = await gnupg.file('payload.json', payload);
  await gnupg.gpg('--detach-sign', '--armor', '--output', `${data}.asc`, data);
  const signature = await readFile(`${data}.asc`, 'utf8');
  const trust = await createTrustStore([publicKey]);
  const verified = await verifyEnvelope(formatEnvelope({ payload, signatures: [signature] }), await verifyOptions({ trust, now: new Date(now.getTime() + 1000) }));
  t.equal(verified.signers.length, 1);
  t.equal(verified.signers[0], trust.keys[0]!.fingerprint);
});

t.test('a felhom operator key imported into GnuPG signs envelopes felhom accepts', async (t) => {
  const gnupg = await gnupgHome();
  t.teardown(() => gnupg.close());
  const [alice] = await testKeys('alice');
  await gnupg.gpg('--pinentry-mode', 'loopback', '--passphrase', TEST_PASSPHRASE, '--import', await gnupg.file('alice.key.asc', alice.privateArmored));
  const { payload } = document(await signed([alice]));
  const data = await gnupg.file('payload.json', payload);
  await gnupg.gpg('--pinentry-mode', 'loopback', '--passphrase', TEST_PASSPHRASE, '--local-user', alice.fingerprint, '--detach-sign', '--armor', '--output', `${data}.asc`, data);
  const signature = await readFile(`${data}.asc`, 'utf8');
  const verified = await verifyEnvelope(formatEnvelope({ payload, signatures: [signature] }), await verifyOptions());
  t.same(verified.signers, [alice.fingerprint]);
});

import t from 'tap';
import { generateKey, readPrivateKey, readPublicKey } from '../../../runner/envelope/keys.js';
import { createKeyfile, keyfileInfo, openKeyfile } from '../../../runner/custody/pbs-keyfile.js';
import { newRecoveryCode } from '../../../runner/custody/recovery-code.js';
import { escrowBlobProblems, EscrowError, recoveryCodeFromOperatorKey, unwrapEscrow, wrapKeyfile } from '../../../runner/custody/escrow.js';

const fastKeyfile = { scrypt: { n: 1024, r: 8, p: 1 } };
const fastEscrow = { n: 1024, r: 8, p: 1 };

async function escrowed(custody: 'zero-knowledge-escrow' | 'operator-managed' = 'zero-knowledge-escrow', operatorKeys = [] as Awaited<ReturnType<typeof readPublicKey>>[]) {
  const code = newRecoveryCode();
  const keyfile = await createKeyfile(code, fastKeyfile);
  const blob = await wrapKeyfile({ box: 'home-1', keyfile: keyfile.text, recoveryCode: code, custody, operatorKeys, scrypt: fastEscrow });
  return { code, keyfile, blob };
}

t.test('wrap then unwrap with the recovery code gives back the keyfile, which opens with the same code', async (t) => {
  const { code, keyfile, blob } = await escrowed();
  t.same(escrowBlobProblems(blob), []);
  t.equal(blob.fingerprint, keyfile.fingerprint);
  t.notOk(JSON.stringify(blob).includes(JSON.parse(keyfile.text).data), 'the keyfile\'s encrypted key is not visible in the blob');
  const back = await unwrapEscrow(blob, code.toLowerCase(), 'home-1');
  t.equal(back, keyfile.text);
  t.equal((await openKeyfile(back, code)).fingerprint, keyfile.fingerprint);
});

t.test('the default wrapping cost is scrypt n 2^17', async (t) => {
  const code = newRecoveryCode();
  const keyfile = await createKeyfile(code, fastKeyfile);
  const blob = await wrapKeyfile({ box: 'b', keyfile: keyfile.text, recoveryCode: code, custody: 'zero-knowledge-escrow' });
  t.equal(blob.kdf.n, 131072);
  t.equal(await unwrapEscrow(blob, code), keyfile.text);
});

t.test('a wrong code, another box\'s blob and an edited header are refused', async (t) => {
  const { blob } = await escrowed();
  await t.rejects(unwrapEscrow(blob, newRecoveryCode()), { name: 'EscrowError', code: 'EESCROW_WRONG_CODE' });
  await t.rejects(unwrapEscrow(blob, newRecoveryCode(), 'other-box'), { code: 'EESCROW_WRONG_BOX' });
  const { code, blob: mine } = await escrowed();
  await t.rejects(unwrapEscrow({ ...mine, box: 'home-2' }, code), { code: 'EESCROW_WRONG_CODE' }, 'the box is bound by the AAD');
  await t.rejects(unwrapEscrow({ ...mine, custody: 'operator-managed' }, code), { code: 'EESCROW_WRONG_CODE' });
  await t.rejects(unwrapEscrow({ ...mine, iv: 'AAAAAAAA' }, code), { code: 'EESCROW_MALFORMED', message: /iv: expected 12 bytes/ });
});

t.test('a keyfile the code cannot open is not escrowed', async (t) => {
  const keyfile = await createKeyfile('some other passphrase', fastKeyfile);
  await t.rejects(wrapKeyfile({ box: 'b', keyfile: keyfile.text, recoveryCode: newRecoveryCode(), custody: 'zero-knowledge-escrow', scrypt: fastEscrow }), { code: 'EKEYFILE_WRONG_PASSPHRASE' });
});

t.test('operator-managed: the named operator key recovers the code; others and zero-knowledge blobs cannot', async (t) => {
  const operator = await generateKey({ name: 'op', email: 'op@example.org', passphrase: 'op pass' });
  const stranger = await generateKey({ name: 'x', email: 'x@example.org', passphrase: 'x pass' });
  const { code, blob } = await escrowed('operator-managed', [await readPublicKey(operator.publicKey)]);
  t.same(blob.operatorWraps?.map((w) => w.keyFingerprint), [operator.fingerprint]);
  t.same(escrowBlobProblems(blob), []);
  const recovered = await recoveryCodeFromOperatorKey(blob, await readPrivateKey(operator.privateKey, 'op pass'));
  t.equal(recovered, code);
  t.equal(keyfileInfo(await unwrapEscrow(blob, recovered)).fingerprint, blob.fingerprint);
  await t.rejects(recoveryCodeFromOperatorKey(blob, await readPrivateKey(stranger.privateKey, 'x pass')), { code: 'EESCROW_NO_OPERATOR_WRAP' });
  const { blob: zk } = await escrowed();
  await t.rejects(recoveryCodeFromOperatorKey(zk, await readPrivateKey(operator.privateKey, 'op pass')), { code: 'EESCROW_NOT_OPERATOR_MANAGED' });
  const keyfile = await createKeyfile(code, fastKeyfile);
  await t.rejects(wrapKeyfile({ box: 'b', keyfile: keyfile.text, recoveryCode: code, custody: 'operator-managed', scrypt: fastEscrow }), { code: 'EESCROW_NO_OPERATOR_WRAP' });
  await t.rejects(wrapKeyfile({ box: 'b', keyfile: keyfile.text, recoveryCode: code, custody: 'zero-knowledge-escrow', operatorKeys: [await readPublicKey(operator.publicKey)], scrypt: fastEscrow }), { code: 'EESCROW_NOT_OPERATOR_MANAGED' });
  t.ok(new EscrowError('malformed', 'x') instanceof Error);
});

t.test('blob shape problems name the field', async (t) => {
  const { blob } = await escrowed();
  t.same(escrowBlobProblems(null), ['expected an object']);
  const broken = { ...blob, format: 'x', box: '', custody: 'customer-only', fingerprint: 'ab', createdAt: 'no', kdf: { name: 'scrypt', n: 3, r: 0, p: 1, salt: 'AA==' }, tag: '!', ciphertext: 'A'.repeat(30000), operatorWraps: [{ keyFingerprint: 'x', message: '' }], extra: 1 };
  const problems = escrowBlobProblems(broken);
  for (const field of ['format', 'box', 'custody', 'fingerprint', 'createdAt', 'kdf.r', 'kdf.n', 'kdf.salt', 'tag', 'ciphertext', 'operatorWraps[0]', 'operatorWraps: only', 'extra']) {
    t.ok(problems.some((problem) => problem.startsWith(field)), `names ${field}`);
  }
  t.match(escrowBlobProblems({ ...blob, kdf: { name: 'argon2' } }), [/^kdf: expected/]);
  t.match(escrowBlobProblems({ ...blob, operatorWraps: 'x' }), [/operatorWraps: expected a list/]);
});

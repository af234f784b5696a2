import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readPrivateKey, readPublicKey } from '../../runner/envelope/index.js';
import { felhom } from '../helpers/cli.js';

const PASSPHRASE = 'cli test passphrase';

t.test('keys generate writes a public key, a protected private key and a revocation certificate, and prints the fingerprint', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-keygen-'));
  const result = await felhom(['keys', 'generate', '--name', 'Alice Operator', '--email', 'alice@operators.example', '--out-dir', dir, '--json'], { env: { FELHOM_KEY_PASSPHRASE: PASSPHRASE } });
  t.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout) as { fingerprint: string; publicKey: string; privateKey: string; revocationCertificate: string };
  t.match(printed.fingerprint, /^[0-9A-F]{40}$/);
  t.equal(printed.publicKey, join(dir, 'alice-operator.pub.asc'));
  t.equal(printed.privateKey, join(dir, 'alice-operator.key.asc'));

  const publicKey = await readPublicKey(await readFile(printed.publicKey, 'utf8'));
  t.equal(publicKey.getFingerprint().toUpperCase(), printed.fingerprint);
  t.equal(publicKey.keyPacket.version, 4, 'a v4 key, which GnuPG 2.2 reads');
  t.same(publicKey.getAlgorithmInfo(), { algorithm: 'eddsaLegacy', curve: 'ed25519Legacy' });
  t.same(publicKey.subkeys.map((subkey) => subkey.getAlgorithmInfo()), [{ algorithm: 'ecdh', curve: 'curve25519Legacy' }], 'an encryption subkey for secrets');
  t.equal((await stat(printed.privateKey)).mode & 0o777, 0o600);

  const armoredPrivate = await readFile(printed.privateKey, 'utf8');
  await t.rejects(readPrivateKey(armoredPrivate, undefined), { code: 'EKEY', message: /passphrase-protected/ });
  await t.rejects(readPrivateKey(armoredPrivate, 'wrong'), { code: 'EKEY' });
  t.ok((await readPrivateKey(armoredPrivate, PASSPHRASE)).isDecrypted());
});

t.test('keys generate prints the fingerprint and paths for a person', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-keygen-'));
  const result = await felhom(['keys', 'generate', '--name', 'bob', '--email', 'bob@operators.example', '--out-dir', dir], { env: { FELHOM_KEY_PASSPHRASE: PASSPHRASE } });
  t.equal(result.code, 0);
  t.match(result.stdout, /^[0-9A-F]{40}\npublic key: {2}.*bob\.pub\.asc\nprivate key: .*bob\.key\.asc \(passphrase-protected\)\n/);
});

t.test('keys generate refuses to overwrite an existing key', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-keygen-'));
  const args = ['keys', 'generate', '--name', 'carol', '--email', 'carol@operators.example', '--out-dir', dir];
  t.equal((await felhom(args, { env: { FELHOM_KEY_PASSPHRASE: PASSPHRASE } })).code, 0);
  const before = await readFile(join(dir, 'carol.key.asc'), 'utf8');
  const again = await felhom(args, { env: { FELHOM_KEY_PASSPHRASE: PASSPHRASE } });
  t.equal(again.code, 1);
  t.match(again.stderr, /EEXIST: a key named carol already exists/);
  t.equal(await readFile(join(dir, 'carol.key.asc'), 'utf8'), before, 'the first key is untouched');
});

t.test('without FELHOM_KEY_PASSPHRASE and no terminal, keys generate is a usage error', { skip: process.stdin.isTTY ? 'standard input is a terminal here' : false }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-keygen-'));
  const result = await felhom(['keys', 'generate', '--name', 'dave', '--email', 'dave@operators.example', '--out-dir', dir], { env: { FELHOM_KEY_PASSPHRASE: '' } });
  t.equal(result.code, 2);
  t.match(result.stderr, /EUSAGE: a passphrase for .* is needed: set FELHOM_KEY_PASSPHRASE/);
});

t.test('keys generate without --email is a usage error', async (t) => {
  const result = await felhom(['keys', 'generate', '--name', 'erin', '--out-dir', '/tmp']);
  t.equal(result.code, 2);
});

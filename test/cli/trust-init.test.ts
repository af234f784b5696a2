import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import t, { type Test } from 'tap';
import { loadTrustStore } from '../../runner/envelope/index.js';
import { felhom } from '../helpers/cli.js';
import { gnupgHome } from '../helpers/gnupg.js';
import { testKeys, writeKeyFiles } from '../helpers/keys.js';

t.test('trust init pins the given public keys with a threshold', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const dir = await writeKeyFiles(['alice', 'bob']);
  const out = join(dir, 'trust.json');
  const result = await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--public-key', 'bob.pub.asc', '--threshold', '2', '--out', 'trust.json', '--json'], { cwd: dir });
  t.equal(result.code, 0, result.stderr);
  t.same(JSON.parse(result.stdout), { trustStore: out, threshold: 2, fingerprints: [alice.fingerprint, bob.fingerprint] });
  const store = await loadTrustStore(out);
  t.equal(store.threshold, 2);
  t.same(store.keys.map((key) => key.fingerprint), [alice.fingerprint, bob.fingerprint]);
});

t.test('trust init prints the fingerprints for a person to compare', async (t) => {
  const [alice] = await testKeys('alice');
  const dir = await writeKeyFiles(['alice']);
  const result = await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(result.code, 0);
  t.equal(result.stdout, `trust.json: 1 key, threshold 1\n  ${alice.fingerprint}  alice <alice@operators.example>\n`);
});

t.test('trust init refuses to replace an existing store unless forced', async (t) => {
  const dir = await writeKeyFiles(['alice', 'bob']);
  t.equal((await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--out', 'trust.json'], { cwd: dir })).code, 0);
  const before = await readFile(join(dir, 'trust.json'), 'utf8');
  const again = await felhom(['trust', 'init', '--public-key', 'bob.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(again.code, 1);
  t.match(again.stderr, /EEXIST: trust\.json already exists/);
  t.equal(await readFile(join(dir, 'trust.json'), 'utf8'), before);
  t.equal((await felhom(['trust', 'init', '--public-key', 'bob.pub.asc', '--out', 'trust.json', '--force'], { cwd: dir })).code, 0);
});

t.test('trust init refuses a threshold above the number of distinct keys, a private key and a bad number', async (t) => {
  const dir = await writeKeyFiles(['alice']);
  const duplicate = await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--public-key', 'alice.pub.asc', '--threshold', '2', '--out', 'trust.json'], { cwd: dir });
  t.equal(duplicate.code, 1);
  t.match(duplicate.stderr, /EKEY: threshold: expected an integer from 1 to 1/);
  const privateKey = await felhom(['trust', 'init', '--public-key', 'alice.key.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(privateKey.code, 1);
  t.match(privateKey.stderr, /EKEY: .*is a private key/);
  const notANumber = await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--threshold', 'two', '--out', 'trust.json'], { cwd: dir });
  t.equal(notANumber.code, 2);
  const missing = await felhom(['trust', 'init', '--public-key', 'nobody.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(missing.code, 3);
  t.match(missing.stderr, /EREAD: cannot read public key nobody\.pub\.asc: ENOENT/);
});

/** Writes an armoured public key into a fresh directory as `<name>.pub.asc`. */
async function keyFile(t: Test, name: string, armored: string): Promise<string> {
  const dir = t.testdir();
  await writeFile(join(dir, `${name}.pub.asc`), armored);
  return dir;
}

t.test('trust init refuses a key that expired, naming the reason', async (t) => {
  const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'old', email: 'old@operators.example' }], date: new Date('2019-06-01T00:00:00Z'), keyExpirationTime: 3600, config: { v6Keys: false } });
  const dir = await keyFile(t, 'old', publicKey);
  const result = await felhom(['trust', 'init', '--key', 'old.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(result.code, 1);
  t.match(result.stderr, /EKEY_EXPIRED: old\.pub\.asc: trusted key [0-9A-F]{40} expired at 2019-06-01T01:00:00\.000Z.*cannot be pinned/);
  await t.rejects(readFile(join(dir, 'trust.json')), { code: 'ENOENT' }, 'no store written');
});

t.test('trust init refuses a revoked key, naming the reason', async (t) => {
  const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'gone', email: 'gone@operators.example' }], date: new Date('2020-01-01T00:00:00Z'), format: 'object', config: { v6Keys: false } });
  const { publicKey } = await openpgp.revokeKey({ key: privateKey, reasonForRevocation: { flag: openpgp.enums.reasonForRevocation.keyRetired }, date: new Date('2021-01-01T00:00:00Z') });
  const dir = await keyFile(t, 'gone', publicKey);
  const result = await felhom(['trust', 'init', '--key', 'gone.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(result.code, 1);
  t.match(result.stderr, /EKEY_REVOKED: gone\.pub\.asc: .*is revoked/);
});

t.test('trust init refuses an RSA-1024 key, naming the reason', async (t) => {
  const { publicKey } = await openpgp.generateKey({ type: 'rsa', rsaBits: 1024, userIDs: [{ name: 'small', email: 'small@operators.example' }], date: new Date('2020-01-01T00:00:00Z'), config: { minRSABits: 1024, v6Keys: false } });
  const dir = await keyFile(t, 'small', publicKey);
  const result = await felhom(['trust', 'init', '--key', 'small.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(result.code, 1);
  t.match(result.stderr, /EWEAK_KEY: small\.pub\.asc: key [0-9A-F]{40} is RSA-1024; RSA keys need at least 2048 bits/);
});

t.test('trust init refuses a key self-signed with SHA-1, naming the reason', async (t) => {
  const gnupg = await gnupgHome();
  t.teardown(() => gnupg.close());
  await gnupg.gpg('--pinentry-mode', 'loopback', '--passphrase', '', '--cert-digest-algo', 'SHA1', '--quick-gen-key', 'Sha One <sha1@operators.example>', 'rsa2048', 'sign', 'never');
  const { stdout: armored } = await gnupg.gpg('--armor', '--export', 'sha1@operators.example');
  const dir = await keyFile(t, 'sha1', armored);
  const result = await felhom(['trust', 'init', '--key', 'sha1.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(result.code, 1);
  t.match(result.stderr, /EWEAK_HASH: sha1\.pub\.asc: key [0-9A-F]{40} is self-signed with SHA1/);
});

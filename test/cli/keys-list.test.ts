import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { felhom } from '../helpers/cli.js';
import { testKeys } from '../helpers/keys.js';

t.test('keys list shows each key once: sec with its private key file, pub without', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const dir = t.testdir();
  await mkdir(join(dir, 'keys', 'alice'), { recursive: true });
  await writeFile(join(dir, 'keys', 'alice', 'alice.pub.asc'), alice.publicArmored);
  await writeFile(join(dir, 'keys', 'alice', 'alice.key.asc'), alice.privateArmored);
  await writeFile(join(dir, 'keys', 'alice', 'alice.rev.asc'), '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----\n');
  await writeFile(join(dir, 'keys', 'bob.pub.asc'), bob.publicArmored);
  await writeFile(join(dir, 'keys', 'notes.txt'), 'not armour');

  const result = await felhom(['keys', 'list'], { cwd: dir });
  t.equal(result.code, 0, result.stderr);
  t.equal(
    result.stdout,
    [
      `sec  ed25519  2020-01-01  ${alice.fingerprint}`,
      '     uid  alice <alice@operators.example>',
      '     file keys/alice/alice.key.asc (passphrase-protected)',
      '     file keys/alice/alice.pub.asc',
      `pub  ed25519  2020-01-01  ${bob.fingerprint}`,
      '     uid  bob <bob@operators.example>',
      '     file keys/bob.pub.asc',
      '',
    ].join('\n'),
  );

  const json = await felhom(['keys', 'list', 'keys/bob.pub.asc', '--json'], { cwd: dir });
  t.same(JSON.parse(json.stdout), {
    keys: [{ fingerprint: bob.fingerprint, keyId: bob.fingerprint.slice(-16), kind: 'pub', algorithm: 'ed25519', created: '2020-01-01', userIds: ['bob <bob@operators.example>'], protected: null, files: ['keys/bob.pub.asc'] }],
  });
});

t.test('keys list of an empty folder says so; of a missing one exits 3', async (t) => {
  const dir = t.testdir({ keys: {} });
  t.equal((await felhom(['keys', 'list'], { cwd: dir })).stdout, 'no keys\n');
  const missing = await felhom(['keys', 'list', 'nowhere'], { cwd: dir });
  t.equal(missing.code, 3);
  t.match(missing.stderr, /^felhom: EREAD: cannot read nowhere: ENOENT$/m);
});

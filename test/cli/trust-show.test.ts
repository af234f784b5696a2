import { join } from 'node:path';
import t from 'tap';
import { createTrustStore, writeTrustStore } from '../../runner/envelope/index.js';
import { felhom } from '../helpers/cli.js';
import { testKeys } from '../helpers/keys.js';

t.test('trust show prints the threshold, each pinned key and the last rotation', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const dir = t.testdir();
  await writeTrustStore(join(dir, 'trust.json'), await createTrustStore([alice.publicArmored, bob.publicArmored], 2));
  const result = await felhom(['trust', 'show', 'trust.json'], { cwd: dir });
  t.equal(result.code, 0, result.stderr);
  t.equal(
    result.stdout,
    [
      'trust.json: 2 keys, threshold 2 (each envelope needs 2 of these signatures)',
      `  ${alice.fingerprint}  alice <alice@operators.example>`,
      `  ${bob.fingerprint}  bob <bob@operators.example>`,
      'never rotated: the keys pinned at enrolment',
      '',
    ].join('\n'),
  );

  const rotation = { tier: 'host', serial: 9, digest: 'ab'.repeat(32) };
  await writeTrustStore(join(dir, 'rotated.json'), await createTrustStore([bob.publicArmored], 1, rotation));
  const rotated = await felhom(['trust', 'show', 'rotated.json'], { cwd: dir });
  t.match(rotated.stdout, /^last rotation: rotate-keys job serial 9 for the host tier, envelope abababababab$/m);
  const json = JSON.parse((await felhom(['trust', 'show', 'rotated.json', '--json'], { cwd: dir })).stdout) as Record<string, unknown>;
  t.match(json, { trustStore: 'rotated.json', threshold: 1, keys: [{ fingerprint: bob.fingerprint, keyId: bob.fingerprint.slice(-16) }], lastRotation: rotation });
});

t.test('trust show of a missing store exits 3, of a broken one 1', async (t) => {
  const dir = t.testdir({ 'broken.json': '{"version": 1}' });
  t.equal((await felhom(['trust', 'show', 'nope.json'], { cwd: dir })).code, 3);
  const broken = await felhom(['trust', 'show', 'broken.json'], { cwd: dir });
  t.equal(broken.code, 1);
  t.match(broken.stderr, /^felhom: ETRUST: /m);
});

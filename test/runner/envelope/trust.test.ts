import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  applyKeyRotation,
  createTrustStore,
  loadTrustStore,
  serializeTrustStore,
  ThresholdError,
  TrustStoreError,
  UnknownKeyError,
  verifyEnvelope,
  writeTrustStore,
  type TrustStore,
  type VerifiedEnvelope,
} from '../../../runner/envelope/index.js';
import { signed, verifyOptions } from '../../helpers/envelopes.js';
import { testKey, testKeys, type TestKey } from '../../helpers/keys.js';

async function storeFile(store: TrustStore): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-trust-'));
  const path = join(dir, 'trust.json');
  await writeTrustStore(path, store);
  return path;
}

function rotation(keys: readonly TestKey[], threshold: number, serial = 10) {
  return { serial, body: { action: 'rotate-keys', keys: keys.map((key) => key.publicArmored), threshold } };
}

t.test('a trust store round-trips through its file', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const store = await createTrustStore([alice.publicArmored, bob.publicArmored], 2);
  const path = await storeFile(store);
  const loaded = await loadTrustStore(path);
  t.equal(loaded.threshold, 2);
  t.same(loaded.keys.map((key) => key.fingerprint), [alice.fingerprint, bob.fingerprint]);
  t.same(loaded.keys[0]!.userIds, ['alice <alice@operators.example>']);
});

t.test('a trust store refuses a private key, an unreachable threshold and a wrong recorded fingerprint', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  await t.rejects(createTrustStore([alice.privateArmored]), { code: 'EKEY', message: /private key/ });
  await t.rejects(createTrustStore([alice.publicArmored], 2), { code: 'EKEY', message: /threshold/ });
  await t.rejects(createTrustStore([alice.publicArmored], 0), { code: 'EKEY' });
  const document = JSON.parse(serializeTrustStore(await createTrustStore([alice.publicArmored]))) as { keys: { fingerprint: string }[] };
  document.keys[0]!.fingerprint = bob.fingerprint;
  const path = await storeFile(await createTrustStore([alice.publicArmored]));
  await writeFile(path, JSON.stringify(document));
  await t.rejects(loadTrustStore(path), TrustStoreError);
  await t.rejects(loadTrustStore(join(path, 'missing')), { code: 'ETRUST' });
  await writeFile(path, '{ nope');
  await t.rejects(loadTrustStore(path), { code: 'ETRUST', message: /not JSON/ });
});

t.test('key rotation', async (t) => {
  const [alice, bob, carol, dave] = await testKeys('alice', 'bob', 'carol', 'dave');

  t.test('signed by the current keys and the new keys, a rotation applies and the removed key stops counting', async (t) => {
    const path = await storeFile(await createTrustStore([alice.publicArmored]));
    const trust = await loadTrustStore(path);
    const text = await signed([alice, bob, carol], rotation([bob, carol], 2));
    const verified = await verifyEnvelope(text, await verifyOptions({ trust }));
    const next = await applyKeyRotation(verified, path);
    t.same(next.keys.map((key) => key.fingerprint), [bob.fingerprint, carol.fingerprint]);
    t.equal(next.threshold, 2);
    const reloaded = await loadTrustStore(path);
    t.same(reloaded.lastRotation, { tier: 'host', serial: 10, digest: verified.digest });
    t.same((await readdir(join(path, '..'))).sort(), ['trust.json'], 'no temporary file is left behind');

    const byAlice = await signed([alice], { serial: 11 });
    const error = await verifyEnvelope(byAlice, await verifyOptions({ trust: reloaded, lastSerial: 10 })).catch((e: unknown) => e);
    t.type(error, UnknownKeyError);
    t.equal((error as UnknownKeyError).reason, 'unknown-key');
    const byNewKeys = await verifyEnvelope(await signed([bob, carol], { serial: 11 }), await verifyOptions({ trust: reloaded, lastSerial: 10 }));
    t.same(byNewKeys.signers, [bob.fingerprint, carol.fingerprint].sort());
  });

  t.test('a rotation signed only by the new keys is refused', async (t) => {
    const trust = await createTrustStore([alice.publicArmored]);
    const text = await signed([bob], rotation([bob], 1));
    const error = await verifyEnvelope(text, await verifyOptions({ trust })).catch((e: unknown) => e);
    t.type(error, UnknownKeyError);
    t.equal((error as UnknownKeyError).reason, 'unknown-key');
  });

  t.test('a rotation signed only by the current keys is refused: the new keys must accept it', async (t) => {
    const trust = await createTrustStore([alice.publicArmored]);
    const text = await signed([alice], rotation([bob], 1));
    const error = await verifyEnvelope(text, await verifyOptions({ trust })).catch((e: unknown) => e);
    t.type(error, ThresholdError);
    t.equal((error as ThresholdError).reason, 'insufficient-signatures');
  });

  t.test('a rotation below the current threshold is refused even when the new keys signed', async (t) => {
    const trust = await createTrustStore([alice.publicArmored, bob.publicArmored], 2);
    const text = await signed([alice, dave], rotation([dave], 1));
    const error = await verifyEnvelope(text, await verifyOptions({ trust })).catch((e: unknown) => e);
    t.type(error, ThresholdError);
  });

  t.test('a rotation below the new threshold is refused', async (t) => {
    const trust = await createTrustStore([alice.publicArmored]);
    const text = await signed([alice, bob], rotation([bob, carol], 2));
    const error = await verifyEnvelope(text, await verifyOptions({ trust })).catch((e: unknown) => e);
    t.type(error, ThresholdError);
    t.match((error as Error).message, /new keys/);
  });

  t.test('a rotation keeping a current key needs only the thresholds, not every key', async (t) => {
    const path = await storeFile(await createTrustStore([alice.publicArmored, bob.publicArmored], 1));
    const trust = await loadTrustStore(path);
    const text = await signed([alice], rotation([alice], 1));
    const next = await applyKeyRotation(await verifyEnvelope(text, await verifyOptions({ trust })), path);
    t.same(next.keys.map((key) => key.fingerprint), [alice.fingerprint]);
  });

  t.test('applying refuses an object verifyEnvelope did not produce', async (t) => {
    const path = await storeFile(await createTrustStore([alice.publicArmored]));
    const verified = await verifyEnvelope(await signed([alice, bob], rotation([bob], 1)), await verifyOptions({ trust: await loadTrustStore(path) }));
    const forged: VerifiedEnvelope = { ...verified };
    await t.rejects(applyKeyRotation(forged, path), TrustStoreError);
    t.equal((await loadTrustStore(path)).keys[0]!.fingerprint, alice.fingerprint, 'the store is unchanged');
  });

  t.test('applying refuses a verified envelope that is not a rotation', async (t) => {
    const path = await storeFile(await createTrustStore([alice.publicArmored]));
    const verified = await verifyEnvelope(await signed([alice]), await verifyOptions({ trust: await loadTrustStore(path) }));
    await t.rejects(applyKeyRotation(verified, path), { code: 'ETRUST', message: /not a rotate-keys job/ });
  });

  t.test('applying refuses when the store changed since verification, and refuses the same rotation twice', async (t) => {
    const path = await storeFile(await createTrustStore([alice.publicArmored]));
    const trust = await loadTrustStore(path);
    const first = await verifyEnvelope(await signed([alice, bob], rotation([alice, bob], 1)), await verifyOptions({ trust }));
    const stale = await verifyEnvelope(await signed([alice, carol], rotation([carol], 1, 11)), await verifyOptions({ trust }));
    await applyKeyRotation(first, path);
    await t.rejects(applyKeyRotation(stale, path), { code: 'ETRUST', message: /changed since/ });

    const rotated = await loadTrustStore(path);
    const replayed = await verifyEnvelope(await signed([alice, bob], rotation([alice, bob], 1, 10)), await verifyOptions({ trust: rotated, lastSerial: undefined }));
    await t.rejects(applyKeyRotation(replayed, path), { code: 'ETRUST', message: /not after the last applied rotation/ });
  });

  t.test('a rotation whose key list holds no readable key is an invalid body', async (t) => {
    const trust = await createTrustStore([alice.publicArmored]);
    const bogus = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n';
    const text = await signed([alice], { serial: 10, body: { action: 'rotate-keys', keys: [bogus], threshold: 1 } });
    const error = await verifyEnvelope(text, await verifyOptions({ trust })).catch((e: unknown) => e);
    t.equal((error as { reason?: string }).reason, 'invalid-body');
  });
});

t.test('the trust store file is replaced atomically and keeps its content readable', async (t) => {
  const alice = await testKey('alice');
  const path = await storeFile(await createTrustStore([alice.publicArmored]));
  const before = await readFile(path, 'utf8');
  await writeTrustStore(path, await loadTrustStore(path));
  t.equal(await readFile(path, 'utf8'), before);
});

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import t, { type Test } from 'tap';
import * as openpgp from 'openpgp';
import {
  canonicalPayload,
  createTrustStore,
  EnvelopeError,
  ExpiredError,
  formatEnvelope,
  CriticalNotationError,
  InvalidBodyError,
  KeyExpiredError,
  KeyRevokedError,
  MalformedEnvelopeError,
  NotYetValidError,
  ReplayError,
  RollbackError,
  TamperedError,
  ThresholdError,
  UnknownKeyError,
  UnusableKeyError,
  verifyEnvelope,
  WeakHashError,
  WeakKeyError,
  WrongBoxError,
  WrongTierError,
  WrongTypeError,
  type EnvelopeHeader,
} from '../../../runner/envelope/index.js';
import { content, document, NOW, signed, signText, verifyOptions, withDocument } from '../../helpers/envelopes.js';
import { keyStrengthProblem } from '../../../runner/envelope/key-policy.js';
import { gnupgHome } from '../../helpers/gnupg.js';
import { testKey, testKeys, trustOf } from '../../helpers/keys.js';
import { describeFailure } from '../../../cli/errors.js';

const MINUTE = 60 * 1000;

/** Runs `verify` and asserts it refused with exactly this class and reason. */
async function refuses(
  t: Test,
  verify: Promise<unknown>,
  errorClass: new (...args: never[]) => EnvelopeError,
  reason: string,
): Promise<EnvelopeError> {
  const error = await verify.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  t.type(error, errorClass, `refused with ${errorClass.name}`);
  t.equal((error as EnvelopeError).reason, reason, `reason is ${reason}`);
  t.equal((error as EnvelopeError).kind, 'stalled');
  t.equal(describeFailure(error).exitCode, 1);
  return error as EnvelopeError;
}

t.test('a valid envelope verifies and returns its header, body, digest and signers', async (t) => {
  const alice = await testKey('alice');
  const text = await signed([alice]);
  const verified = await verifyEnvelope(text, await verifyOptions());
  t.equal(verified.header.box, 'box-1');
  t.equal(verified.header.serial, 10);
  t.same(verified.body, { action: 'apply' });
  t.same(verified.signers, [alice.fingerprint]);
  t.equal(verified.digest, createHash('sha256').update(document(text).payload).digest('hex'));
  t.equal(verified.payload, document(text).payload);
});

t.test('given bytes rather than text, verification reads them the same', async (t) => {
  const text = await signed([await testKey('alice')]);
  const verified = await verifyEnvelope(new TextEncoder().encode(text), await verifyOptions());
  t.equal(verified.header.serial, 10);
});

t.test('with no last serial (a fresh box), any serial is accepted', async (t) => {
  const text = await signed([await testKey('alice')], { serial: 1 });
  const verified = await verifyEnvelope(text, await verifyOptions({ lastSerial: undefined }));
  t.equal(verified.header.serial, 1);
});

t.test('rule 1, malformed', async (t) => {
  const alice = await testKey('alice');
  const text = await signed([alice]);

  t.test('an envelope over the size limit is refused before parsing', async (t) => {
    await refuses(t, verifyEnvelope(text, await verifyOptions({ maxBytes: 100 })), MalformedEnvelopeError, 'malformed');
    const huge = `{"payload": "${'x'.repeat(1024 * 1024)}", "signatures": []}`;
    const error = await refuses(t, verifyEnvelope(huge, await verifyOptions()), MalformedEnvelopeError, 'malformed');
    t.match(error.message, /more than the limit of 1048576/);
  });

  t.test('an envelope that is not JSON is refused', async (t) => {
    await refuses(t, verifyEnvelope('{"payload": ', await verifyOptions()), MalformedEnvelopeError, 'malformed');
  });

  t.test('an envelope that is not valid UTF-8 is refused', async (t) => {
    await refuses(t, verifyEnvelope(new Uint8Array([0x7b, 0xff, 0x7d]), await verifyOptions()), MalformedEnvelopeError, 'malformed');
  });

  t.test('an envelope without signatures is refused', async (t) => {
    const unsigned = withDocument(text, (d) => ({ ...d, signatures: [] }));
    await refuses(t, verifyEnvelope(unsigned, await verifyOptions()), MalformedEnvelopeError, 'malformed');
  });

  t.test('an envelope with extra fields is refused', async (t) => {
    const extra = JSON.stringify({ ...document(text), note: 'hi' });
    await refuses(t, verifyEnvelope(extra, await verifyOptions()), MalformedEnvelopeError, 'malformed');
  });

  t.test('a signature whose armour does not decode is refused', async (t) => {
    const broken = withDocument(text, (d) => ({ ...d, signatures: ['-----BEGIN PGP SIGNATURE-----\n\n!!!!\n-----END PGP SIGNATURE-----\n'] }));
    await refuses(t, verifyEnvelope(broken, await verifyOptions()), MalformedEnvelopeError, 'malformed');
  });

  t.test('a signature that is not an armoured signature block is refused', async (t) => {
    const broken = withDocument(text, (d) => ({ ...d, signatures: [alice.publicArmored] }));
    await refuses(t, verifyEnvelope(broken, await verifyOptions()), MalformedEnvelopeError, 'malformed');
  });

  t.test('a signed payload that is not canonical JSON is refused', async (t) => {
    const payload = document(text).payload.replace('{', '{ ');
    const envelope = formatEnvelope({ payload, signatures: [await signText(payload, alice)] });
    const error = await refuses(t, verifyEnvelope(envelope, await verifyOptions()), MalformedEnvelopeError, 'malformed');
    t.match(error.message, /canonical/);
  });

  t.test('a signed payload with a duplicate key is refused', async (t) => {
    const payload = document(text).payload.replace('"box":"box-1"', '"box":"box-2","box":"box-1"');
    const envelope = formatEnvelope({ payload, signatures: [await signText(payload, alice)] });
    await refuses(t, verifyEnvelope(envelope, await verifyOptions()), MalformedEnvelopeError, 'malformed');
  });

  t.test('a signed header missing a field is refused naming the field', async (t) => {
    const header = JSON.parse(document(text).payload) as Record<string, unknown>;
    delete header.expiresAt;
    const payload = canonicalPayload(header as unknown as EnvelopeHeader);
    const envelope = formatEnvelope({ payload, signatures: [await signText(payload, alice)] });
    const error = await refuses(t, verifyEnvelope(envelope, await verifyOptions()), MalformedEnvelopeError, 'malformed');
    t.match(error.message, /expiresAt/);
  });

  t.test('a signed JSON document of another format is refused', async (t) => {
    const payload = canonicalPayload({ hello: 'world' } as unknown as EnvelopeHeader);
    const envelope = formatEnvelope({ payload, signatures: [await signText(payload, alice)] });
    await refuses(t, verifyEnvelope(envelope, await verifyOptions()), MalformedEnvelopeError, 'malformed');
  });
});

t.test('rule 2, unknown key: an envelope signed only by a key the box does not trust is refused', async (t) => {
  const text = await signed([await testKey('mallory')]);
  await refuses(t, verifyEnvelope(text, await verifyOptions()), UnknownKeyError, 'unknown-key');
});

t.test('rule 3, tampered: an envelope whose payload changed after signing is refused', async (t) => {
  const text = await signed([await testKey('alice')]);
  const tampered = withDocument(text, (d) => ({ ...d, payload: d.payload.replace('"serial":10', '"serial":99') }));
  await refuses(t, verifyEnvelope(tampered, await verifyOptions()), TamperedError, 'tampered');
});

t.test('rule 3, tampered: a trusted key signature taken from another envelope is refused', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const text = await signed([alice]);
  const other = await signed([bob], { serial: 11 });
  const spliced = withDocument(text, (d) => ({ ...d, signatures: [...d.signatures, ...document(other).signatures] }));
  await refuses(t, verifyEnvelope(spliced, await verifyOptions({ trust: await trustOf(['alice', 'bob'], 2) })), TamperedError, 'tampered');
});

t.test('rule 4, insufficient signatures', async (t) => {
  const [alice, bob, mallory] = await testKeys('alice', 'bob', 'mallory');
  const trust = await trustOf(['alice', 'bob'], 2);

  t.test('one trusted signature is refused under a threshold of 2', async (t) => {
    const text = await signed([alice]);
    await refuses(t, verifyEnvelope(text, await verifyOptions({ trust })), ThresholdError, 'insufficient-signatures');
  });

  t.test('one valid and one forged signature are refused under a threshold of 2', async (t) => {
    const text = await signed([alice, mallory]);
    await refuses(t, verifyEnvelope(text, await verifyOptions({ trust })), ThresholdError, 'insufficient-signatures');
  });

  t.test('the same key signing twice counts once', async (t) => {
    const text = await signed([alice]);
    const twice = withDocument(text, (d) => ({ ...d, signatures: [d.signatures[0]!, d.signatures[0]!] }));
    await refuses(t, verifyEnvelope(twice, await verifyOptions({ trust })), ThresholdError, 'insufficient-signatures');
  });

  t.test('two distinct trusted keys meet a threshold of 2, and an extra unknown signature is ignored', async (t) => {
    const text = await signed([alice, mallory, bob]);
    const verified = await verifyEnvelope(text, await verifyOptions({ trust }));
    t.same(verified.signers, [alice.fingerprint, bob.fingerprint].sort());
  });

  t.test('a key listed twice in a trust store is kept once and cannot make up a threshold alone', async (t) => {
    const store = await createTrustStore([alice.publicArmored, alice.publicArmored], 1);
    t.equal(store.keys.length, 1);
    await t.rejects(createTrustStore([alice.publicArmored, alice.publicArmored], 2), { code: 'EKEY' });
  });
});

t.test('a signature made by a signing subkey counts for its primary key', async (t) => {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: 'subkey signer', email: 'sub@operators.example' }],
    subkeys: [{ type: 'ecc', curve: 'curve25519Legacy' }, { type: 'ecc', curve: 'ed25519Legacy', sign: true }],
    date: new Date('2020-01-01T00:00:00Z'),
    format: 'object',
    config: { v6Keys: false },
  });
  const primaryKeyId = privateKey.getKeyID().toHex();
  const trust = await createTrustStore([privateKey.toPublic().armor()]);
  const text = await signed([{ privateKey } as never]);
  const issuers = (await openpgp.readSignature({ armoredSignature: document(text).signatures[0]! })).getSigningKeyIDs().map((id) => id.toHex());
  t.not(issuers[0], primaryKeyId, 'the signature was made by the subkey');
  const verified = await verifyEnvelope(text, await verifyOptions({ trust }));
  t.same(verified.signers, [privateKey.getFingerprint().toUpperCase()]);
});

/** A payload for box-1/host at NOW, signed by `privateKey` with openpgp options the signer chose (a back-dated `date`, notations). */
async function signedWith(privateKey: openpgp.PrivateKey, options: Partial<openpgp.SignOptions> = {}, overrides: Parameters<typeof signed>[1] = {}): Promise<string> {
  const alice = await testKey('alice');
  const payload = document(await signed([alice], overrides)).payload;
  const message = await openpgp.createMessage({ binary: new TextEncoder().encode(payload) });
  const signature = await openpgp.sign({ ...options, message, signingKeys: privateKey, detached: true, format: 'armored' } as openpgp.SignOptions & { format: 'armored'; detached: true });
  return formatEnvelope({ payload, signatures: [signature as string] });
}

async function eccKey(name: string, options: { date: Date; keyExpirationTime?: number }): Promise<openpgp.PrivateKey> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name, email: `${name}@operators.example` }],
    format: 'object',
    config: { v6Keys: false },
    ...options,
  });
  return privateKey;
}

t.test('rule 3b, key validity is judged at the box clock, not at a time the signer chooses', async (t) => {
  t.test('a fresh envelope signed by a key that expired in 2019, with the signature back-dated to when it was valid, is refused as key-expired', async (t) => {
    // given a pinned key that expired on 2019-07-01
    const expired = await eccKey('expired', { date: new Date('2019-06-01T00:00:00Z'), keyExpirationTime: 30 * 24 * 3600 });
    const trust = await createTrustStore([expired.toPublic().armor()]);
    // when its holder signs a fresh envelope with a signature dated inside the key's lifetime
    const text = await signedWith(expired, { date: new Date('2019-06-15T00:00:00Z') });
    // then the box, judging the key at its own clock, refuses it
    const error = await refuses(t, verifyEnvelope(text, await verifyOptions({ trust })), KeyExpiredError, 'key-expired');
    t.equal(error.code, 'EKEY_EXPIRED');
    t.match(error.message, /expired at 2019-07-01/);
  });

  t.test('a key that expires after the box clock still signs', async (t) => {
    const lasting = await eccKey('lasting', { date: new Date('2026-01-01T00:00:00Z'), keyExpirationTime: 365 * 24 * 3600 });
    const text = await signedWith(lasting, { date: new Date('2026-05-01T00:00:00Z') });
    const verified = await verifyEnvelope(text, await verifyOptions({ trust: await createTrustStore([lasting.toPublic().armor()]) }));
    t.same(verified.signers, [lasting.getFingerprint().toUpperCase()]);
    // and the same envelope is refused once the box clock passes the key's expiry
    await refuses(t, verifyEnvelope(text, await verifyOptions({ trust: await createTrustStore([lasting.toPublic().armor()]), now: new Date('2027-01-02T00:00:00Z'), clockSkewMs: 400 * 24 * 3600 * 1000 })), KeyExpiredError, 'key-expired');
  });

  t.test('a fresh envelope signed by a key revoked as retired, with the signature back-dated before the revocation, is refused as key-revoked', async (t) => {
    // given a pinned key whose revocation ("key retired", 2025-01-01) the trust store holds
    const retired = await eccKey('retired', { date: new Date('2020-01-01T00:00:00Z') });
    const { publicKey: revoked } = await openpgp.revokeKey({
      key: retired,
      reasonForRevocation: { flag: openpgp.enums.reasonForRevocation.keyRetired, string: 'retired' },
      date: new Date('2025-01-01T00:00:00Z'),
      format: 'object',
    });
    const trust = await createTrustStore([revoked.armor()]);
    // when its old holder signs a fresh envelope dated before the revocation
    const text = await signedWith(retired, { date: new Date('2024-06-01T00:00:00Z') });
    // then it is refused with its own reason, not as tampering
    const error = await refuses(t, verifyEnvelope(text, await verifyOptions({ trust })), KeyRevokedError, 'key-revoked');
    t.equal(error.code, 'EKEY_REVOKED');
  });
});

t.test('rule 3b, a key whose self-signature is dated after the box clock cannot sign yet: refused as unusable-key', async (t) => {
  const future = await eccKey('future', { date: new Date('2027-01-01T00:00:00Z') });
  const text = await signedWith(future, { date: new Date('2027-01-02T00:00:00Z') });
  const error = await refuses(t, verifyEnvelope(text, await verifyOptions({ trust: await createTrustStore([future.toPublic().armor()]) })), UnusableKeyError, 'unusable-key');
  t.equal(error.code, 'EKEY_UNUSABLE');
});

t.test('rule 3b, key strength: DSA and ElGamal keys and RSA under 2048 bits do not count', async (t) => {
  const key = (algorithm: string, bits?: number) => ({ getAlgorithmInfo: () => ({ algorithm, bits }) }) as unknown as openpgp.PublicKey;
  t.type(keyStrengthProblem(key('dsa', 3072), 'F'), WeakKeyError);
  t.type(keyStrengthProblem(key('elgamal', 4096), 'F'), WeakKeyError);
  t.type(keyStrengthProblem(key('rsaSign', 2047), 'F'), WeakKeyError);
  t.equal(keyStrengthProblem(key('rsaEncryptSign', 2048), 'F'), undefined);
  t.equal(keyStrengthProblem(key('eddsaLegacy'), 'F'), undefined);
});

t.test('rule 3a and 3b, weak signatures get their own reason', async (t) => {
  t.test('a signature by a pinned RSA-1024 key is refused as weak-key, not as tampered', async (t) => {
    const weakConfig = { minRSABits: 1024, v6Keys: false };
    const { privateKey } = await openpgp.generateKey({ type: 'rsa', rsaBits: 1024, userIDs: [{ name: 'rsa1024', email: 'rsa@operators.example' }], date: new Date('2020-01-01T00:00:00Z'), format: 'object', config: weakConfig });
    const trust = await createTrustStore([privateKey.toPublic().armor()]);
    const text = await signedWith(privateKey, { config: weakConfig });
    const error = await refuses(t, verifyEnvelope(text, await verifyOptions({ trust })), WeakKeyError, 'weak-key');
    t.equal(error.code, 'EWEAK_KEY');
    t.match(error.message, /RSA-1024/);
  });

  t.test('a signature carrying a critical notation the box does not know is refused as critical-notation', async (t) => {
    const alice = await testKey('alice');
    const notation = { name: 'policy@operators.example', value: new TextEncoder().encode('only on tuesdays'), humanReadable: true, critical: true };
    const text = await signedWith(alice.privateKey, { signatureNotations: [notation] });
    const error = await refuses(t, verifyEnvelope(text, await verifyOptions()), CriticalNotationError, 'critical-notation');
    t.equal(error.code, 'ECRITICAL_NOTATION');
    t.match(error.message, /policy@operators\.example/);
  });

  t.test('a GnuPG signature made with SHA-1 by a pinned key is refused as weak-hash', async (t) => {
    const gnupg = await gnupgHome();
    t.teardown(() => gnupg.close());
    await gnupg.gpg('--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'SHA One <sha1@operators.example>', 'rsa2048', 'sign', 'never');
    const { stdout: publicArmored } = await gnupg.gpg('--armor', '--export', 'sha1@operators.example');
    const payload = document(await signed([await testKey('alice')])).payload;
    const payloadFile = await gnupg.file('payload.json', payload);
    await gnupg.gpg('--local-user', 'sha1@operators.example', '--digest-algo', 'SHA1', '--detach-sign', '--armor', '--output', `${payloadFile}.asc`, payloadFile);
    const { stdout: packets } = await gnupg.gpg('--list-packets', `${payloadFile}.asc`);
    t.match(packets, /digest algo 2,/, 'GnuPG made a SHA-1 signature');
    const text = formatEnvelope({ payload, signatures: [await readFile(`${payloadFile}.asc`, 'utf8')] });
    const trust = await createTrustStore([publicArmored]);
    const error = await refuses(t, verifyEnvelope(text, await verifyOptions({ trust })), WeakHashError, 'weak-hash');
    t.equal(error.code, 'EWEAK_HASH');
    t.match(error.message, /SHA1/);
  });
});

t.test('rules 6 to 8, addressing', async (t) => {
  const alice = await testKey('alice');
  t.test('an envelope for another box is refused', async (t) => {
    const text = await signed([alice], { box: 'box-2' });
    await refuses(t, verifyEnvelope(text, await verifyOptions()), WrongBoxError, 'wrong-box');
  });
  t.test('an envelope for another tier of this box is refused', async (t) => {
    const text = await signed([alice], { tier: 'guest' });
    await refuses(t, verifyEnvelope(text, await verifyOptions()), WrongTierError, 'wrong-tier');
  });
  t.test('a job where a spec is expected is refused', async (t) => {
    const text = await signed([alice]);
    await refuses(t, verifyEnvelope(text, await verifyOptions({ type: 'spec' })), WrongTypeError, 'wrong-type');
  });
});

t.test('rules 9 and 10, freshness by serial', async (t) => {
  const alice = await testKey('alice');
  t.test('the serial last applied again is a replay', async (t) => {
    const text = await signed([alice], { serial: 9 });
    await refuses(t, verifyEnvelope(text, await verifyOptions()), ReplayError, 'replay');
  });
  t.test('a lower serial is a rollback', async (t) => {
    const text = await signed([alice], { serial: 3 });
    await refuses(t, verifyEnvelope(text, await verifyOptions()), RollbackError, 'rollback');
  });
});

t.test('rules 11 and 12, freshness by time', async (t) => {
  const alice = await testKey('alice');
  const issuedAt = new Date(NOW.getTime() - 48 * 60 * MINUTE);
  t.test('an expired envelope is refused (a frozen hub)', async (t) => {
    const text = await signed([alice], { issuedAt, expiresAt: new Date(NOW.getTime() - 6 * MINUTE) });
    await refuses(t, verifyEnvelope(text, await verifyOptions()), ExpiredError, 'expired');
  });
  t.test('an envelope expired by less than the clock-skew allowance is accepted', async (t) => {
    const text = await signed([alice], { issuedAt, expiresAt: new Date(NOW.getTime() - 4 * MINUTE) });
    t.equal((await verifyEnvelope(text, await verifyOptions())).header.serial, 10);
  });
  t.test('an envelope issued in the future is refused', async (t) => {
    const text = await signed([alice], { issuedAt: new Date(NOW.getTime() + 6 * MINUTE) });
    await refuses(t, verifyEnvelope(text, await verifyOptions()), NotYetValidError, 'not-yet-valid');
  });
  t.test('an envelope issued less than the clock-skew allowance ahead is accepted', async (t) => {
    const text = await signed([alice], { issuedAt: new Date(NOW.getTime() + 4 * MINUTE) });
    t.equal((await verifyEnvelope(text, await verifyOptions())).header.serial, 10);
  });
  t.test('the allowance is configurable', async (t) => {
    const text = await signed([alice], { issuedAt: new Date(NOW.getTime() + 4 * MINUTE) });
    await refuses(t, verifyEnvelope(text, await verifyOptions({ clockSkewMs: MINUTE })), NotYetValidError, 'not-yet-valid');
  });
});

t.test('rule 13, invalid body', async (t) => {
  const alice = await testKey('alice');
  t.test('a job with an unknown action is refused naming the field', async (t) => {
    const payload = canonicalPayload({ ...(JSON.parse(document(await signed([alice])).payload) as EnvelopeHeader), body: { action: 'format-disk' } });
    const envelope = formatEnvelope({ payload, signatures: [await signText(payload, alice)] });
    const error = await refuses(t, verifyEnvelope(envelope, await verifyOptions()), InvalidBodyError, 'invalid-body');
    t.match(error.message, /body\.action/);
  });
  t.test('the injected body validator is consulted and its problems reported', async (t) => {
    const text = await signed([alice], { type: 'spec', body: { apiVersion: 'felhom.dev/v1alpha1', metadata: { box: 'box-1' } } });
    const seen: unknown[] = [];
    const validateBody = (body: unknown, type: string) => {
      seen.push([body, type]);
      return ['spec.host: required'];
    };
    const error = await refuses(t, verifyEnvelope(text, await verifyOptions({ validateBody })), InvalidBodyError, 'invalid-body');
    t.same(error.details, ['spec.host: required']);
    t.same(seen, [[{ apiVersion: 'felhom.dev/v1alpha1', metadata: { box: 'box-1' } }, 'spec']]);
  });
  t.test('a spec whose metadata names another box is refused', async (t) => {
    const payload = canonicalPayload({ ...(JSON.parse(document(await signed([alice])).payload) as EnvelopeHeader), type: 'spec', body: { metadata: { box: 'box-2' } } });
    const envelope = formatEnvelope({ payload, signatures: [await signText(payload, alice)] });
    await refuses(t, verifyEnvelope(envelope, await verifyOptions()), InvalidBodyError, 'invalid-body');
  });
});

t.test('the checks run in the documented order: signatures before addressing before freshness before the body', async (t) => {
  const [alice, mallory] = await testKeys('alice', 'mallory');
  const everythingWrong = { box: 'box-2', tier: 'guest' as const, serial: 1, body: { action: 'apply', extra: true } };
  await refuses(t, verifyEnvelope(await signed([mallory], everythingWrong), await verifyOptions()), UnknownKeyError, 'unknown-key');
  await refuses(t, verifyEnvelope(await signed([alice], everythingWrong), await verifyOptions()), WrongBoxError, 'wrong-box');
  await refuses(t, verifyEnvelope(await signed([alice], { ...everythingWrong, box: 'box-1' }), await verifyOptions()), WrongTierError, 'wrong-tier');
  const stale = { serial: 1, issuedAt: new Date('2020-01-02T00:00:00Z'), expiresAt: new Date('2020-01-03T00:00:00Z') };
  await refuses(t, verifyEnvelope(await signed([alice], stale), await verifyOptions()), RollbackError, 'rollback');
});

t.test('any single-byte change anywhere in the payload is refused', async (t) => {
  const alice = await testKey('alice');
  const options = await verifyOptions();
  // A small body keeps the loop fast; every position is still tried.
  const text = await signed([alice], { body: { action: 'refresh' } });
  const { payload, signatures } = document(text);
  let refused = 0;
  for (let index = 0; index < payload.length; index++) {
    const changed = payload.slice(0, index) + String.fromCharCode(payload.charCodeAt(index) ^ 0x01) + payload.slice(index + 1);
    const error = await verifyEnvelope(formatEnvelope({ payload: changed, signatures }), options).then(() => undefined, (e: unknown) => e);
    if (error instanceof TamperedError) refused++;
    else t.fail(`a change at payload position ${index} was not refused as tampered: ${String(error)}`);
  }
  t.equal(refused, payload.length, `all ${payload.length} positions refused`);
});

t.test('any single-character change in the signature body is refused', async (t) => {
  const alice = await testKey('alice');
  const options = await verifyOptions();
  const text = await signed([alice], { body: { action: 'refresh' } });
  const { payload, signatures } = document(text);
  const lines = signatures[0]!.split('\n');
  const start = lines.indexOf('') + 1;
  const end = lines.findIndex((line, index) => index >= start && (line.startsWith('=') || line.startsWith('-----END')));
  const body = lines.slice(start, end).join('');
  const decoded = Buffer.from(body, 'base64');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let refused = 0;
  for (let index = 0; index < body.length; index++) {
    if (body[index] === '=') continue;
    // Pick a replacement that changes the decoded bytes (some flips only touch padding bits).
    const replacement = [...alphabet].find((char) => char !== body[index] && !Buffer.from(body.slice(0, index) + char + body.slice(index + 1), 'base64').equals(decoded))!;
    const changedBody = body.slice(0, index) + replacement + body.slice(index + 1);
    const armoured = [...lines.slice(0, start), ...changedBody.match(/.{1,64}/g)!, ...lines.slice(end)].join('\n');
    const error = await verifyEnvelope(formatEnvelope({ payload, signatures: [armoured] }), options).then(() => undefined, (e: unknown) => e);
    if (error instanceof EnvelopeError) refused++;
    else t.fail(`a change at signature position ${index} was accepted`);
  }
  t.equal(refused, body.replace(/=/g, '').length, `all ${refused} positions refused`);
});

t.test('verification is pure: the same envelope verifies again with the same options', async (t) => {
  const text = await signed([await testKey('alice')]);
  const options = await verifyOptions();
  const first = await verifyEnvelope(text, options);
  const second = await verifyEnvelope(text, options);
  t.same(second.header, first.header);
  t.equal(second.digest, first.digest);
});

t.test('the default expiry is seven days after issue', async (t) => {
  const alice = await testKey('alice');
  const text = await signed([alice], { ...content(), expiresAt: undefined, issuedAt: NOW });
  const header = JSON.parse(document(text).payload) as EnvelopeHeader;
  t.equal(header.expiresAt, new Date(NOW.getTime() + 7 * 24 * 60 * MINUTE).toISOString());
});

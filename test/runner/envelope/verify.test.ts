import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import * as openpgp from 'openpgp';
import {
  canonicalPayload,
  createTrustStore,
  EnvelopeError,
  ExpiredError,
  formatEnvelope,
  InvalidBodyError,
  MalformedEnvelopeError,
  NotYetValidError,
  ReplayError,
  RollbackError,
  TamperedError,
  ThresholdError,
  UnknownKeyError,
  verifyEnvelope,
  WrongBoxError,
  WrongTierError,
  WrongTypeError,
  type EnvelopeHeader,
} from '../../../runner/envelope/index.js';
import { content, document, NOW, signed, signText, verifyOptions, withDocument } from '../../helpers/envelopes.js';
import { testKey, testKeys, trustOf } from '../../helpers/keys.js';

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
  t.equal((error as EnvelopeError).exitCode, 1);
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

import t from 'tap';
import { addSignature, formatEnvelope, InvalidBodyError, MalformedEnvelopeError, signEnvelope, verifyEnvelope } from '../../../runner/envelope/index.js';
import { content, document, verifyOptions } from '../../helpers/envelopes.js';
import { testKey, testKeys, trustOf } from '../../helpers/keys.js';

t.test('a signed payload is the canonical JSON of the header', async (t) => {
  const alice = await testKey('alice');
  const envelope = await signEnvelope(content({ body: { b: 1, a: [2, 'x'], action: 'apply' } }), alice.privateKey);
  t.match(envelope.payload, /^\{"body":\{"a":\[2,"x"\],"action":"apply","b":1\},"box":"box-1","expiresAt":"[^"]+","format":"felhom-envelope\/v1","issuedAt":"[^"]+","serial":10,"tier":"host","type":"job"\}$/);
  t.equal(envelope.signatures.length, 1);
});

t.test('signing refuses content no box would accept', async (t) => {
  const alice = await testKey('alice');
  await t.rejects(signEnvelope(content({ serial: 0 }), alice.privateKey), MalformedEnvelopeError);
  await t.rejects(signEnvelope(content({ body: { action: 'format-disk' } }), alice.privateKey), InvalidBodyError);
  await t.rejects(signEnvelope(content({ expiresAt: new Date('2000-01-01T00:00:00Z') }), alice.privateKey), { reason: 'malformed', message: /expiresAt/ });
});

t.test('addSignature adds a second operator without changing the payload, and skips a key that already signed', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const first = await signEnvelope(content(), alice.privateKey);
  const second = await addSignature(formatEnvelope(first), [bob.privateKey, alice.privateKey]);
  t.equal(second.payload, first.payload);
  t.equal(second.signatures.length, 2);
  t.equal(second.signatures[0], first.signatures[0]);
  const verified = await verifyEnvelope(formatEnvelope(second), await verifyOptions({ trust: await trustOf(['alice', 'bob'], 2) }));
  t.same(verified.signers, [alice.fingerprint, bob.fingerprint].sort());
  const again = await addSignature(second, bob.privateKey);
  t.equal(again.signatures.length, 2);
});

t.test('addSignature refuses an envelope whose payload is not a header', async (t) => {
  const alice = await testKey('alice');
  const envelope = await signEnvelope(content(), alice.privateKey);
  const broken = { ...envelope, payload: '{"hello":"world"}' };
  await t.rejects(addSignature(broken, alice.privateKey), MalformedEnvelopeError);
  t.equal(document(formatEnvelope(envelope)).payload, envelope.payload);
});

/** The enrollment configuration's body rules and the box's checks before pinning, without a hub. */
import t from 'tap';
import { enrollmentCodeDigest, newEnrollmentCode } from '../../../runner/enrollment/code.js';
import { ENROLLMENT_KIND, enrollmentBodyProblems, signEnrollmentConfig, verifyEnrollmentConfig } from '../../../runner/enrollment/config.js';
import { signEnvelope, formatEnvelope } from '../../../runner/envelope/index.js';
import { testKey, trustOf } from '../../helpers/keys.js';

t.test('body problems name the field', async (t) => {
  const alice = await testKey('alice');
  const good = { kind: ENROLLMENT_KIND, codeDigest: 'a'.repeat(64), trust: { threshold: 1, keys: [alice.publicArmored] } };
  t.same(enrollmentBodyProblems(good, 'spec'), []);
  t.same(enrollmentBodyProblems('x', 'spec'), ['body: expected an object']);
  t.match(enrollmentBodyProblems({ ...good, kind: 'box-spec' }, 'spec'), [/^body.kind: expected/]);
  t.match(enrollmentBodyProblems({ ...good, codeDigest: 'nope' }, 'spec'), [/^body.codeDigest:/]);
  t.match(enrollmentBodyProblems({ ...good, trust: 'all of them' }, 'spec'), [/^body.trust: expected/]);
  t.match(enrollmentBodyProblems({ ...good, trust: { threshold: 0, keys: [] } }, 'spec'), [/^body.trust.keys:/, /^body.trust.threshold:/]);
  t.match(enrollmentBodyProblems({ ...good, extra: 1 }, 'spec'), [/unexpected field "extra"/]);
});

t.test('the box refuses what is not a configuration, an expired one, a short trust root, and a box spec signed by the trust root', async (t) => {
  const alice = await testKey('alice');
  const { code, trustRoot } = newEnrollmentCode('box-1', alice.fingerprint);
  const codeDigest = enrollmentCodeDigest(code);
  await t.rejects(verifyEnrollmentConfig('{"payload":"x","signatures":["-----BEGIN PGP SIGNATURE-----\\n\\nx\\n-----END PGP SIGNATURE-----\\n"]}', { box: 'box-1', codeDigest, trustRoot }), { code: 'EENROLL_UNTRUSTED', message: /is not one/ });
  await t.rejects(verifyEnrollmentConfig('', { box: 'box-1', codeDigest, trustRoot: 'ABCD' }), { code: 'EENROLL_CODE', kind: 'usage' });
  const trust = await trustOf(['alice']);
  const issuedAt = new Date('2026-01-01T00:00:00Z');
  const envelope = await signEnrollmentConfig({ box: 'box-1', code, trust, signingKeys: [alice.privateKey], codeExpiresAt: new Date('2026-01-02T00:00:00Z'), issuedAt });
  const verified = await verifyEnrollmentConfig(envelope, { box: 'box-1', codeDigest, trustRoot, now: new Date('2026-01-05T00:00:00Z') });
  t.equal(verified.rootFingerprint, alice.fingerprint, 'valid within the grace after the code expired');
  await t.rejects(verifyEnrollmentConfig(envelope, { box: 'box-1', codeDigest, trustRoot, now: new Date('2026-01-10T00:00:00Z') }), { code: 'EENROLL_UNTRUSTED', message: /EEXPIRED|expired/ });
  await t.rejects(verifyEnrollmentConfig(envelope, { box: 'box-2', codeDigest, trustRoot, now: issuedAt }), { code: 'EENROLL_UNTRUSTED', message: /box-2/ }, 'a configuration for another box');
  // A host spec alice signed is not a configuration, even with a trust list in it.
  const spec = formatEnvelope(await signEnvelope({ type: 'spec', box: 'box-1', tier: 'host', serial: 1, body: { metadata: { box: 'box-1' }, trust: { threshold: 1, keys: [alice.publicArmored] } } }, alice.privateKey));
  await t.rejects(verifyEnrollmentConfig(spec, { box: 'box-1', codeDigest, trustRoot }), { code: 'EENROLL_UNTRUSTED', message: /body.kind/ });
});

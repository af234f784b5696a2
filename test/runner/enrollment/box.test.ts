/**
 * The box's side of enrollment against the real hub server: single use, expiry, regenerate, a
 * fetch whose answer is lost, a later failure, a hub that swaps the operator keys, guessing.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { startHub } from '../../../hub/server.js';
import { HubClient } from '../../../runner/hub/client.js';
import { enrollBox } from '../../../runner/enrollment/box.js';
import { newEnrollmentCode, parseEnrollmentCode } from '../../../runner/enrollment/code.js';
import { signEnrollmentConfig } from '../../../runner/enrollment/config.js';
import { loadTrustStore, parseEnvelope, formatEnvelope } from '../../../runner/envelope/index.js';
import { readPrivateKey } from '../../../runner/envelope/keys.js';
import { issueCode, tempDir } from '../../helpers/enrollment.js';
import { startFlakyProxy } from '../../helpers/flaky-proxy.js';
import { OPERATOR_TOKEN, startTestHub } from '../../helpers/hub.js';
import { testKey, testKeys, trustOf } from '../../helpers/keys.js';

const exists = (file: string) => stat(file).then(() => true, () => false);
/** A fresh empty directory per call (t.testdir() is one per test, emptied on each call). */
const freshDir = tempDir;

t.test('a code enrolls a box: its own key and credential, the operator keys pinned, the hub told', async (t) => {
  const { hub, operator } = await startTestHub(t);
  const { code } = await issueCode(operator, 'box-1', { signers: ['alice'], pin: ['alice', 'bob'] });
  const state = freshDir(t);
  const stages: string[] = [];
  const result = await enrollBox({ hubUrl: hub.url, code, stateDir: state, onStage: (stage) => stages.push(stage) });
  t.same(stages, ['generated', 'redeemed', 'pinned', 'completed']);
  const [alice, bob] = await testKeys('alice', 'bob');
  t.match(result, { box: 'box-1', alreadyEnrolled: false, resumed: false, threshold: 1, trustStore: join(state, 'trust.json') });
  t.same([...result.operatorFingerprints].sort(), [alice!.fingerprint, bob!.fingerprint].sort());
  const trust = await loadTrustStore(join(state, 'trust.json'));
  t.same(trust.keys.map((key) => key.fingerprint).sort(), [alice!.fingerprint, bob!.fingerprint].sort());
  for (const file of ['keys/hub-api-key', 'keys/agent.key.asc', 'keys/agent.key.passphrase']) t.equal((await stat(join(state, file))).mode & 0o777, 0o600, `${file} is 0600`);
  const apiKey = (await readFile(join(state, 'keys/hub-api-key'), 'utf8')).trim();
  t.same(await new HubClient({ url: hub.url, token: apiKey }).fetchSpec('box-1', 'host'), { status: 'none' }, 'the credential the box made works at the hub');
  const passphrase = (await readFile(join(state, 'keys/agent.key.passphrase'), 'utf8')).trim();
  const agentKey = await readPrivateKey(await readFile(join(state, 'keys/agent.key.asc'), 'utf8'), passphrase);
  t.equal(agentKey.getFingerprint().toUpperCase(), result.agentFingerprint);
  const status = await operator.enrollmentStatus('box-1');
  t.equal(status.state, 'completed');
  t.equal(status.agentPublicKey, await readFile(join(state, 'keys/agent.pub.asc'), 'utf8'), 'the hub holds the agent public key');
  t.notOk((await readFile(join(state, 'enrollment.json'), 'utf8')).includes(code.split('.')[1]!), 'the code is not written to the state');
  const again = await enrollBox({ hubUrl: hub.url, code, stateDir: state });
  t.match(again, { alreadyEnrolled: true, resumed: true, completedAt: result.completedAt }, 'running it again is harmless');
});

t.test('a code works once: a second box (or a state directory without its credentials) is told to get a regenerated code', async (t) => {
  const { hub, operator } = await startTestHub(t);
  const { code } = await issueCode(operator, 'box-1');
  const proxy = await startFlakyProxy(t, hub.url);
  // The redemption reaches the hub and its answer is lost: the code is burned.
  proxy.rules.push({ method: 'POST', path: /\/v1\/boxes\/box-1\/enrollment$/, mode: 'lose', times: 1 });
  const lost = freshDir(t);
  await t.rejects(enrollBox({ hubUrl: proxy.url, code, stateDir: lost, hubTimeoutMs: 5000 }), { code: 'EENROLL_HUB', kind: 'waiting', fault: 'environment', message: /run the same command again/ });
  t.equal((await operator.enrollmentStatus('box-1')).state, 'redeemed', 'the hub burned the code');
  // Another state directory holds nothing from that redemption.
  const other = freshDir(t);
  await t.rejects(enrollBox({ hubUrl: hub.url, code, stateDir: other }), { code: 'EENROLL_CODE_USED', fault: 'input', message: /was already used, and not with the credentials in .*felhom hub enroll --box box-1 --regenerate/ });
  t.notOk(await exists(join(other, 'trust.json')), 'nothing pinned');
  // The same state directory resumes on the credentials it wrote before redeeming.
  const resumed = await enrollBox({ hubUrl: proxy.url, code, stateDir: lost });
  t.match(resumed, { resumed: true, alreadyEnrolled: false });
  t.equal(proxy.seen.filter((line) => line === 'POST /v1/boxes/box-1/enrollment').length, 2, 'it tried the code once more (answered: used), then used its credential');
  t.ok(proxy.seen.includes('GET /v1/boxes/box-1/enrollment/config'));
  t.equal((await operator.enrollmentStatus('box-1')).state, 'completed');
});

t.test('a later failure is retried on the durable credentials, without the code', async (t) => {
  const { hub, operator } = await startTestHub(t);
  const { code } = await issueCode(operator, 'box-1');
  const proxy = await startFlakyProxy(t, hub.url);
  proxy.rules.push({ method: 'POST', path: /\/enrollment\/complete$/, mode: 'refuse', times: 1 });
  const state = freshDir(t);
  await t.rejects(enrollBox({ hubUrl: proxy.url, code, stateDir: state }), { code: 'EENROLL_HUB', kind: 'waiting' });
  t.ok(await exists(join(state, 'trust.json')), 'the trust store was pinned before the failure');
  t.equal(JSON.parse(await readFile(join(state, 'enrollment.json'), 'utf8')).stage, 'pinned');
  const redeemed = proxy.seen.length;
  const result = await enrollBox({ hubUrl: proxy.url, code, stateDir: state });
  t.match(result, { resumed: true, box: 'box-1' });
  t.same(proxy.seen.slice(redeemed), ['POST /v1/boxes/box-1/enrollment/complete'], 'the retry only completed: no code, no second fetch');
});

t.test('a regenerated code finishes an enrollment the old one could not, with the same state directory', async (t) => {
  const { hub, operator } = await startTestHub(t);
  const first = await issueCode(operator, 'box-1');
  const proxy = await startFlakyProxy(t, hub.url);
  proxy.rules.push({ method: 'POST', path: /\/v1\/boxes\/box-1\/enrollment$/, mode: 'lose', times: 1 });
  const state = freshDir(t);
  await t.rejects(enrollBox({ hubUrl: proxy.url, code: first.code, stateDir: state, hubTimeoutMs: 5000 }), { code: 'EENROLL_HUB' });
  const second = await issueCode(operator, 'box-1', { regenerate: true });
  // The old registration was revoked by the regeneration: the retry with the old code cannot resume.
  await t.rejects(enrollBox({ hubUrl: hub.url, code: first.code, stateDir: state }), { code: 'EENROLL_CODE_INVALID', message: /replaced by a regenerated one/ });
  const result = await enrollBox({ hubUrl: hub.url, code: second.code, stateDir: state });
  t.equal(result.box, 'box-1');
  t.equal((await operator.enrollmentStatus('box-1')).state, 'completed');
  await t.rejects(issueCode(operator, 'box-1', { regenerate: true }), { code: 'EENROLL_COMPLETE' }, 'a completed box cannot be regenerated');
});

t.test('an expired code, a mistyped code and a code for another state are refused with what to do', async (t) => {
  let now = Date.now();
  const { hub, operator } = await startTestHub(t, { clock: () => new Date(now) });
  const { code } = await issueCode(operator, 'box-1', { ttlMs: 60_000, now: new Date(now) });
  const alice = await testKey('alice');
  await t.rejects(enrollBox({ hubUrl: hub.url, code: newEnrollmentCode('box-1', alice.fingerprint).code, stateDir: freshDir(t) }), { code: 'EENROLL_CODE_INVALID', message: /does not accept this code for box box-1/ });
  now += 60_000;
  await t.rejects(enrollBox({ hubUrl: hub.url, code, stateDir: freshDir(t) }), { code: 'EENROLL_CODE_EXPIRED', message: /expired unused at .*--regenerate/ });
  const state = freshDir(t);
  await mkdir(state, { recursive: true });
  await writeFile(join(state, 'enrollment.json'), JSON.stringify({ version: 1, box: 'box-2', hub: hub.url, stage: 'generated', codeDigest: 'x', trustRoot: 'y' }));
  await t.rejects(enrollBox({ hubUrl: hub.url, code, stateDir: state }), { code: 'EENROLL_STATE', message: /holds the enrollment of box box-2/ });
  const used = freshDir(t);
  await mkdir(join(used, 'keys'), { recursive: true, mode: 0o700 });
  await writeFile(join(used, 'keys', 'hub-api-key'), 'fhb_x\n', { mode: 0o600 });
  await t.rejects(enrollBox({ hubUrl: hub.url, code, stateDir: used }), { code: 'EENROLL_STATE', message: /set up another way/ });
  const broken = freshDir(t);
  await mkdir(broken, { recursive: true });
  await writeFile(join(broken, 'enrollment.json'), '{');
  await t.rejects(enrollBox({ hubUrl: hub.url, code, stateDir: broken }), { code: 'EENROLL_STATE', message: /not JSON/ });
  await t.rejects(enrollBox({ hubUrl: 'http://127.0.0.1:1', code: newEnrollmentCode('box-3', alice.fingerprint).code, stateDir: freshDir(t) }), { code: 'EENROLL_HUB', fault: 'environment' });
});

t.test('a hub that swaps the operator keys is refused before anything is pinned', async (t) => {
  const dataDir = freshDir(t);
  await mkdir(dataDir, { recursive: true });
  const first = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN });
  const operator = new HubClient({ url: first.url, token: OPERATOR_TOKEN });
  const alice = await testKey('alice');
  const mallory = await testKey('mallory');
  const cases: Record<string, (code: string, genuine: string) => Promise<string>> = {
    "mallory's keys, signed by mallory": (code) =>
      trustOf(['mallory']).then((trust) => signEnrollmentConfig({ box: 'box-1', code, trust, signingKeys: [mallory.privateKey], codeExpiresAt: new Date(Date.now() + 3600_000) })),
    "alice's and mallory's keys, signed by mallory alone": (code) =>
      trustOf(['alice', 'mallory']).then((trust) => signEnrollmentConfig({ box: 'box-1', code, trust, signingKeys: [mallory.privateKey], codeExpiresAt: new Date(Date.now() + 3600_000) })),
    "alice's signature over a payload that now lists mallory": async (_code, genuine) => {
      const document = parseEnvelope(genuine);
      const payload = JSON.parse(document.payload);
      payload.body.trust.keys = [mallory.publicArmored];
      const { default: canonicalize } = await import('canonicalize');
      return formatEnvelope({ payload: canonicalize(payload)!, signatures: document.signatures });
    },
    'a configuration alice signed for another code': async () => {
      const other = newEnrollmentCode('box-1', alice.fingerprint).code;
      return trustOf(['alice']).then((trust) => signEnrollmentConfig({ box: 'box-1', code: other, trust, signingKeys: [alice.privateKey], codeExpiresAt: new Date(Date.now() + 3600_000) }));
    },
  };
  let hub = first;
  t.teardown(() => hub.close());
  let index = 0;
  for (const [name, forge] of Object.entries(cases)) {
    const box = 'box-1';
    const issued = await issueCode(new HubClient({ url: hub.url, token: OPERATOR_TOKEN }), box, { regenerate: index++ > 0 });
    // The hub's storage is rewritten while it is down: the hub now serves what it chose.
    await hub.close();
    const file = join(dataDir, 'hub.json');
    const data = JSON.parse(await readFile(file, 'utf8'));
    data.enrollments[box].envelope = await forge(issued.code, issued.envelope);
    await writeFile(file, JSON.stringify(data));
    hub = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN });
    const state = freshDir(t);
    await t.rejects(enrollBox({ hubUrl: hub.url, code: issued.code, stateDir: state }), { code: 'EENROLL_UNTRUSTED', message: /nothing was pinned/ }, name);
    t.notOk(await exists(join(state, 'trust.json')), `${name}: no trust store written`);
    t.equal(JSON.parse(await readFile(join(state, 'enrollment.json'), 'utf8')).stage, 'redeemed', `${name}: the enrollment stopped before pinning`);
  }
  t.ok(operator);
});

t.test('credentials revoked by a regeneration while the box is stopped before pinning: the retry says to use the new code', async (t) => {
  const dataDir = freshDir(t);
  let hub = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN });
  t.teardown(() => hub.close());
  const operator = () => new HubClient({ url: hub.url, token: OPERATOR_TOKEN });
  const mallory = await testKey('mallory');
  const issued = await issueCode(operator(), 'box-1');
  await hub.close();
  const file = join(dataDir, 'hub.json');
  const data = JSON.parse(await readFile(file, 'utf8'));
  data.enrollments['box-1'].envelope = await trustOf(['mallory']).then((trust) => signEnrollmentConfig({ box: 'box-1', code: issued.code, trust, signingKeys: [mallory.privateKey], codeExpiresAt: new Date(Date.now() + 3600_000) }));
  await writeFile(file, JSON.stringify(data));
  hub = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN });
  const state = freshDir(t);
  await t.rejects(enrollBox({ hubUrl: hub.url, code: issued.code, stateDir: state }), { code: 'EENROLL_UNTRUSTED' });
  const second = await issueCode(operator(), 'box-1', { regenerate: true });
  await t.rejects(enrollBox({ hubUrl: hub.url, code: issued.code, stateDir: state }), { code: 'EENROLL_REVOKED', message: /run this command with the new code/ });
  const result = await enrollBox({ hubUrl: hub.url, code: second.code, stateDir: state });
  t.equal(result.box, 'box-1', 'the new code finishes with the same state directory');
});

t.test('a trust root given besides the code must agree with it', async (t) => {
  const { hub, operator } = await startTestHub(t);
  const { code } = await issueCode(operator, 'box-1');
  const alice = await testKey('alice');
  const bob = await testKey('bob');
  const state = freshDir(t);
  await t.rejects(enrollBox({ hubUrl: hub.url, code, stateDir: state, trustRoot: bob.fingerprint }), { code: 'EENROLL_UNTRUSTED', message: /nothing was contacted or pinned/ });
  t.equal((await operator.enrollmentStatus('box-1')).state, 'pending', 'the hub was not contacted: the code still works');
  await t.rejects(enrollBox({ hubUrl: hub.url, code, stateDir: state, trustRoot: 'ABC' }), { code: 'EENROLL_CODE', kind: 'usage' });
  const result = await enrollBox({ hubUrl: hub.url, code, stateDir: state, trustRoot: alice.fingerprint });
  t.same(result.operatorFingerprints, [alice.fingerprint]);
});

t.test('codes: parsed as typed, refused naming the part that is wrong', async (t) => {
  const alice = await testKey('alice');
  const { code, trustRoot } = newEnrollmentCode('box-1', alice.fingerprint);
  t.match(code, /^box-1\.[a-z2-7]{4}(-[a-z2-7]{4}){5}\.[0-9A-F]{32}$/);
  t.equal(trustRoot, alice.fingerprint.slice(0, 32));
  t.same(parseEnrollmentCode(`  ${code.toUpperCase()}\n`), { box: 'box-1', code, trustRoot });
  t.throws(() => parseEnrollmentCode('box-1.abcd'), { code: 'EENROLL_CODE', kind: 'usage', message: /three parts/ });
  t.throws(() => parseEnrollmentCode(code.replace('box-1', 'Box_1')), { message: /is not a box id/ });
  t.throws(() => parseEnrollmentCode(code.replace(/\.[a-z2-7]{4}-/, '.abc1-')), { message: /secret part/ });
  t.throws(() => parseEnrollmentCode(`${code.slice(0, -1)}`), { message: /trust root is not 32 hex digits/ });
  t.throws(() => newEnrollmentCode('Bad', alice.fingerprint), { code: 'EENROLL_CODE' });
  t.throws(() => newEnrollmentCode('box-1', 'ABCD'), { code: 'EENROLL_CODE' });
});

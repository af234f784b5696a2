import t from 'tap';
import { HubClient } from '../../runner/hub/client.js';
import { felhom } from '../helpers/cli.js';
import { OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';
import { join } from 'node:path';
import { tempDir } from '../helpers/enrollment.js';
import { TEST_PASSPHRASE, testKey, writeKeyFiles } from '../helpers/keys.js';

t.test('hub enroll prints the new API key once, and the key works for that box', async (t) => {
  const { hub } = await startTestHub(t);
  const result = await felhom(['hub', 'enroll', '--box', 'box-1', '--hub', hub.url], { env: { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN } });
  t.equal(result.code, 0, result.stderr);
  const apiKey = result.stdout.trim().split('\n').at(-1)!;
  t.match(apiKey, /^fhb_/);
  t.same(await new HubClient({ url: hub.url, token: apiKey }).fetchSpec('box-1', 'host'), { status: 'none' });
});

t.test('hub enroll --json prints the enrollment as JSON', async (t) => {
  const { hub } = await startTestHub(t);
  const result = await felhom(['hub', 'enroll', '--box', 'box-2', '--hub', hub.url, '--operator-token', OPERATOR_TOKEN, '--json']);
  t.equal(result.code, 0);
  t.match(JSON.parse(result.stdout), { box: 'box-2', apiKey: /^fhb_/ });
});

t.test('hub enroll of an enrolled box is refused with the hub reason and exit 1', async (t) => {
  const { hub, operator } = await startTestHub(t);
  await operator.enrollBox('box-1');
  const result = await felhom(['hub', 'enroll', '--box', 'box-1', '--hub', hub.url, '--operator-token', OPERATOR_TOKEN]);
  t.equal(result.code, 1);
  t.match(result.stderr, 'felhom: EBOX_EXISTS:');
});

t.test('hub enroll with a wrong token is an auth error', async (t) => {
  const { hub } = await startTestHub(t);
  const result = await felhom(['hub', 'enroll', '--box', 'box-1', '--hub', hub.url, '--operator-token', 'wrong']);
  t.equal(result.code, 1);
  t.match(result.stderr, 'felhom: EHUB_AUTH: hub answered 401 EAUTH_INVALID');
});

t.test('hub enroll without a hub or a token is a usage error', async (t) => {
  const noHub = await felhom(['hub', 'enroll', '--box', 'box-1'], { env: { FELHOM_HUB_URL: '', FELHOM_HUB_OPERATOR_TOKEN: 'x' } });
  t.equal(noHub.code, 2);
  t.match(noHub.stderr, 'EUSAGE: which hub?');
  const noToken = await felhom(['hub', 'enroll', '--box', 'box-1', '--hub', 'http://127.0.0.1:1'], { env: { FELHOM_HUB_OPERATOR_TOKEN: '' } });
  t.equal(noToken.code, 2);
  t.match(noToken.stderr, 'EUSAGE: no operator token');
});

t.test('hub enroll against an unreachable hub exits 3', async (t) => {
  const result = await felhom(['hub', 'enroll', '--box', 'box-1', '--hub', 'http://127.0.0.1:1', '--operator-token', 'x']);
  t.equal(result.code, 3);
  t.match(result.stderr, 'felhom: EHUB_UNAVAILABLE:');
});

t.test('hub enroll --rotate issues a new key once; the old key stops working at once', async (t) => {
  const { hub, operator } = await startTestHub(t);
  const { apiKey: oldKey } = await operator.enrollBox('box-1');
  const result = await felhom(['hub', 'enroll', '--box', 'box-1', '--rotate', '--hub', hub.url, '--operator-token', OPERATOR_TOKEN]);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /^box box-1: new API key issued at .*; the old key no longer works$/m);
  const newKey = result.stdout.trim().split('\n').at(-1)!;
  t.match(newKey, /^fhb_/);
  t.not(newKey, oldKey);
  t.same(await new HubClient({ url: hub.url, token: newKey }).fetchSpec('box-1', 'host'), { status: 'none' }, 'the new key works');
  await t.rejects(new HubClient({ url: hub.url, token: oldKey }).fetchSpec('box-1', 'host'), { code: 'EHUB_AUTH' }, 'the old key is refused');
  t.same((await operator.listBoxes()).boxes.map((box) => box.box), ['box-1'], 'still one box, same enrollment');
});

t.test('hub enroll --rotate of a box that is not enrolled is refused with 404', async (t) => {
  const { hub } = await startTestHub(t);
  const result = await felhom(['hub', 'enroll', '--box', 'box-9', '--rotate', '--hub', hub.url, '--operator-token', OPERATOR_TOKEN, '--json']);
  t.equal(result.code, 1);
  t.match(result.stderr, /felhom: EBOX_UNKNOWN: .*box box-9 is not enrolled/);
});

t.test('a rotated key survives a hub restart', async (t) => {
  const { hub, operator, dataDir } = await startTestHub(t);
  await operator.enrollBox('box-1');
  const { apiKey } = await operator.rotateBoxKey('box-1');
  await hub.close();
  const { startHub } = await import('../../hub/server.js');
  const again = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN });
  t.teardown(() => again.close());
  t.same(await new HubClient({ url: again.url, token: apiKey }).fetchSpec('box-1', 'host'), { status: 'none' });
});

t.test('hub enroll --key prints a one-time code; agent enroll on the box redeems it', async (t) => {
  const { hub, operator } = await startTestHub(t);
  const keys = await writeKeyFiles(['alice']);
  const env = { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN, FELHOM_KEY_PASSPHRASE: TEST_PASSPHRASE };
  const dir = tempDir(t);
  const result = await felhom(['hub', 'enroll', '--box', 'box-1', '--key', join(keys, 'alice.key.asc'), '--ttl', '2h', '--hub', hub.url], { env });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /^box box-1: enrolled with a one-time code; it expires unused at /);
  const code = result.stdout.trim().split('\n').at(-1)!;
  const alice = await testKey('alice');
  t.match(code, new RegExp(`^box-1\\.[a-z2-7-]{29}\\.${alice.fingerprint.slice(0, 32)}$`), 'the code carries the trust root');
  const status = await operator.enrollmentStatus('box-1');
  t.equal(status.state, 'pending');
  t.ok(Math.abs(Date.parse(status.expiresAt) - Date.parse(status.issuedAt) - 2 * 3600_000) < 60_000, 'expires after the TTL');
  const state = join(dir, 'state');
  const box = await felhom(['agent', 'enroll', '--hub', hub.url, '--code', code, '--state', state]);
  t.equal(box.code, 0, box.stderr);
  t.match(box.stdout, /^box box-1 enrolled at /);
  t.match(box.stdout, new RegExp(`pinned 1 operator key\\(s\\), threshold 1, in .*trust.json:\\n  ${alice.fingerprint}`));
  t.match(box.stdout, /next: felhom agent run --hub .* --box box-1 --tier host --state .* --trust .*trust\.json/);
  t.match(box.stderr, /enrollment: generated\n.*enrollment: redeemed\n.*enrollment: pinned\n.*enrollment: completed/);
  const again = await felhom(['agent', 'enroll', '--hub', hub.url, '--state', state, '--json'], { env: { FELHOM_ENROLL_CODE: code } });
  t.equal(again.code, 0, again.stderr);
  t.match(JSON.parse(again.stdout), { box: 'box-1', alreadyEnrolled: true });
  const second = await felhom(['agent', 'enroll', '--hub', hub.url, '--code', code, '--state', join(dir, 'other')]);
  t.equal(second.code, 1);
  t.match(second.stderr, /felhom: EENROLL_CODE_USED: .*--regenerate/);
});

t.test('hub enroll --key --json, --regenerate, --trust and the usage errors', async (t) => {
  const { hub, operator } = await startTestHub(t);
  const keys = await writeKeyFiles(['alice', 'bob']);
  const env = { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN, FELHOM_KEY_PASSPHRASE: TEST_PASSPHRASE };
  const dir = tempDir(t);
  const store = join(dir, 'trust.json');
  t.equal((await felhom(['trust', 'init', '--public-key', join(keys, 'alice.pub.asc'), '--public-key', join(keys, 'bob.pub.asc'), '--out', store])).code, 0);
  const first = await felhom(['hub', 'enroll', '--box', 'box-1', '--key', join(keys, 'alice.key.asc'), '--trust', store, '--hub', hub.url, '--json'], { env });
  t.equal(first.code, 0, first.stderr);
  const issued = JSON.parse(first.stdout);
  t.same(Object.keys(issued).sort(), ['box', 'code', 'expiresAt']);
  const again = await felhom(['hub', 'enroll', '--box', 'box-1', '--key', join(keys, 'alice.key.asc'), '--hub', hub.url], { env });
  t.equal(again.code, 1);
  t.match(again.stderr, 'felhom: EBOX_EXISTS:');
  const regenerated = await felhom(['hub', 'enroll', '--box', 'box-1', '--key', join(keys, 'alice.key.asc'), '--trust', store, '--regenerate', '--hub', hub.url], { env });
  t.equal(regenerated.code, 0, regenerated.stderr);
  t.match(regenerated.stdout, /a new one-time code replaces the old one/);
  const code = regenerated.stdout.trim().split('\n').at(-1)!;
  t.not(code, issued.code);
  const state = join(dir, 'state');
  const box = await felhom(['agent', 'enroll', '--hub', hub.url, '--code', issued.code, '--state', state]);
  t.equal(box.code, 1, 'the replaced code no longer works');
  t.match(box.stderr, /EENROLL_CODE_INVALID/);
  const ok = await felhom(['agent', 'enroll', '--hub', hub.url, '--code', code, '--state', state, '--json']);
  t.equal(ok.code, 0, ok.stderr);
  t.equal(JSON.parse(ok.stdout).operatorFingerprints.length, 2, 'the box pinned the trust store the operator named');
  t.equal((await operator.enrollmentStatus('box-1')).state, 'completed');

  const notPinned = await felhom(['hub', 'enroll', '--box', 'box-2', '--key', join(keys, 'bob.key.asc'), '--trust', join(keys, '..', 'missing.json'), '--hub', hub.url], { env });
  t.equal(notPinned.code, 3, 'an unreadable trust store is a failure outside the input');
  t.match(notPinned.stderr, /ETRUST: cannot read trust store/);
  const bobStore = join(dir, 'alice-only.json');
  await felhom(['trust', 'init', '--public-key', join(keys, 'alice.pub.asc'), '--out', bobStore]);
  const wrongRoot = await felhom(['hub', 'enroll', '--box', 'box-2', '--key', join(keys, 'bob.key.asc'), '--trust', bobStore, '--hub', hub.url], { env });
  t.equal(wrongRoot.code, 2);
  t.match(wrongRoot.stderr, /--key: .* is not in the trust store/);
  const noKey = await felhom(['hub', 'enroll', '--box', 'box-2', '--regenerate', '--hub', hub.url], { env });
  t.equal(noKey.code, 2);
  t.match(noKey.stderr, /--key <private.asc>: a one-time code needs/);
  const badTtl = await felhom(['hub', 'enroll', '--box', 'box-2', '--key', join(keys, 'alice.key.asc'), '--ttl', '31d', '--hub', hub.url], { env });
  t.equal(badTtl.code, 2);
  t.match(badTtl.stderr, /--ttl: at most 30d/);
  const rotate = await felhom(['hub', 'enroll', '--box', 'box-2', '--key', join(keys, 'alice.key.asc'), '--rotate', '--hub', hub.url], { env });
  t.equal(rotate.code, 2);
  const noCode = await felhom(['agent', 'enroll', '--hub', hub.url, '--state', state], { env: { FELHOM_ENROLL_CODE: '' } });
  t.equal(noCode.code, 2);
  t.match(noCode.stderr, /--code: no code given/);
  const noHub = await felhom(['agent', 'enroll', '--code', code, '--state', state], { env: { FELHOM_HUB_URL: '' } });
  t.equal(noHub.code, 2);
  const badCode = await felhom(['agent', 'enroll', '--hub', hub.url, '--code', 'nonsense', '--state', state]);
  t.equal(badCode.code, 2);
  t.match(badCode.stderr, /EENROLL_CODE: code: expected <box>.<secret>.<trust root>/);
});

import t from 'tap';
import { HubClient } from '../../runner/hub/client.js';
import { felhom } from '../helpers/cli.js';
import { OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';

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

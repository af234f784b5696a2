import t from 'tap';
import { age } from '../../cli/commands/hub-boxes.js';
import { felhom } from '../helpers/cli.js';
import { makeEnvelope, OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';

const env = { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN };

t.test('hub boxes shows the failing box first, with its tiers, reason and pending jobs', async (t) => {
  const { hub, operator, enroll } = await startTestHub(t);
  const good = await enroll('box-good');
  const bad = await enroll('box-bad');
  await enroll('box-quiet');
  const goodSpec = await operator.publish(makeEnvelope({ box: 'box-good', serial: 1 }));
  const badSpec = await operator.publish(makeEnvelope({ box: 'box-bad', serial: 4 }));
  await operator.publish(makeEnvelope({ box: 'box-bad', type: 'job', serial: 5 }));
  await good.postReport('box-good', { jobId: goodSpec.payloadDigest, tier: 'host', outcome: 'succeeded', serial: 1 });
  await bad.postReport('box-bad', { jobId: badSpec.payloadDigest, tier: 'host', outcome: 'rejected', serial: 4, reason: { code: 'ESIGNATURE', message: 'no trusted signature' } });

  const result = await felhom(['hub', 'boxes', '--hub', hub.url], { env });
  t.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  t.match(lines[0], /^box-bad\s+failing\s+contact \d+s ago\s+1 job pending$/);
  t.match(lines[1], /^ {2}host\s+spec 4\s+applied -\s+last rejected \d+s ago\s+drift\s+1 pending\s+ESIGNATURE: no trusted signature$/);
  t.match(lines[2], /^box-quiet\s+new\s+contact never$/);
  t.match(lines[3], /^box-good\s+ok\s+contact \d+s ago$/);
  t.match(lines[4], /^ {2}host\s+spec 1\s+applied 1\s+last succeeded/);

  const json = await felhom(['hub', 'boxes', '--json', '--hub', hub.url], { env });
  const { boxes } = JSON.parse(json.stdout) as { boxes: { box: string; state: string }[] };
  t.same(
    boxes.map((b) => [b.box, b.state]),
    [
      ['box-bad', 'failing'],
      ['box-quiet', 'new'],
      ['box-good', 'ok'],
    ],
  );
});

t.test('hub boxes on an empty hub says so', async (t) => {
  const { hub } = await startTestHub(t);
  t.equal((await felhom(['hub', 'boxes', '--hub', hub.url], { env })).stdout, 'no boxes enrolled\n');
});

t.test('ages read like a person would say them', async (t) => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  t.equal(age(null, now), 'never');
  t.equal(age('2026-06-01T11:59:30Z', now), '30s ago');
  t.equal(age('2026-06-01T11:30:00Z', now), '30m ago');
  t.equal(age('2026-06-01T06:00:00Z', now), '6h ago');
  t.equal(age('2026-05-20T12:00:00Z', now), '12d ago');
});

t.test('hub operator add prints a token once; that operator publishes and enrolls under their name', async (t) => {
  const { hub } = await startTestHub(t);
  const added = await felhom(['hub', 'operator', 'add', '--name', 'alice', '--hub', hub.url], { env });
  t.equal(added.code, 0, added.stderr);
  const token = added.stdout.trim().split('\n').at(-1)!;
  t.match(token, /^fho_/);
  const asAlice = { FELHOM_HUB_OPERATOR_TOKEN: token };
  t.equal((await felhom(['hub', 'enroll', '--box', 'box-1', '--hub', hub.url], { env: asAlice })).code, 0);

  const refused = await felhom(['hub', 'operator', 'add', '--name', 'mallory', '--hub', hub.url], { env: asAlice });
  t.equal(refused.code, 1, 'only the bootstrap token manages operators');
  t.match(refused.stderr, 'EAUTH');

  const activity = await felhom(['hub', 'activity', '--hub', hub.url], { env });
  const lines = activity.stdout.trim().split('\n');
  t.match(lines[0], /alice\s+enroll\s+box-1$/);
  t.match(lines[1], /admin\s+add-operator\s+alice$/);
  const json = JSON.parse((await felhom(['hub', 'activity', '--json', '--hub', hub.url], { env })).stdout) as { operators: { name: string }[] };
  t.match(json.operators, [{ name: 'alice', createdBy: 'admin' }]);

  const removed = await felhom(['hub', 'operator', 'remove', '--name', 'alice', '--hub', hub.url], { env });
  t.match(removed.stdout, 'operator alice removed');
  const locked = await felhom(['hub', 'boxes', '--hub', hub.url], { env: asAlice });
  t.equal(locked.code, 1);
  t.match(locked.stderr, 'EAUTH');
  t.match((await felhom(['hub', 'operator', 'add', '--name', 'bob', '--json', '--hub', hub.url], { env })).stdout, /"token": "fho_/);
  t.notMatch((await felhom(['hub', 'activity', '--hub', hub.url], { env })).stdout, /fho_/, 'tokens never appear in the activity');
});

t.test('hub activity refuses a bad limit and says when there is nothing', async (t) => {
  const { hub } = await startTestHub(t);
  t.equal((await felhom(['hub', 'activity', '--limit', '0', '--hub', hub.url], { env })).code, 2);
  t.equal((await felhom(['hub', 'activity', '--hub', hub.url], { env })).stdout, 'no activity\n');
});

import t from 'tap';
import { felhom } from '../helpers/cli.js';
import { OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';

const env = { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN };

t.test('hub reports lists reports newest first: what changed, how long, why it failed and the engine errors', async (t) => {
  const { hub, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  // an older agent's report: no replaced count
  await box.postReport('box-1', { jobId: 'c'.repeat(64), tier: 'host', outcome: 'succeeded', serial: 1, engine: { created: 9, updated: 2, deleted: 0, same: 0 } });
  await box.postReport('box-1', { jobId: 'a'.repeat(64), tier: 'host', outcome: 'succeeded', serial: 3, engine: { created: 2, updated: 1, replaced: 1, deleted: 0, same: 7 }, durationMs: 4200 });
  await box.postReport('box-1', { jobId: 'b'.repeat(64), tier: 'host', outcome: 'rejected', serial: 2, reason: { code: 'EROLLBACK', message: 'serial 2 is not above 3' } });
  await box.postReport('box-1', {
    jobId: 'd'.repeat(64),
    tier: 'host',
    outcome: 'failed',
    serial: 4,
    engine: { created: 0, updated: 0, replaced: 0, deleted: 0, same: 3 },
    reason: { code: 'EENGINE_RUN', message: 'the engine failed: error: update failed' },
    errors: ['guest-customer: creating LXC 101: storage local-lvm is full'],
  });

  const result = await felhom(['hub', 'reports', '--hub', hub.url], { env });
  t.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  t.equal(lines.length, 5);
  t.match(lines[0], /box-1\/host\s+failed\s+sha256 dddddddddddd\s+serial 4\s+0 created, 0 updated, 0 replaced, 0 deleted, 3 unchanged\s+EENGINE_RUN: the engine failed: error: update failed$/);
  t.equal(lines[1], '    engine: guest-customer: creating LXC 101: storage local-lvm is full');
  t.match(lines[2], /box-1\/host\s+rejected\s+sha256 bbbbbbbbbbbb\s+serial 2\s+EROLLBACK: serial 2 is not above 3/);
  t.match(lines[3], /succeeded\s+sha256 aaaaaaaaaaaa\s+serial 3\s+2 created, 1 updated, 1 replaced, 0 deleted, 7 unchanged\s+4\.2s$/);
  t.match(lines[4], /succeeded\s+sha256 cccccccccccc\s+serial 1\s+9 created, 2 updated or replaced, 0 deleted, 0 unchanged$/, 'an old report stays readable');
});

t.test('hub reports --box --json filters and prints JSON', async (t) => {
  const { hub, enroll } = await startTestHub(t);
  const one = await enroll('box-1');
  const two = await enroll('box-2');
  await one.postReport('box-1', { jobId: 'j1', tier: 'host', outcome: 'succeeded' });
  await two.postReport('box-2', { jobId: 'j2', tier: 'guest', outcome: 'succeeded' });
  const result = await felhom(['hub', 'reports', '--box', 'box-2', '--json', '--hub', hub.url], { env });
  t.equal(result.code, 0);
  const { reports } = JSON.parse(result.stdout) as { reports: { box: string; jobId: string }[] };
  t.same(
    reports.map((r) => [r.box, r.jobId]),
    [['box-2', 'j2']],
  );
});

t.test('hub reports says so when there are none, and refuses an unknown box', async (t) => {
  const { hub } = await startTestHub(t);
  const empty = await felhom(['hub', 'reports', '--hub', hub.url], { env });
  t.equal(empty.stdout, 'no reports\n');
  const unknown = await felhom(['hub', 'reports', '--box', 'ghost', '--hub', hub.url], { env });
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, 'EBOX_UNKNOWN');
  const badLimit = await felhom(['hub', 'reports', '--limit', '0', '--hub', hub.url], { env });
  t.equal(badLimit.code, 2);
});

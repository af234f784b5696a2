import t from 'tap';
import { felhom } from '../helpers/cli.js';
import { OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';

const env = { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN };

t.test('hub reports lists reports newest first, one line each, with engine counts and reasons', async (t) => {
  const { hub, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  await box.postReport('box-1', { jobId: 'a'.repeat(64), tier: 'host', outcome: 'succeeded', serial: 3, engine: { created: 2, updated: 1, deleted: 0, same: 7 }, durationMs: 4200 });
  await box.postReport('box-1', { jobId: 'b'.repeat(64), tier: 'host', outcome: 'rejected', serial: 2, reason: { code: 'EROLLBACK', message: 'serial 2 is not above 3' } });

  const result = await felhom(['hub', 'reports', '--hub', hub.url], { env });
  t.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  t.equal(lines.length, 2);
  t.match(lines[0], /box-1\/host\s+rejected\s+sha256 bbbbbbbbbbbb\s+serial 2\s+EROLLBACK: serial 2 is not above 3/);
  t.match(lines[1], /succeeded\s+sha256 aaaaaaaaaaaa\s+serial 3\s+\+2 ~1 -0 =7\s+4\.2s/);
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

// `felhom agent once` with the real tier programs, on an engine home without the Proxmox plugin
// (whatever this machine has installed), so the verified spec fails before the engine starts, as a stalled failure that is
// journaled, reported to the hub and audited.
import t from 'tap';
import { join } from 'node:path';
import { felhom } from '../helpers/cli.js';
import { agentWorld, boxSpec, BOX } from '../helpers/agent-fixture.js';
import { verifyAuditLog } from '../../runner/state/audit.js';
import { engineHomeWithout } from '../helpers/engine-install.js';

t.test('agent once applies nothing it cannot run and reports the missing plugins', async (t) => {
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  const args = ['agent', 'once', '--hub', world.hub.hub.url, '--box', BOX, '--tier', 'host', '--state', world.stateDir, '--trust', world.trustPath, '--json'];

  const env = { FELHOM_ENGINE_HOME: await engineHomeWithout(t, ['proxmoxve']) };
  const result = await felhom(args, { env });

  t.equal(result.code, 1, 'the cycle completed, but the envelope failed: exit 1');
  const cycle = JSON.parse(result.stdout) as { status: string; engineRuns: number; items: { outcome: string; reason?: { code: string; message: string } }[] };
  t.match(cycle, { status: 'done', engineRuns: 0, items: [{ outcome: 'failed', reason: { code: 'EPLUGIN_MISSING' } }] }, 'failed with EPLUGIN_MISSING before any engine operation');
  t.match(cycle.items[0]!.reason!.message, /npm run engine:install/, 'the reason says how to fix it');
  const reports = await world.hub.operator.listReports({ box: BOX });
  t.match(reports, [{ outcome: 'failed', reason: { code: 'EPLUGIN_MISSING' } }], 'the hub got the failure');
  const audit = await verifyAuditLog(join(world.stateDir, 'audit.jsonl'));
  t.same(audit.entries.map((entry) => entry.outcome), ['accepted', 'failed'], 'audited');
  t.notMatch(result.stderr, /root@pam!felhom|pbs-token-value/, 'no secret in the logs');

  // when run again by hand, then the box-side failure is retried (it does not burn the serial),
  // still without an engine, and nothing a person sees is doubled
  const again = await felhom(args, { env });
  t.match(JSON.parse(again.stdout), { status: 'done', engineRuns: 0, items: [{ outcome: 'failed', reason: { code: 'EPLUGIN_MISSING' } }] }, 'retried');
  t.equal(again.code, 1, 'still not applied: exit 1');
  t.equal((await world.hub.operator.listReports({ box: BOX })).length, 1, 'one report at the hub');
  t.same((await verifyAuditLog(join(world.stateDir, 'audit.jsonl'))).entries.map((entry) => entry.outcome), ['accepted', 'failed'], 'no audit entry doubled');
});

t.test('agent once without a hub URL is a usage error', async (t) => {
  const result = await felhom(['agent', 'once', '--box', BOX, '--tier', 'host', '--state', t.testdir(), '--trust', 'x'], { env: { FELHOM_HUB_URL: '' } });
  t.equal(result.code, 2, 'exit 2');
  t.match(result.stderr, /--hub/, 'names the option');
});

t.test('agent once --log-level warn keeps only warnings and errors; a bad level is a usage error', async (t) => {
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  const base = ['agent', 'once', '--hub', world.hub.hub.url, '--box', BOX, '--tier', 'host', '--state', world.stateDir, '--trust', world.trustPath];
  const result = await felhom([...base, '--log-level', 'warn']);
  const levels = result.stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => (JSON.parse(line) as { level: string }).level);
  t.ok(levels.length > 0, 'the failed envelope is logged');
  t.ok(levels.every((level) => level === 'warn' || level === 'error'), `only warn and error: ${levels.join(',')}`);
  const bad = await felhom([...base, '--log-level', 'loud']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^felhom: EUSAGE: --log-level: expected one of debug, info, warn, error, got "loud"$/m);
});

t.test('--state-backend (or $FELHOM_STATE_BACKEND) is for the edge tier, a postgres:// or s3:// URL', async (t) => {
  const world = await agentWorld(t);
  await world.publish({ tier: 'edge', serial: 1, body: boxSpec() as never });
  const base = (tier: string) => ['agent', 'once', '--hub', world.hub.hub.url, '--box', BOX, '--tier', tier, '--state', world.stateDir, '--trust', world.trustPath, '--json'];
  const url = 'postgres://felhom:cli-backend-pw-99@127.0.0.1:1/felhom?sslmode=disable';

  const host = await felhom([...base('host'), '--state-backend', url]);
  t.equal(host.code, 2, 'the host tier: a usage error');
  t.match(host.stderr, /--state-backend: only the edge tier keeps its state off the machine; the host tier's state stays in <state>\/engine on the box/);
  const fromEnv = await felhom(base('guest'), { env: { FELHOM_STATE_BACKEND: url } });
  t.equal(fromEnv.code, 2);
  t.match(fromEnv.stderr, /\$FELHOM_STATE_BACKEND: only the edge tier/, 'names the variable it came from');
  const scheme = await felhom([...base('edge'), '--state-backend', 'mysql://felhom:cli-backend-pw-99@db/felhom']);
  t.equal(scheme.code, 2);
  t.match(scheme.stderr, /--state-backend: expected a postgres:\/\/, postgresql:\/\/ or s3:\/\/ URL/);
  for (const result of [host, fromEnv, scheme]) t.notOk(result.stderr.includes('cli-backend-pw-99'), 'the refusal does not echo the URL');

  // the edge tier takes it: the cycle runs (and here fails on the missing cloudflare plugin, before any engine)
  const env = { FELHOM_ENGINE_HOME: await engineHomeWithout(t, ['cloudflare']), FELHOM_STATE_BACKEND: url };
  const edge = await felhom(base('edge'), { env });
  t.match(JSON.parse(edge.stdout), { status: 'done', engineRuns: 0, items: [{ outcome: 'failed', reason: { code: 'EPLUGIN_MISSING' } }] });
  t.notOk(edge.stderr.includes('cli-backend-pw-99') || edge.stdout.includes('cli-backend-pw-99'), 'no password in the output');
});

import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { writeTrustStore } from '../../runner/envelope/index.js';
import { REF_SECRETS, writeWorldFiles } from '../helpers/agent-fixture.js';
import { felhom } from '../helpers/cli.js';
import { trustOf } from '../helpers/keys.js';
import { engineHomeWithout } from '../helpers/engine-install.js';

const spec = new URL('../../examples/home-box.yaml', import.meta.url).pathname;

async function box(t: Test): Promise<{ stateDir: string; trustPath: string }> {
  const root = t.testdir();
  const stateDir = join(root, 'state');
  await writeWorldFiles(stateDir, 'fhb_test-key');
  const trustPath = join(root, 'trust.json');
  await writeTrustStore(trustPath, await trustOf(['alice']));
  return { stateDir, trustPath };
}

t.test('agent check lists every missing secret, plugin and permission at once', async (t) => {
  const { stateDir, trustPath } = await box(t);
  // given a box missing three secrets, with one readable by others
  for (const name of ['tunnel-token', 'pbs-encryption-key', 'proxmox-api-token']) await rm(join(stateDir, 'secrets', name));
  await chmod(join(stateDir, 'secrets', 'pbs-token'), 0o644);
  // on an engine home without the Proxmox plugin, whatever this machine has installed
  const env = { FELHOM_ENGINE_HOME: await engineHomeWithout(t, ['proxmoxve']) };
  const result = await felhom(['agent', 'check', '--box', 'hb-0001', '--tier', 'host', '--state', stateDir, '--trust', trustPath, '--spec', spec, '--json'], { env });
  t.equal(result.code, 1, result.stderr);
  const answer = JSON.parse(result.stdout) as { ok: boolean; spec: string; problems: { code: string; subject: string; message: string }[] };
  t.equal(answer.ok, false);
  t.equal(answer.spec, 'given');
  const secrets = answer.problems.filter((problem) => problem.code === 'ESECRET').map((problem) => problem.subject);
  t.same(secrets.sort(), ['pbs-encryption-key', 'proxmox-api-token', 'tunnel-token'], 'every missing secret, in one run');
  t.ok(answer.problems.some((problem) => problem.code === 'EAGENT_SETUP' && problem.subject === 'pbs-token' && /readable by group or others/.test(problem.message)), 'the wrongly permitted secret');
  t.ok(answer.problems.some((problem) => problem.code === 'EPLUGIN_MISSING' && /proxmoxve/.test(problem.message)), 'the engine side is checked too: the missing plugin is named');
});

t.test('agent check exits 0 on a box that is ready, apart from the engine side', async (t) => {
  const { stateDir, trustPath } = await box(t);
  const result = await felhom(['agent', 'check', '--box', 'hb-0001', '--tier', 'host', '--state', stateDir, '--trust', trustPath, '--spec', spec]);
  const lines = result.stdout.trimEnd().split('\n');
  // On this machine the host tier's provider plugins may be missing: only those may be named.
  const others = lines.slice(1).filter((line) => !/EPLUGIN_MISSING|EENGINE_MISSING/.test(line));
  t.same(others, [], 'no secret, permission or trust store problem');
  if (result.code === 0) t.match(result.stdout, /hb-0001\/host is ready \(spec: given\)/);
  t.ok(Object.keys(REF_SECRETS).length > 0);
});

t.test('agent check without --spec checks the spec waiting in the journal, and says when there is none', async (t) => {
  const { stateDir, trustPath } = await box(t);
  await rm(join(stateDir, 'secrets', 'proxmox-api-token'));
  const result = await felhom(['agent', 'check', '--box', 'box-1', '--tier', 'host', '--state', stateDir, '--trust', join(stateDir, 'nothing.json'), '--json']);
  const answer = JSON.parse(result.stdout) as { spec: string; problems: { code: string; subject: string }[] };
  t.equal(answer.spec, 'none');
  t.ok(answer.problems.some((problem) => problem.code === 'ETRUST'), 'an unreadable trust store is named');
  t.ok(answer.problems.some((problem) => problem.code === 'ESECRET' && problem.subject === 'proxmox-api-token'), 'the host tier always needs its Proxmox token');
  void trustPath;
});

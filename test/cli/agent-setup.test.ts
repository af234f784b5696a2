// `felhom agent setup`: the box's one command at set-up, against the real hub (a one-time code the
// operator's `hub enroll` made), the PVE simulator (the agent's token minted with a root@pam token
// that a stand-in for `pveum` hands out and is asked to remove), a real felhom-agent package, and a
// stand-in for `systemctl` that records what it is asked. Run again, it changes nothing; a failed
// step names itself and a run after the fix finishes.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { agentSettings } from '../../runner/enrollment/host-setup.js';
import { felhom } from '../helpers/cli.js';
import { issueCode, tempDir } from '../helpers/enrollment.js';
import { startTestHub } from '../helpers/hub.js';
import { startTestSimulator } from '../helpers/pve-sim.js';

async function host(t: Parameters<Parameters<typeof t.test>[1]>[0]) {
  const { hub, operator } = await startTestHub(t);
  const { code } = await issueCode(operator, 'hb-0001');
  const sim = await startTestSimulator(t);
  const dir = tempDir(t);
  const ca = join(dir, 'pve.pem');
  await writeFile(ca, sim.sim.certificate);
  // pveum: hands out the simulator's root@pam token as `pveum user token add` prints one, records every call
  const [rootId, rootSecret] = sim.sim.token.split('=') as [string, string];
  const pveum = join(dir, 'pveum');
  await writeFile(pveum, `#!/bin/sh\necho "$*" >> '${dir}/pveum.log'\ncase "$3" in add) echo '{"full-tokenid":"${rootId}","info":{"privsep":"0"},"value":"${rootSecret}"}';; esac\n`, { mode: 0o755 });
  const systemctl = join(dir, 'systemctl');
  await writeFile(systemctl, `#!/bin/sh\necho "$*" >> '${dir}/systemctl.log'\n[ -e '${dir}/systemctl.fail' ] && { echo 'Failed to enable unit: Unit file felhom-agent.service does not exist.' >&2; exit 1; }\nexit 0\n`, { mode: 0o755 });
  const stage = join(dir, 'stage');
  await mkdir(join(stage, 'DEBIAN'), { recursive: true });
  await writeFile(join(stage, 'DEBIAN', 'control'), 'Package: felhom-agent\nVersion: 0.1.0\nArchitecture: all\nMaintainer: Felhom test <test@felhom.hu>\nDescription: test package\n');
  const deb = join(dir, 'felhom-agent_0.1.0_all.deb');
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', stage, deb], { stdio: 'ignore' });
  const envFile = join(dir, 'agent.env');
  const state = join(dir, 'state');
  const args = ['agent', 'setup', '--hub', hub.url, '--code', code, '--state', state, '--endpoint', sim.sim.url, '--ca', ca, '--controller-package', deb, '--env-file', envFile];
  const env = { ...process.env, FELHOM_PVEUM: pveum, FELHOM_SYSTEMCTL: systemctl };
  const log = async (name: string) => (await readFile(join(dir, name), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { hub, sim, dir, state, envFile, args, env, log, rootSecret, code };
}

t.test('one command takes a Proxmox host from a retrieval code to a started agent', async (t) => {
  const h = await host(t);
  await writeFile(h.envFile, '# the operator\'s own line\nFELHOM_LOG_LEVEL=debug\nFELHOM_BOX=old\n');
  const run = await felhom(h.args, { env: h.env });
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /^box hb-0001 enrolled at .*; 1 operator key\(s\) pinned in .*trust\.json$/m);
  t.match(run.stdout, /^Proxmox token felhom-agent@pve!agent created, in .*secrets\/proxmox-api-token$/m);
  t.match(run.stdout, /^controller package 0\.1\.0 in .*controller\.deb$/m);
  t.match(run.stdout, /felhom-agent\.service started/);
  t.match(run.stderr, /setup: enroll: completed[\s\S]*setup: proxmox-token: made a temporary root@pam token[\s\S]*setup: proxmox-token: removed the temporary root@pam token[\s\S]*setup: start: systemctl enable --now felhom-agent\.service/);

  t.match((await readFile(join(h.state, 'secrets', 'proxmox-api-token'), 'utf8')).trim(), /^felhom-agent@pve!agent=[0-9a-f-]{36}$/, "the agent's own token");
  t.equal((await stat(join(h.state, 'controller.deb'))).mode & 0o777, 0o600);
  t.same((await readFile(h.envFile, 'utf8')).split('\n'), ["# the operator's own line", 'FELHOM_LOG_LEVEL=debug', 'FELHOM_BOX=hb-0001', `FELHOM_HUB_URL=${h.hub.url}`, 'FELHOM_TIER=host', ''], "the settings, the operator's lines kept");
  const pveum = await h.log('pveum.log');
  t.equal(pveum.length, 2);
  t.match(pveum[0], /^user token add root@pam felhom-setup-[0-9a-f]{6} --privsep 0 --output-format json$/);
  t.equal(pveum[1], `user token remove root@pam ${pveum[0]!.split(' ')[4]}`, 'the temporary root token is removed');
  t.same(await h.log('systemctl.log'), ['enable --now felhom-agent.service']);
  const scoped = (await readFile(join(h.state, 'secrets', 'proxmox-api-token'), 'utf8')).trim().split('=')[1]!;
  for (const secret of [h.rootSecret, scoped]) t.notOk(run.stdout.includes(secret) || run.stderr.includes(secret), 'no secret printed');

  // Again: nothing to do but start.
  const again = await felhom([...h.args, '--json'], { env: h.env });
  t.equal(again.code, 0, again.stderr);
  t.match(JSON.parse(again.stdout), { enrollment: { box: 'hb-0001', alreadyEnrolled: true }, proxmoxToken: { token: 'kept', changes: [] }, started: true });
});

t.test('a failed step names itself; a run after the fix finishes; bad input is refused naming the option', async (t) => {
  const h = await host(t);
  await writeFile(join(h.dir, 'systemctl.fail'), '');
  const failed = await felhom(h.args, { env: h.env });
  t.equal(failed.code, 3, "the environment's fault: run again once fixed");
  t.match(failed.stderr, /felhom: EHOST_SETUP: start: systemctl enable --now felhom-agent\.service failed: Failed to enable unit/);
  t.match((await readFile(h.envFile, 'utf8')), /FELHOM_BOX=hb-0001/, 'the steps before it are done');
  await import('node:fs/promises').then((fs) => fs.rm(join(h.dir, 'systemctl.fail')));
  const fixed = await felhom(h.args, { env: h.env });
  t.equal(fixed.code, 0, fixed.stderr);
  t.equal((await h.log('pveum.log')).filter((line) => line.includes(' remove ')).length, 2, 'each run removed its temporary root token');

  const notDeb = join(h.dir, 'notes.txt');
  await writeFile(notDeb, 'hello');
  const bad = await felhom([...h.args.filter((arg, i, all) => arg !== '--controller-package' && all[i - 1] !== '--controller-package'), '--controller-package', notDeb], { env: h.env });
  t.not(bad.code, 0);
  t.match(bad.stderr, /ECONTROLLER_PACKAGE: controller package .*notes\.txt: not a Debian package/);

  const noPveum = await felhom(['agent', 'setup', '--hub', h.hub.url, '--code', h.code, '--state', h.state, '--endpoint', h.sim.sim.url, '--no-start', '--env-file', h.envFile], { env: { ...h.env, FELHOM_PVEUM: join(h.dir, 'missing-pveum') } });
  t.equal(noPveum.code, 3);
  t.match(noPveum.stderr, /EHOST_SETUP: proxmox-token: a temporary root@pam token could not be made with pveum: .*missing-pveum is missing .*--root-token-file/);
  t.equal((await felhom(['agent', 'setup', '--hub', h.hub.url, '--state', h.state], { env: { ...h.env, FELHOM_ENROLL_CODE: '' } })).code, 2, 'no code: a usage error');
  t.throws(() => agentSettings('', { hubUrl: 'https://hub $(x)', box: 'hb-0001' }), { code: 'EHOST_SETUP', message: /FELHOM_HUB_URL/ });
});

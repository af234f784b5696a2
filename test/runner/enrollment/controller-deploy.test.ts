/**
 * The agent deploys the in-guest controller: against the real hub, the agent's real local API on
 * the simulated Proxmox host (three guests), a real felhom-agent package built with dpkg-deb, and
 * a stand-in for `pct` that keeps each container's file system on disk (test/helpers/fake-pct.ts).
 * What lands in the guest must let a controller in it reach the hub and its own socket, and only
 * those; a failed step leaves no record and the next attempt finishes the job.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import {
  CONTROLLER_UNIT,
  ControllerDeployments,
  GUEST_LOCAL_API_DIR,
  controllerEnv,
  deployController,
  deployMissingControllers,
  packageVersion,
  socketMountKey,
} from '../../../runner/enrollment/controller-deploy.js';
import { GuestShellError, PctGuestShell, findPct } from '../../../runner/enrollment/guest-shell.js';
import { writeTrustStore } from '../../../runner/envelope/index.js';
import { HubClient } from '../../../runner/hub/client.js';
import { LocalApiClient } from '../../../runner/local-api/client.js';
import { DEFAULT_LOCAL_API_SOCKET } from '../../../cli/commands/controller-run.js';
import { tempDir } from '../../helpers/enrollment.js';
import { fakePct } from '../../helpers/fake-pct.js';
import { startTestHub } from '../../helpers/hub.js';
import { trustOf } from '../../helpers/keys.js';
import { company } from '../../helpers/local-api.js';

const BOX = 'co-0001';

async function buildPackage(dir: string, version: string, name = 'felhom-agent'): Promise<string> {
  const stage = join(dir, `stage-${version}`);
  await mkdir(join(stage, 'DEBIAN'), { recursive: true });
  await mkdir(join(stage, 'usr', 'bin'), { recursive: true });
  await writeFile(join(stage, 'DEBIAN', 'control'), `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: Felhom test <test@felhom.hu>\nDescription: test package\n`);
  await writeFile(join(stage, 'usr', 'bin', 'felhom'), `#!/bin/sh\necho felhom ${version}\n`, { mode: 0o755 });
  const deb = join(dir, `${name}_${version}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', stage, deb], { stdio: 'ignore' });
  return deb;
}

async function world(t: Parameters<Parameters<typeof t.test>[1]>[0]) {
  const hub = await startTestHub(t);
  const box = await hub.enroll(BOX);
  const co = await company(t);
  const pct = await fakePct(t);
  await pct.container(201, { hostname: 'tenant-a', mp0: 'local-lvm:vm-201-disk-1,mp=/srv/data,size=8G' });
  await pct.container(202, { hostname: 'tenant-b' });
  const dir = tempDir(t);
  const trustPath = join(dir, 'trust.json');
  await writeTrustStore(trustPath, await trustOf(['alice']));
  const deployments = await ControllerDeployments.open(join(dir, 'local-api'));
  const common = {
    box: BOX,
    hubUrl: hub.hub.url,
    hub: box,
    tokens: co.tokens,
    deployments,
    shell: new PctGuestShell({ pct: pct.pct }),
    trustPath,
    packageFile: await buildPackage(dir, '0.1.0'),
    audit: co.audit,
  };
  const socketDirOf = (guest: string) => join(co.server.socketPath(guest), '..');
  const guestFile = (vmId: number, path: string) => join(pct.rootfs(vmId), path);
  const credentialsOf = async (vmId: number) => ({
    hubApiKey: (await readFile(guestFile(vmId, '/var/lib/felhom-controller/keys/hub-api-key'), 'utf8')).trim(),
    localApiToken: (await readFile(guestFile(vmId, '/var/lib/felhom-controller/keys/local-api-token'), 'utf8')).trim(),
  });
  return { hub, co, pct, dir, trustPath, deployments, common, socketDirOf, guestFile, credentialsOf };
}

t.test('the controller lands in its guest able to reach the hub and its own socket, and nothing else', async (t) => {
  const w = await world(t);
  const deployed = await deployController({ ...w.common, guest: { name: 'tenant-a', vmId: 201 }, socketDir: w.socketDirOf('tenant-a') });
  t.match(deployed, { vmId: 201, packageVersion: '0.1.0', mountKey: 'mp255' });

  const config = await w.pct.config(201);
  t.equal(config.mp255, `${w.socketDirOf('tenant-a')},mp=${GUEST_LOCAL_API_DIR},backup=0`, "the guest's socket directory is bind-mounted, above the host tier's mount points");
  t.equal(config.mp0, 'local-lvm:vm-201-disk-1,mp=/srv/data,size=8G', "the host tier's own mount point is untouched");
  t.equal(`${GUEST_LOCAL_API_DIR}/api.sock`, DEFAULT_LOCAL_API_SOCKET, 'the controller looks for its socket where it is mounted');

  t.equal(await readFile(w.guestFile(201, '/usr/bin/felhom'), 'utf8'), '#!/bin/sh\necho felhom 0.1.0\n', 'the package is installed in the guest');
  for (const key of ['hub-api-key', 'local-api-token']) t.equal((await stat(w.guestFile(201, `/var/lib/felhom-controller/keys/${key}`))).mode & 0o777, 0o600, `${key} is 0600`);
  t.equal(await readFile(w.guestFile(201, '/var/lib/felhom-controller/trust.json'), 'utf8'), await readFile(w.trustPath, 'utf8'), "the box's trust store");
  t.equal(await readFile(w.guestFile(201, '/etc/felhom/controller.env'), 'utf8'), controllerEnv({ hubUrl: w.hub.hub.url, box: BOX, guest: 'tenant-a' }));
  const unit = await readFile(w.guestFile(201, `/etc/systemd/system/${CONTROLLER_UNIT}`), 'utf8');
  t.match(unit, /ExecStart=\/usr\/bin\/felhom controller run/);
  t.match(unit, /--local-api \/var\/lib\/felhom\/local-api\/api\.sock/);
  const execs = (await w.pct.execs(201)).map((argv) => argv.join(' '));
  t.same(execs.slice(-3), ['systemctl daemon-reload', `systemctl enable ${CONTROLLER_UNIT}`, `systemctl restart ${CONTROLLER_UNIT}`], 'the service is enabled and (re)started last');
  t.notOk(execs.some((line) => line.includes('fhb_') || line.includes('fhl_')), 'no credential on a command line');

  const credentials = await w.credentialsOf(201);
  const controllerHub = new HubClient({ url: w.hub.hub.url, token: credentials.hubApiKey });
  t.match(await controllerHub.fetchSpec(BOX, 'guest'), { status: 'none' }, "the controller's hub key opens the guest tier");
  await t.rejects(controllerHub.fetchSpec(BOX, 'host'), { status: 403 }, 'and not the host tier');
  t.match(await w.co.client('tenant-a', credentials.localApiToken).call('status', {}), { vmId: 201 }, 'its token opens its own socket');
  await t.rejects(w.co.client('tenant-b', credentials.localApiToken).call('status', {}), { status: 401 }, "and not another guest's");

  t.match(w.deployments.get('tenant-a'), { vmId: 201, packageVersion: '0.1.0', mountKey: 'mp255' });
  const entries = await w.co.entries();
  const deploy = entries.filter((entry) => entry.action === 'controller.deploy');
  t.match(deploy, [{ actor: 'agent', outcome: 'succeeded', vmIds: [201] }], 'audited, on its guest');
  const log = await readFile(w.co.audit.file, 'utf8');
  t.notOk(log.includes(credentials.hubApiKey) || log.includes(credentials.localApiToken), 'no credential in the audit log');
});

t.test('deploying again replaces the credentials, keeps the mount, and installs only a new version', async (t) => {
  const w = await world(t);
  const guest = { name: 'tenant-a', vmId: 201 };
  await deployController({ ...w.common, guest, socketDir: w.socketDirOf('tenant-a') });
  const first = await w.credentialsOf(201);
  await deployController({ ...w.common, guest, socketDir: w.socketDirOf('tenant-a') });
  const second = await w.credentialsOf(201);
  t.not(second.hubApiKey, first.hubApiKey);
  await t.rejects(new HubClient({ url: w.hub.hub.url, token: first.hubApiKey }).fetchSpec(BOX, 'guest'), { status: 401 }, 'the old hub key stops working');
  await t.rejects(w.co.client('tenant-a', first.localApiToken).call('status', {}), { status: 401 }, 'the old local token too');
  t.match(await w.co.client('tenant-a', second.localApiToken).call('status', {}), { vmId: 201 });
  const config = await w.pct.config(201);
  t.same(Object.keys(config).filter((key) => /^mp\d+$/.test(key)), ['mp0', 'mp255'], 'one socket mount, not two');
  const installs = () => w.pct.execs(201).then((execs) => execs.filter((argv) => argv.includes('apt-get')).length);
  t.equal(await installs(), 1, 'the same version is not installed twice');

  await deployController({ ...w.common, packageFile: await buildPackage(w.dir, '0.2.0'), guest, socketDir: w.socketDirOf('tenant-a') });
  t.equal(await installs(), 2, 'a new version is');
  t.equal(await readFile(w.guestFile(201, '/usr/bin/felhom'), 'utf8'), '#!/bin/sh\necho felhom 0.2.0\n');
  t.equal(w.deployments.get('tenant-a')?.packageVersion, '0.2.0');
});

t.test('a failed step is named and audited, leaves no record, and the next round finishes the job', async (t) => {
  const w = await world(t);
  await w.pct.failOn('systemctl restart');
  const guests = [{ name: 'tenant-a', vmId: 201 }, { name: 'tenant-b', vmId: 202 }];
  await t.rejects(deployController({ ...w.common, guest: guests[0]!, socketDir: w.socketDirOf('tenant-a') }), { code: 'ECONTROLLER_DEPLOY', step: 'service', message: /controller of guest tenant-a: service: systemctl restart felhom-controller\.service: exit 1: injected failure/ });
  t.equal(w.deployments.get('tenant-a'), undefined, 'no record of a deploy that did not finish');
  t.match((await w.co.entries()).filter((entry) => entry.action === 'controller.deploy'), [{ outcome: 'failed', vmIds: [201], reason: { code: 'ECONTROLLER_DEPLOY' } }]);

  const round = await deployMissingControllers(guests, { ...w.common, socketDirOf: w.socketDirOf });
  t.same(round.deployed, [], 'both fail while restarting fails');
  t.same(round.failed.map((failure) => failure.guest), ['tenant-a', 'tenant-b']);
  await w.pct.failOn(undefined);
  t.same((await deployMissingControllers(guests, { ...w.common, socketDirOf: w.socketDirOf })).deployed, ['tenant-a', 'tenant-b'], 'the next round deploys both');
  t.same(await deployMissingControllers(guests, { ...w.common, socketDirOf: w.socketDirOf }), { deployed: [], failed: [] }, 'and then has nothing to do');
  t.same((await deployMissingControllers([{ name: 'tenant-a', vmId: 204 }], { ...w.common, socketDirOf: w.socketDirOf })).failed.map((f) => f.guest), ['tenant-a'], 'a guest whose CT id changed is deployed again (CT 204 does not exist here)');
  t.match(await w.co.client('tenant-b', (await w.credentialsOf(202)).localApiToken).call('status', {}), { vmId: 202 });
});

t.test('a package that is not felhom-agent, or not a package, is refused before anything is touched', async (t) => {
  const w = await world(t);
  const guest = { name: 'tenant-a', vmId: 201 };
  const other = await buildPackage(w.dir, '1.0', 'something-else');
  await t.rejects(deployController({ ...w.common, packageFile: other, guest, socketDir: w.socketDirOf('tenant-a') }), { code: 'ECONTROLLER_PACKAGE', message: /expected the felhom-agent package, got "something-else"/ });
  const notDeb = join(w.dir, 'not.deb');
  await writeFile(notDeb, 'hello');
  await t.rejects(packageVersion(notDeb), { code: 'ECONTROLLER_PACKAGE', message: /not\.deb: not a Debian package/ });
  t.same(await w.pct.execs(201), [], 'nothing ran in the guest');
  t.equal((await w.pct.config(201)).mp255, undefined, 'and nothing was mounted');
  t.throws(() => controllerEnv({ hubUrl: 'https://hub $(x)', box: BOX, guest: 'tenant-a' }), { code: 'ECONTROLLER_DEPLOY', message: /hubUrl/ });
});

t.test('pct: errors name the call and the guest; a host without pct has none', async (t) => {
  const pct = await fakePct(t);
  const shell = new PctGuestShell({ pct: pct.pct });
  await t.rejects(shell.config(999), GuestShellError);
  await t.rejects(shell.config(999), { code: 'EGUEST_SHELL', message: /pct config 999: exit 2: Configuration file 'nodes\/pve\/lxc\/999\.conf' does not exist/ });
  await pct.container(300);
  await t.rejects(shell.set(300, 'mp0; rm', 'x'), { code: 'EGUEST_SHELL', message: /is not a configuration key/ });
  await t.rejects(shell.push(300, pct.pct, '/no/such/dir/file', 0o600), { message: /pct push 300: exit 255: failed to open/ });
  t.match(await shell.exec(300, ['frobnicate']), { code: 127 }, 'a failed command in the guest is returned, not thrown');
  await t.rejects(new PctGuestShell({ pct: join(pct.root, 'missing') }).config(300), { code: 'EGUEST_SHELL', message: /missing config/ });
  t.equal(await findPct({ FELHOM_PCT: pct.pct }), pct.pct);
  t.equal(await findPct({ FELHOM_PCT: join(pct.root, 'missing') }), undefined);
  t.equal(socketMountKey({ mp3: '/srv/sockets/a,mp=/elsewhere', mp4: `/srv/sockets/a,mp=${GUEST_LOCAL_API_DIR}` }, '/srv/sockets/a'), 'mp4');
});

/**
 * The agent deploys the in-guest controller: against the real hub, the agent's real local API on
 * the simulated Proxmox host (three guests), a real felhom-agent package built with dpkg-deb, and
 * a stand-in for `pct` that keeps each container's file system on disk (test/helpers/fake-pct.ts).
 * What lands in the guest must let a controller in it reach the hub and its own socket, and only
 * those; a failed step leaves no record and the next attempt finishes the job.
 */
import { execFileSync } from 'node:child_process';
import { appendFile, chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import t from 'tap';
import {
  CONTROLLER_UNIT,
  ControllerDeployments,
  GUEST_LOCAL_API_DIR,
  controllerEnv,
  deployController,
  deployMissingControllers,
  packageVersion,
  socketMountEntry,
  untraversable,
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
  await pct.container(201, ['mp0: local-lvm:vm-201-disk-1,mp=/srv/data,size=8G']);
  // A snapshot section after the current configuration, as PVE writes it.
  await appendFile(join(pct.confDir, '201.conf'), '\n[pre-deploy-1]\narch: amd64\nhostname: ct201\nsnaptime: 1796300000\n');
  await pct.container(202);
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
    shell: new PctGuestShell({ pct: pct.pct, confDir: pct.confDir }),
    trustPath,
    packageFile: await buildPackage(dir, '0.1.0'),
    audit: co.audit,
  };
  const socketDirOf = (guest: string) => dirname(co.server.socketPath(guest));
  // The guest's root reaches its socket directory as an unprivileged uid: the test's private
  // temporary directories must be traversable, as the agent's socket root is in production.
  for (const guest of ['tenant-a', 'tenant-b']) for (let dir = socketDirOf(guest); dir !== '/tmp' && dir !== '/'; dir = dirname(dir)) await chmod(dir, 0o711);
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
  const entry = `${w.socketDirOf('tenant-a')} var/lib/felhom/local-api none bind,create=dir 0 0`;
  t.match(deployed, { vmId: 201, packageVersion: '0.1.0', mountEntry: entry });

  const conf = await w.pct.conf(201);
  const [current, snapshot] = conf.split('\n[pre-deploy-1]\n');
  t.match(current, `\nlxc.mount.entry: ${entry}\n`, "the guest's socket directory is bind-mounted by a raw LXC line, in the current configuration");
  t.notMatch(snapshot, /lxc\.mount\.entry/, "not in the snapshot's");
  t.match(current, /\nmp0: local-lvm:vm-201-disk-1,mp=\/srv\/data,size=8G\n/, "the host tier's own mount point is untouched");
  t.equal(await w.pct.reboots(201), 1, 'the guest is rebooted once, for LXC to mount it');
  t.equal(`${GUEST_LOCAL_API_DIR}/api.sock`, DEFAULT_LOCAL_API_SOCKET, 'the controller looks for its socket where it is mounted');

  t.equal(await readFile(w.guestFile(201, '/usr/bin/felhom'), 'utf8'), '#!/bin/sh\necho felhom 0.1.0\n', 'the package is installed in the guest');
  for (const key of ['hub-api-key', 'local-api-token']) t.equal((await stat(w.guestFile(201, `/var/lib/felhom-controller/keys/${key}`))).mode & 0o777, 0o600, `${key} is 0600`);
  t.equal(await readFile(w.guestFile(201, '/var/lib/felhom-controller/trust.json'), 'utf8'), await readFile(w.trustPath, 'utf8'), "the box's trust store");
  t.equal(await readFile(w.guestFile(201, '/etc/felhom/controller.env'), 'utf8'), controllerEnv({ hubUrl: w.hub.hub.url, box: BOX, guest: 'tenant-a' }));
  const unit = await readFile(w.guestFile(201, `/etc/systemd/system/${CONTROLLER_UNIT}`), 'utf8');
  t.match(unit, /ExecStart=\/usr\/bin\/felhom controller run/);
  t.match(unit, /--local-api \/var\/lib\/felhom\/local-api\/api\.sock/);
  const execs = (await w.pct.execs(201)).map((argv) => argv.join(' '));
  t.same(execs.slice(-3), ['systemctl daemon-reload', `systemctl enable ${CONTROLLER_UNIT}`, 'test -S /var/lib/felhom/local-api/api.sock'], 'the service is enabled, to start at that boot; the guest did not see its socket yet');
  t.ok((await stat(w.guestFile(201, '/var/lib/felhom/local-api/api.sock'))).isSocket(), 'after the reboot it does');
  t.notOk(execs.some((line) => line.includes('fhb_') || line.includes('fhl_')), 'no credential on a command line');

  const credentials = await w.credentialsOf(201);
  const controllerHub = new HubClient({ url: w.hub.hub.url, token: credentials.hubApiKey });
  t.match(await controllerHub.fetchSpec(BOX, 'guest'), { status: 'none' }, "the controller's hub key opens the guest tier");
  await t.rejects(controllerHub.fetchSpec(BOX, 'host'), { status: 403 }, 'and not the host tier');
  t.match(await w.co.client('tenant-a', credentials.localApiToken).call('status', {}), { vmId: 201 }, 'its token opens its own socket');
  await t.rejects(w.co.client('tenant-b', credentials.localApiToken).call('status', {}), { status: 401 }, "and not another guest's");

  t.match(w.deployments.get('tenant-a'), { vmId: 201, packageVersion: '0.1.0', mountEntry: entry });
  const entries = await w.co.entries();
  const deploy = entries.filter((entry) => entry.action === 'controller.deploy');
  t.match(deploy, [{ actor: 'agent', outcome: 'succeeded', vmIds: [201] }], 'audited, on its guest');
  const log = await readFile(w.co.audit.file, 'utf8');
  t.notOk(log.includes(credentials.hubApiKey) || log.includes(credentials.localApiToken), 'no credential in the audit log');
});

t.test('deploying again replaces the credentials, keeps the one mount, restarts without a reboot, and installs only a new version', async (t) => {
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
  t.equal((await w.pct.conf(201)).split('lxc.mount.entry:').length - 1, 1, 'one socket mount, not two');
  t.equal(await w.pct.reboots(201), 1, 'no second reboot');
  t.same((await w.pct.execs(201)).map((argv) => argv.join(' ')).slice(-1), [`systemctl restart ${CONTROLLER_UNIT}`], 'the controller is restarted instead');
  const installs = () => w.pct.execs(201).then((execs) => execs.filter((argv) => argv.includes('apt-get')).length);
  t.equal(await installs(), 1, 'the same version is not installed twice');

  await deployController({ ...w.common, packageFile: await buildPackage(w.dir, '0.2.0'), guest, socketDir: w.socketDirOf('tenant-a') });
  t.equal(await installs(), 2, 'a new version is');
  t.equal(await readFile(w.guestFile(201, '/usr/bin/felhom'), 'utf8'), '#!/bin/sh\necho felhom 0.2.0\n');
  t.equal(w.deployments.get('tenant-a')?.packageVersion, '0.2.0');
});

t.test('a failed step is named and audited, leaves no record, and the next round finishes the job', async (t) => {
  const w = await world(t);
  await w.pct.failOn('systemctl enable');
  const guests = [{ name: 'tenant-a', vmId: 201 }, { name: 'tenant-b', vmId: 202 }];
  await t.rejects(deployController({ ...w.common, guest: guests[0]!, socketDir: w.socketDirOf('tenant-a') }), { code: 'ECONTROLLER_DEPLOY', step: 'service', message: /controller of guest tenant-a: service: systemctl enable felhom-controller\.service: exit 1: injected failure/ });
  t.equal(w.deployments.get('tenant-a'), undefined, 'no record of a deploy that did not finish');
  t.match((await w.co.entries()).filter((entry) => entry.action === 'controller.deploy'), [{ outcome: 'failed', vmIds: [201], reason: { code: 'ECONTROLLER_DEPLOY' } }]);

  const round = await deployMissingControllers(guests, { ...w.common, socketDirOf: w.socketDirOf });
  t.same(round.deployed, [], 'both fail while enabling fails');
  t.same(round.failed.map((failure) => failure.guest), ['tenant-a', 'tenant-b']);
  await w.pct.failOn(undefined);
  t.same((await deployMissingControllers(guests, { ...w.common, socketDirOf: w.socketDirOf })).deployed, ['tenant-a', 'tenant-b'], 'the next round deploys both');
  t.same(await deployMissingControllers(guests, { ...w.common, socketDirOf: w.socketDirOf }), { deployed: [], failed: [] }, 'and then has nothing to do');
  t.same((await deployMissingControllers([{ name: 'tenant-a', vmId: 204 }], { ...w.common, socketDirOf: w.socketDirOf })).failed.map((f) => f.guest), ['tenant-a'], 'a guest whose CT id changed is deployed again (CT 204 does not exist here)');
  t.match(await w.co.client('tenant-b', (await w.credentialsOf(202)).localApiToken).call('status', {}), { vmId: 202 });
  t.equal(await w.pct.reboots(201), 1, 'the mount added by the failed attempt is there: one reboot, by the attempt that finished');
});

t.test('a socket directory the guest cannot reach is refused before anything is touched; a stopped guest is not started', async (t) => {
  const w = await world(t);
  const guest = { name: 'tenant-a', vmId: 201 };
  await chmod(w.dir, 0o711);
  const hidden = join(w.dir, 'private', 'sockets', 'tenant-a');
  await mkdir(hidden, { recursive: true, mode: 0o711 });
  await chmod(join(w.dir, 'private'), 0o700);
  await t.rejects(deployController({ ...w.common, guest, socketDir: hidden }), { code: 'ECONTROLLER_DEPLOY', step: 'mount', message: new RegExp(`${join(w.dir, 'private')} \\(mode 0700\\) is not traversable by others.*--local-api-sockets`) });
  t.notMatch(await w.pct.conf(201), /lxc\.mount\.entry/);
  t.same(await w.pct.execs(201), [], 'nothing ran in the guest');

  await w.pct.setStatus(201, 'stopped');
  await deployController({ ...w.common, guest, socketDir: w.socketDirOf('tenant-a') });
  t.equal(await w.pct.reboots(201), 0, 'a stopped guest is not started: it mounts and starts the controller at its next start');
  t.notOk((await w.pct.execs(201)).some((argv) => argv.includes('restart')));
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
  t.notMatch(await w.pct.conf(201), /lxc\.mount\.entry/, 'and nothing was mounted');
  t.throws(() => controllerEnv({ hubUrl: 'https://hub $(x)', box: BOX, guest: 'tenant-a' }), { code: 'ECONTROLLER_DEPLOY', message: /hubUrl/ });
});

t.test('pct: errors name the call and the guest; a host without pct has none', async (t) => {
  const pct = await fakePct(t);
  const shell = new PctGuestShell({ pct: pct.pct, confDir: pct.confDir });
  await t.rejects(shell.status(999), GuestShellError);
  await t.rejects(shell.status(999), { code: 'EGUEST_SHELL', message: /pct status 999: exit 2: Configuration file 'nodes\/pve\/lxc\/999\.conf' does not exist/ });
  await t.rejects(shell.mountEntries(999), { code: 'EGUEST_SHELL', message: /CT 999: cannot read its configuration .*999\.conf/ });
  await pct.container(300);
  t.equal(await shell.status(300), 'running');
  await t.rejects(shell.addMountEntry(300, 'a b\nlxc.hook.pre-start: /evil'), { code: 'EGUEST_SHELL', message: /one line/ });
  await shell.addMountEntry(300, '/srv/x srv/x none bind 0 0');
  t.same(await shell.mountEntries(300), ['/srv/x srv/x none bind 0 0']);
  t.match(await pct.conf(300), /^arch: amd64\nhostname: ct300\nunprivileged: 1\nlxc\.mount\.entry: \/srv\/x srv\/x none bind 0 0\n$/, 'appended to the current configuration');
  await t.rejects(new PctGuestShell({ pct: pct.pct, confDir: join(pct.root, 'nowhere') }).addMountEntry(300, 'x'), { code: 'EGUEST_SHELL' });
  await t.rejects(shell.push(300, pct.pct, '/no/such/dir/file', 0o600), { message: /pct push 300: exit 255: failed to open/ });
  t.match(await shell.exec(300, ['frobnicate']), { code: 127 }, 'a failed command in the guest is returned, not thrown');
  await t.rejects(new PctGuestShell({ pct: join(pct.root, 'missing') }).status(300), { code: 'EGUEST_SHELL', message: /missing status/ });
  t.equal(await findPct({ FELHOM_PCT: pct.pct }), pct.pct);
  t.equal(await findPct({ FELHOM_PCT: join(pct.root, 'missing') }), undefined);
  t.equal(socketMountEntry('/srv/sockets/a'), `/srv/sockets/a ${GUEST_LOCAL_API_DIR.slice(1)} none bind,create=dir 0 0`);
  t.throws(() => socketMountEntry('/srv/my sockets/a'), { code: 'ECONTROLLER_DEPLOY', message: /white space/ });
  t.equal(await untraversable('/'), undefined);
  t.match(await untraversable(pct.root), { dir: pct.root, mode: 0o700 }, "a test's temporary directory is private");
});

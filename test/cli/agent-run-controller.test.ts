// `felhom agent run` on a Proxmox host deploys the in-guest controller into each guest of the
// applied spec (docs/agent.md "Deploying the controller"): through pct (here the stand-in of
// test/helpers/fake-pct.ts, named by $FELHOM_PCT) with the package in <state>/controller.deb, and
// the controller it leaves behind reaches the hub and its local-API socket. Without the package
// it says why and deploys nothing.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../cli/main.js';
import { DEPLOYMENTS_FILE } from '../../runner/enrollment/controller-deploy.js';
import { HubClient } from '../../runner/hub/client.js';
import { LocalApiClient } from '../../runner/local-api/client.js';
import { GOLDEN_TEMPLATE_FILE } from '../../runner/sim/proxmox/state.js';
import { agentWorld, BOX, boxSpec } from '../helpers/agent-fixture.js';
import { tempDir } from '../helpers/enrollment.js';
import { fakePct } from '../helpers/fake-pct.js';
import { startTestSimulator } from '../helpers/pve-sim.js';

async function hostWithGuest(t: Parameters<Parameters<typeof t.test>[1]>[0]) {
  // A host-tier state that applied the home box (one guest, customer, CT 200) ...
  const world = await agentWorld(t, { stateDir: join(tempDir(t), 'state') });
  await world.publish({ serial: 1, body: boxSpec() as never });
  const first = await world.agent();
  t.match(await first.cycle(), { status: 'done', items: [{ outcome: 'succeeded' }] });
  await first.close();
  // ... on a Proxmox host (the simulator for the API, the stand-in for pct) with that CT
  const sim = await startTestSimulator(t);
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, hostname: 'customer', ostemplate: `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`, rootfs: 'local-lvm:8', memory: 1024, start: 1 });
  await writeFile(join(world.stateDir, 'secrets', 'proxmox-api-token'), `${sim.sim.token}\n`, { mode: 0o600 });
  const caFile = join(world.stateDir, 'sim.pem');
  await writeFile(caFile, sim.sim.certificate);
  const pct = await fakePct(t);
  await pct.container(200);
  const env = { ...process.env, FELHOM_PROXMOX_API: sim.sim.url, FELHOM_PROXMOX_NODE: 'pve', FELHOM_PROXMOX_CA: caFile, FELHOM_PROXMOX_SIMULATED: '1', FELHOM_PCT: pct.pct, FELHOM_LXC_CONF_DIR: pct.confDir };
  // The guests' socket root, traversable by their unprivileged roots (the package's /var/lib/felhom-local-api)
  const sockets = join(tempDir(t), 's');
  await mkdir(sockets);
  await chmod(join(sockets, '..'), 0o711);
  let stderr = '';
  const stop = new AbortController();
  const start = () =>
    main(['agent', 'run', '--hub', world.hub.hub.url, '--box', BOX, '--tier', 'host', '--state', world.stateDir, '--trust', world.trustPath, '--log-format', 'json', '--wait', '1', '--local-api-sockets', sockets], {
      streams: { stdout: { write: () => true }, stderr: { write: (chunk: string) => (stderr += chunk) } },
      env,
      cwd: process.cwd(),
      stopSignal: stop.signal,
    });
  return { world, pct, sockets, stop, start, stderr: () => stderr };
}

async function until(condition: () => boolean | Promise<boolean>, ended: () => boolean): Promise<void> {
  while (!(await condition()) && !ended()) await new Promise((resolve) => setTimeout(resolve, 50));
}

t.test('agent run deploys the controller into the guest of the applied spec, once', async (t) => {
  const host = await hostWithGuest(t);
  const stage = join(tempDir(t), 'stage');
  await mkdir(join(stage, 'DEBIAN'), { recursive: true });
  await writeFile(join(stage, 'DEBIAN', 'control'), 'Package: felhom-agent\nVersion: 0.1.0\nArchitecture: all\nMaintainer: Felhom test <test@felhom.hu>\nDescription: test package\n');
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', stage, join(host.world.stateDir, 'controller.deb')], { stdio: 'ignore' });

  const running = host.start();
  let ended = false;
  void running.finally(() => (ended = true));
  const record = join(host.world.stateDir, 'local-api', DEPLOYMENTS_FILE);
  const deployed = async () => existsSync(record) && 'customer' in (JSON.parse(await readFile(record, 'utf8')) as { guests: object }).guests;
  await until(deployed, () => ended);
  t.ok(await deployed(), `the controller is recorded as deployed (${host.stderr().slice(-800)})`);

  const keys = join(host.pct.rootfs(200), 'var/lib/felhom-controller/keys');
  const hubApiKey = (await readFile(join(keys, 'hub-api-key'), 'utf8')).trim();
  const localApiToken = (await readFile(join(keys, 'local-api-token'), 'utf8')).trim();
  t.match(await new HubClient({ url: host.world.hub.hub.url, token: hubApiKey }).fetchSpec(BOX, 'guest'), { status: 'none' }, "the controller's hub key works");
  const socket = join(host.sockets, 'customer', 'api.sock');
  t.match(await new LocalApiClient({ socketPath: socket, token: localApiToken }).call('status'), { guest: 'customer', vmId: 200 }, 'and its local-API token');
  t.match(await host.pct.conf(200), `\nlxc.mount.entry: ${join(host.sockets, 'customer')} var/lib/felhom/local-api none bind,create=dir 0 0\n`, "the guest's socket directory is bind-mounted");
  t.equal(await host.pct.reboots(200), 1, 'and the guest rebooted once to mount it');

  // Later cycles find it deployed: no second package install, no new credentials.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  host.stop.abort();
  t.equal(await running, 0);
  t.equal((await host.pct.execs(200)).filter((argv) => argv.join(' ') === 'systemctl enable felhom-controller.service').length, 1, 'deployed once');
  t.equal(await host.pct.reboots(200), 1);
  t.equal((await readFile(join(keys, 'hub-api-key'), 'utf8')).trim(), hubApiKey);
  t.match(host.stderr(), /"msg":"controller deployed","guest":"customer","vmId":200/);
  t.notOk(host.stderr().includes(hubApiKey) || host.stderr().includes(localApiToken), 'no credential in the logs');
});

t.test('without the package, agent run says why and deploys nothing', async (t) => {
  const host = await hostWithGuest(t);
  const running = host.start();
  let ended = false;
  void running.finally(() => (ended = true));
  await until(() => host.stderr().includes('controller deployment off'), () => ended);
  host.stop.abort();
  t.equal(await running, 0);
  t.match(host.stderr(), /"msg":"controller deployment off","reason":"no controller package at [^"]*controller\.deb"/);
  t.same(await host.pct.execs(200), [], 'nothing ran in the guest');
});

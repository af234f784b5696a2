// The customer LXC through the real engine and the real proxmoxve plugin, against the PVE API
// simulator (runner/sim/proxmox/, checked against PVE's own API schema): created from the golden
// template with a bulk mount point, a second run changes nothing, a memory change is an in-place update, and a change made
// by hand on the host shows as drift on refresh. All of it with the agent's own scoped token, as
// `felhom agent proxmox-token` mints it (nesting only: no token may set keyctl). The storages and backup jobs of the full host tier
// cannot run on proxmoxve 8.3.0 (docs/pve-simulator.md#provider-storage-panic).
// There is no skipping: without the engine or the plugin the test fails and says how to install it.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as proxmoxve from '@muhlba91/pulumi-proxmoxve';
import type * as pulumi from '@pulumi/pulumi';
import { CustomerLxc } from '../../components/customer-lxc.js';
import { providerVersion } from '../../engine/plugins.js';
import { mintProxmoxToken } from '../../runner/enrollment/proxmox-token.js';
import { locateEngine, requirePlugins } from '../../runner/engine/locate.js';
import { createWorkspace } from '../../runner/engine/workspace.js';
import { GOLDEN_TEMPLATE_FILE } from '../../runner/sim/proxmox/state.js';
import { startTestSimulator } from '../helpers/pve-sim.js';

function program(endpoint: string, token: string, memoryMiB: number): pulumi.automation.PulumiFn {
  return async () => {
    const provider = new proxmoxve.Provider('sim', { endpoint, apiToken: token, insecure: true }, { version: providerVersion('proxmoxve') });
    const guest = new CustomerLxc('customer', {
      node: 'pve',
      vmId: 200,
      hostname: 'customer',
      osTemplateFileId: `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`,
      memoryMiB,
      diskGiB: 32,
      mountPoints: [{ storage: 'local-lvm', sizeGiB: 4, path: '/srv/data' }],
    }, { provider });
    return { vmId: guest.vmId };
  };
}

t.test('a customer LXC on the simulated host: create, no-op, update, drift', async (t) => {
  const engine = await locateEngine();
  requirePlugins(engine, [{ name: 'proxmoxve', version: providerVersion('proxmoxve') }]);
  const sim = await startTestSimulator(t);
  const root = await mkdtemp(join(tmpdir(), 'felhom-host-lxc-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const passphrase = randomBytes(18).toString('base64url');
  await mkdir(join(root, 'agent'), { mode: 0o700 });
  const minted = await mintProxmoxToken({ endpoint: sim.sim.url, rootToken: sim.sim.token, stateDir: join(root, 'agent'), ca: sim.sim.certificate });
  const token = (await readFile(minted.tokenFile, 'utf8')).trim();
  t.match(token, /^felhom-agent@pve!agent=/, "the agent's own token, not root's");
  const workspace = (memoryMiB: number) => createWorkspace({ projectName: 'host-lxc', stackName: 'hb-0001.host', program: program(sim.sim.url, token, memoryMiB), stateDir: join(root, 'state'), passphrase, engine });

  // when the program first runs, then the container exists on the host, from the golden template
  const { stack } = await workspace(4096);
  const up = await stack.up();
  t.equal(up.summary.result, 'succeeded', 'up succeeds');
  t.same(up.summary.resourceChanges, { create: 4 }, 'the stack, the provider, the component and the container are created');
  const config = await sim.api.get<Record<string, unknown>>('/nodes/pve/lxc/200/config');
  t.equal(Number(config.memory), 4096, 'memory as declared');
  t.equal(config.hostname, 'customer');
  t.equal(config.features, 'nesting=1', 'nesting, the one feature flag a token may set');
  // (backup off: the provider leaves out a false flag, and off is PVE's default for a mount point)
  t.match(config.mp0, /^local-lvm:vm-200-disk-\d+,mp=\/srv\/data,size=4G$/, 'the bulk mount point, at its path, out of vzdump');

  // when it runs again unchanged, then nothing changes
  const again = await stack.preview();
  t.notOk(again.changeSummary.update || again.changeSummary.create || again.changeSummary.replace || again.changeSummary.delete, `a second run is a no-op: ${JSON.stringify(again.changeSummary)}`);

  // when the memory changes, then the container is updated in place, never replaced
  const bigger = (await workspace(6144)).stack;
  const grow = await bigger.up();
  t.equal(grow.summary.resourceChanges?.update, 1, 'one update');
  t.notOk(grow.summary.resourceChanges?.replace, 'no replace');
  t.equal(Number((await sim.api.get<Record<string, unknown>>('/nodes/pve/lxc/200/config')).memory), 6144, 'the host has the new memory');

  // when someone changes the container by hand on the host, then refresh sees it and the next preview would put it back
  await sim.api.put('/nodes/pve/lxc/200/config', { memory: 2048 });
  const refresh = await bigger.refresh();
  t.equal(refresh.summary.resourceChanges?.update, 1, 'refresh records the hand change');
  const preview = await bigger.preview();
  t.equal(preview.changeSummary.update, 1, 'the next apply would restore the declared memory');

  // Why the agent bind-mounts a guest's local-API socket with a raw lxc.mount.entry line and not a
  // PVE mount point (docs/agent.md "Deploying the controller"): an mpN the program did not declare
  // is read back by the provider, and the only plan it has for it is a replacement, which protect refuses.
  await sim.api.put('/nodes/pve/lxc/200/config', { memory: 6144, mp255: '/var/lib/felhom-local-api/customer,mp=/var/lib/felhom/local-api' });
  await bigger.refresh();
  await t.rejects(bigger.preview(), /replace \[diff: [-~]mountPoints\][\s\S]*marked for protection/, 'an undeclared mount point would replace the guest');
});

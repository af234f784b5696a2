import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { proxmoxApiAccess } from '../../../runner/agent/host-access.js';
import { hostOperationsFor } from '../../../cli/commands/agent-run.js';
import { resolveBox } from '../../../stacks/spec/resolve.js';
import { catalogLookup } from '../../../stacks/spec/catalog.js';
import { validateBoxSpec } from '../../../stacks/spec/validate.js';
import { loadGoldenTemplate } from '../../../templates/lib/golden.js';
import { homeBox } from '../../helpers/box-spec.js';
import { startTestSimulator } from '../../helpers/pve-sim.js';

function stateDirWithToken(t: Parameters<Parameters<typeof t.test>[1]>[0], token: string): string {
  const dir = t.testdir();
  mkdirSync(join(dir, 'secrets'), { recursive: true });
  writeFileSync(join(dir, 'secrets', 'proxmox-api-token'), `${token}\n`, { mode: 0o600 });
  return dir;
}

t.test('without FELHOM_PROXMOX_API the agent has no API access, and a bad endpoint or a missing token stop it with the reason', async (t) => {
  t.same(await proxmoxApiAccess({}, t.testdir()), {});
  await t.rejects(proxmoxApiAccess({ FELHOM_PROXMOX_API: 'http://pve:8006' }, t.testdir()), { code: 'EAGENT_SETUP', message: /expected https:\/\/<host>:<port>/ });
  await t.rejects(proxmoxApiAccess({ FELHOM_PROXMOX_API: 'https://127.0.0.1:8006' }, t.testdir()), { code: 'EAGENT_SETUP', message: /no Proxmox API token in .*secrets\/proxmox-api-token/ });
  await t.rejects(proxmoxApiAccess({ FELHOM_PROXMOX_API: 'https://127.0.0.1:8006', FELHOM_PROXMOX_CA: '/nonexistent.pem' }, stateDirWithToken(t, 'root@pam!x=y')), { code: 'EAGENT_SETUP', message: /FELHOM_PROXMOX_CA/ });
  t.same(await hostOperationsFor('guest', { FELHOM_PROXMOX_API: 'https://127.0.0.1:8006' }, t.testdir()), {});
});

t.test('with FELHOM_PROXMOX_API pointing at the simulator, host operations and the storage check run over the PVE API', async (t) => {
  const sim = await startTestSimulator(t);
  await sim.control('PUT', '/_sim/media', { key: 'dir:/mnt/felhom/usb-media', identity: '3f1c2a9e-8d4b-4c61-9a57-2b0e6d1f4a88' });
  await sim.api.post('/storage', { storage: 'usb-media', type: 'dir', path: '/mnt/felhom/usb-media', content: 'rootdir,images' });
  const stateDir = stateDirWithToken(t, sim.sim.token);
  const caFile = join(stateDir, 'sim.pem');
  writeFileSync(caFile, sim.sim.certificate);
  const access = await hostOperationsFor('host', { FELHOM_PROXMOX_API: sim.sim.url, FELHOM_PROXMOX_NODE: 'pve', FELHOM_PROXMOX_SIMULATED: '1', FELHOM_PROXMOX_CA: caFile }, stateDir);
  t.ok(access.hostOperations);
  t.ok(await access.hostOperations!.isAvailable('usb-media'));
  const catalog = catalogLookup();
  const result = validateBoxSpec(homeBox(), { catalog });
  if (!result.ok) throw new Error('invalid example');
  const check = await access.storageMonitor!.check(resolveBox(result.spec, catalog, loadGoldenTemplate().sizing));
  t.same(check.report.targets.map((target) => target.condition), ['ok', 'undefined', 'undefined'], 'the disk is read from the simulated host; the other storages are not attached yet');
  const loopback = await proxmoxApiAccess({ FELHOM_PROXMOX_API: sim.sim.url, FELHOM_PROXMOX_NODE: 'pve' }, stateDir);
  t.ok(await loopback.hostOperations!.isAvailable('usb-media'), "a loopback endpoint's self-signed certificate is accepted");
});

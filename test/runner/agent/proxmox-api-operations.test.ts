import t from 'tap';
import { ProxmoxApiOperations } from '../../../runner/agent/proxmox-api-operations.js';
import { HostOperationError } from '../../../runner/agent/proxmox-operations.js';
import { GOLDEN_TEMPLATE_FILE } from '../../../runner/sim/proxmox/state.js';
import { startTestSimulator, type TestSimulator } from '../../helpers/pve-sim.js';

async function withGuest(t: Parameters<Parameters<typeof t.test>[1]>[0]): Promise<{ sim: TestSimulator; ops: ProxmoxApiOperations }> {
  const sim = await startTestSimulator(t);
  await sim.api.post('/storage', { storage: 'nas-backup', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup' });
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, hostname: 'customer', ostemplate: `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`, rootfs: 'local-lvm:32', memory: 4096, net0: 'name=eth0,bridge=vmbr0,ip=192.168.1.50/24,gw=192.168.1.1', start: 1 });
  const ops = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });
  return { sim, ops };
}

t.test('snapshot, health check, rollback and snapshot removal over the PVE API', async (t) => {
  const { sim, ops } = await withGuest(t);
  await ops.snapshot(200, 'felhom-predeploy');
  t.match(await sim.api.get('/nodes/pve/lxc/200/snapshot'), [{ name: 'felhom-predeploy', description: 'felhom snapshot-before-deploy' }, { name: 'current' }]);
  t.match(await ops.healthCheck(200), { healthy: true, detail: 'running and answering (eth0 192.168.1.50/24)' });

  await sim.api.put('/nodes/pve/lxc/200/config', { memory: 1024 });
  await sim.control('PUT', '/_sim/containers/200', { healthy: false });
  t.same(await ops.healthCheck(200), { healthy: false, detail: 'running but reports no network address' });
  await ops.rollback(200, 'felhom-predeploy');
  t.equal((await sim.api.get<Record<string, string>>('/nodes/pve/lxc/200/config')).memory, 4096, 'the config is back');
  t.match(await sim.api.get('/nodes/pve/lxc/200/status/current'), { status: 'running' }, 'and the guest started again');
  await ops.deleteSnapshot(200, 'felhom-predeploy');
  t.same((await sim.api.get<{ name: string }[]>('/nodes/pve/lxc/200/snapshot')).map((item) => item.name), ['current']);

  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc/200/status/stop');
  t.same(await ops.healthCheck(200), { healthy: false, detail: 'status: stopped' });
  t.match(await ops.healthCheck(999), { healthy: false, detail: /^no status: .*does not exist/ });
});

t.test('backups are listed per storage, and a restore onto a bare host starts from the archive', async (t) => {
  const { sim, ops } = await withGuest(t);
  await sim.api.runTask('POST', 'pve', '/nodes/pve/vzdump', { vmid: '200', storage: 'nas-backup' });
  t.ok(await ops.isAvailable('nas-backup'));
  t.notOk(await ops.isAvailable('nowhere'), 'a storage the host does not define is no source');
  const [backup] = await ops.listBackups('nas-backup');
  t.match(backup, { vmId: 200, volid: /^nas-backup:backup\/vzdump-lxc-200-/ });
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc/200/status/stop');
  await sim.api.runTask('DELETE', 'pve', '/nodes/pve/lxc/200');
  await ops.restore(200, backup!.volid, { storage: 'local-lvm' });
  await ops.start(200);
  t.match(await sim.api.get('/nodes/pve/lxc/200/status/current'), { status: 'running', name: 'customer' });
  await sim.control('PUT', '/_sim/media', { key: 'nfs:nas.lan:/volume1/felhom', attached: false });
  t.notOk(await ops.isAvailable('nas-backup'), 'an unreachable NAS is no source');
  await t.rejects(ops.listBackups('nas-backup'), HostOperationError);
});

t.test('a failing task, and names that are no Proxmox ids, are HostOperationErrors naming the call', async (t) => {
  const { sim, ops } = await withGuest(t);
  await sim.control('POST', '/_sim/faults', { tasks: [{ type: 'vzsnapshot', message: 'snapshot feature is not available', count: 1 }] });
  await t.rejects(ops.snapshot(200, 'felhom-predeploy'), { name: 'HostOperationError', code: 'EHOST_OPERATION', message: /POST \/nodes\/pve\/lxc\/200\/snapshot failed: .*snapshot feature is not available/ });
  await t.rejects(ops.snapshot(200, '1bad'), { code: 'EHOST_OPERATION', message: /snapshot name "1bad"/ });
  await t.rejects(ops.rollback(200, '../x'), HostOperationError);
  await t.rejects(ops.deleteSnapshot(200, ''), HostOperationError);
  await t.rejects(ops.isAvailable('--all'), HostOperationError);
  await t.rejects(ops.listBackups('a b'), HostOperationError);
  await t.rejects(ops.restore(200, 'x', { storage: '-x' }), HostOperationError);
  const unauthorised = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: 'root@pam!felhom=00000000-0000-0000-0000-000000000000', ca: sim.sim.certificate, node: 'pve' });
  await t.rejects(unauthorised.isAvailable('nas-backup'), { code: 'EHOST_OPERATION', message: /401 authentication failure/ });
  await t.rejects(unauthorised.guestExists(200), { code: 'EHOST_OPERATION', message: /status of guest 200: .*401/ });
  t.equal(await ops.guestExists(200), true);
  t.equal(await ops.guestExists(999), false);
});

/** The simulator's `PUT /nodes/{node}/lxc/{vmid}/resize`: grows a volume as `pct resize` does and refuses to shrink. */
import t from 'tap';
import { GOLDEN_TEMPLATE_FILE } from '../../../../runner/sim/proxmox/state.js';
import { startTestSimulator } from '../../../helpers/pve-sim.js';

t.test('resize grows rootfs to a size or by an amount; shrinking, bad sizes and unknown disks are refused', async (t) => {
  const { api } = await startTestSimulator(t);
  await api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 210, hostname: 'g', ostemplate: `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`, rootfs: 'local-lvm:8' });
  const rootfs = async () => (await api.get<{ rootfs: string }>('/nodes/pve/lxc/210/config')).rootfs;
  await api.runTask('PUT', 'pve', '/nodes/pve/lxc/210/resize', { disk: 'rootfs', size: '10G' });
  t.match(await rootfs(), /size=10G/);
  await api.runTask('PUT', 'pve', '/nodes/pve/lxc/210/resize', { disk: 'rootfs', size: '+2G' });
  t.match(await rootfs(), /size=12G/);
  await t.rejects(api.put('/nodes/pve/lxc/210/resize', { disk: 'rootfs', size: '4G' }), { message: /unable to shrink disk size/ });
  await t.rejects(api.put('/nodes/pve/lxc/210/resize', { disk: 'rootfs', size: 'big' }), { message: /size/ });
  await t.rejects(api.put('/nodes/pve/lxc/210/resize', { disk: 'mp7', size: '4G' }), { message: /disk 'mp7' does not exist/ });
  t.match(await rootfs(), /size=12G/, 'refusals changed nothing');
});

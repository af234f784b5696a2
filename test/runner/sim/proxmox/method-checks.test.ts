// The checks PVE makes inside the methods the host tier calls (runner/sim/proxmox/method-checks.ts),
// through the simulator's HTTP API with a token holding chosen roles: container create, restore
// and config changes, volumes, vzdump and backup jobs, and the lists filtered by privilege.
import t from 'tap';
import { PveApiClient } from '../../../../runner/agent/pve-api-client.js';
import { GOLDEN_TEMPLATE_FILE } from '../../../../runner/sim/proxmox/state.js';
import { startTestSimulator, type TestSimulator } from '../../../helpers/pve-sim.js';

type Test = Parameters<Parameters<typeof t.test>[1]>[0];
const TEMPLATE = `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`;

/** A host with guest 200, a NAS storage and a backup job, and a user token holding `grants` (path → privileges). */
async function withGrants(t: Test, grants: Record<string, string[]>): Promise<{ sim: TestSimulator; user: PveApiClient }> {
  const sim = await startTestSimulator(t);
  await sim.api.post('/storage', { storage: 'nas-backup', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup' });
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, hostname: 'customer', ostemplate: TEMPLATE, rootfs: 'local-lvm:8', net0: 'name=eth0,bridge=vmbr0,tag=20', features: 'nesting=1', start: 1 });
  await sim.api.post('/cluster/backup', { id: 'job1', storage: 'nas-backup', schedule: '02:30', vmid: '200' });
  await sim.api.post('/access/users', { userid: 'u@pve' });
  let index = 0;
  for (const [path, privileges] of Object.entries(grants)) {
    const role = `R${index++}`;
    await sim.api.post('/access/roles', { roleid: role, privs: privileges.join(',') });
    await sim.api.put('/access/acl', { path, roles: role, users: 'u@pve' });
  }
  const made = await sim.api.post<{ value: string }>('/access/users/u@pve/token/tk', { privsep: 0 });
  return { sim, user: new PveApiClient({ endpoint: sim.sim.url, token: `u@pve!tk=${made.value}`, ca: sim.sim.certificate, pollMs: 20 }) };
}

const GUEST = ['VM.Allocate', 'VM.Audit', 'VM.Backup', 'VM.Config.CPU', 'VM.Config.Disk', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.PowerMgmt', 'VM.Snapshot'];

t.test('container config: root-only keys, bridges with VLAN tags, volumes and their storages', async (t) => {
  const { user } = await withGrants(t, { '/vms': GUEST, '/storage/local-lvm': ['Datastore.AllocateSpace'], '/sdn/zones/localnetwork/vmbr0/30': ['SDN.Use'] });
  const config = '/nodes/pve/lxc/200/config';
  await t.rejects(user.put(config, { net0: 'name=eth0,bridge=vmbr0,tag=30' }), { status: 403, message: /\/sdn\/zones\/localnetwork\/vmbr0\/20, SDN\.Use/ }, 'the old tag is checked too');
  await t.rejects(user.put(config, { dev0: '/dev/ttyUSB0' }), { status: 403, message: /device passthrough is only allowed for root@pam/ });
  await t.rejects(user.put(config, { hookscript: 'local:snippets/x.sh' }), { status: 403, message: /hookscript is only allowed for root@pam/ });
  await t.rejects(user.put(config, { net1: 'name=eth1,bridge=vmbr1' }), { status: 403, message: /\/sdn\/zones\/localnetwork\/vmbr1, SDN\.Use/ }, 'an untagged bridge is checked whole');
  await user.put(config, { delete: 'features' });
  t.notOk((await user.get<Record<string, string>>(config)).features, 'turning nesting off is VM.Allocate, which it holds');
  await user.put(config, { nameserver: '1.1.1.1', tags: 'felhom', cores: 2, swap: 256, onboot: 1 });
  await user.put(config, { mp0: 'local-lvm:4,mp=/mnt/data' });
  await t.rejects(user.put(config, { mp1: 'nas-backup:4,mp=/mnt/other' }), { status: 403, message: /\/storage\/nas-backup, Datastore\.AllocateSpace/ });
  await t.rejects(user.put(config, { mp1: 'local-lvm:vm-999-disk-0,mp=/mnt/other' }), { status: 403, message: /Datastore\.Audit/ }, "another guest's volume");
  await t.rejects(user.put(config, { mp1: 'local:iso/x.iso,mp=/mnt/iso' }), { status: 403 }, 'an ISO needs audit on its storage');
  await t.rejects(user.put(config, { mp1: '/srv/data,mp=/mnt/bind' }), { status: 403, message: /mount point type bind is only allowed for root@pam/ });
  await user.put(config, { delete: 'mp0' });
});

t.test("creating: VM.Allocate, privileged containers need Sys.Modify on /, templates need their storage, restore over an existing guest with VM.Backup", async (t) => {
  const { sim, user } = await withGrants(t, { '/vms/300': ['VM.Config.Disk', 'VM.Config.Options', 'VM.Config.Network'], '/vms/200': ['VM.Backup', 'VM.Audit'], '/storage/local-lvm': ['Datastore.AllocateSpace'] });
  const create = (params: Record<string, string | number>) => user.post('/nodes/pve/lxc', { vmid: 300, ostemplate: TEMPLATE, rootfs: 'local-lvm:8', ...params });
  await t.rejects(create({}), { status: 403, message: 'POST /nodes/pve/lxc: 403 Permission check failed' }, 'no VM.Allocate');
  await sim.api.post('/access/roles', { roleid: 'Alloc', privs: 'VM.Allocate,VM.Config.Disk,VM.Config.Options,VM.Config.Network' });
  await sim.api.put('/access/acl', { path: '/vms/300', roles: 'Alloc', users: 'u@pve' });
  await t.rejects(create({ unprivileged: 0 }), { status: 403, message: /\(\/, Sys\.Modify\)/ });
  await t.rejects(create({ 'ha-managed': 1 }), { status: 403, message: /\(\/, Sys\.Console\)/ });
  await t.rejects(create({}), { status: 403, message: /\/storage\/local, Datastore\.AllocateSpace\|Datastore\.Audit/ }, 'the template on local');
  // Another guest's archive needs space on its storage and VM.Backup on that guest.
  await sim.api.runTask('POST', 'pve', '/nodes/pve/vzdump', { vmid: '200', storage: 'nas-backup' });
  const [archive] = await sim.api.get<{ volid: string }[]>('/nodes/pve/storage/nas-backup/content');
  await t.rejects(user.post('/nodes/pve/lxc', { vmid: 300, ostemplate: archive!.volid, restore: 1, storage: 'local-lvm' }), { status: 403, message: /\/storage\/nas-backup, Datastore\.AllocateSpace/ });
  await sim.api.post('/access/roles', { roleid: 'Tpl', privs: 'Datastore.Audit' });
  await sim.api.put('/access/acl', { path: '/storage/local', roles: 'Tpl', users: 'u@pve' });
  await user.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 300, ostemplate: TEMPLATE, rootfs: 'local-lvm:8', hostname: 'three' });
  await t.rejects(user.post('/nodes/pve/lxc', { vmid: 301, ostemplate: TEMPLATE, storage: 'local-lvm' }), { status: 403 }, 'no VM.Allocate on 301');

  // Restore over guest 200 with VM.Backup only, from its own archive (PVE: "we are owner - allow access").
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc/200/status/stop');
  await t.rejects(user.post('/nodes/pve/lxc', { vmid: 200, ostemplate: archive!.volid, restore: 1, storage: 'local-lvm' }), { status: 500, message: /CT 200 already exists/ }, 'without force an existing guest stays');
  await user.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, ostemplate: archive!.volid, restore: 1, force: 1, storage: 'local-lvm' });
  t.match(await user.get('/nodes/pve/lxc/200/status/current'), { vmid: 200 });
});

t.test('vzdump and backup jobs: root-only options, Sys.Modify for bandwidth, Datastore.Allocate for retention and jobs', async (t) => {
  const { sim, user } = await withGrants(t, { '/vms': ['VM.Backup', 'VM.Audit'], '/storage/nas-backup': ['Datastore.AllocateSpace'], '/': ['Sys.Audit', 'Sys.Modify'] });
  const dump = (params: Record<string, string | number>) => user.post('/nodes/pve/vzdump', { vmid: '200', storage: 'nas-backup', ...params });
  await t.rejects(dump({ dumpdir: '/tmp' }), { status: 400, errors: { dumpdir: 'Only root may set this option.' } });
  await t.rejects(dump({ 'prune-backups': 'keep-last=1' }), { status: 403, message: /\/storage\/nas-backup, Datastore\.Allocate/ });
  await t.rejects(user.post('/nodes/pve/vzdump', { vmid: '200', storage: 'local' }), { status: 403, message: /\/storage\/local, Datastore\.AllocateSpace/ });
  await user.runTask('POST', 'pve', '/nodes/pve/vzdump', { vmid: '200', storage: 'nas-backup', bwlimit: 1000 });
  t.equal((await user.get<unknown[]>('/nodes/pve/storage/nas-backup/content')).length, 1);

  await t.rejects(user.post('/cluster/backup', { id: 'job2', storage: 'nas-backup', schedule: '03:00', vmid: '200' }), { status: 403, message: /\/storage\/nas-backup, Datastore\.Allocate/ });
  await t.rejects(user.post('/cluster/backup', { id: 'job2', schedule: '03:00', vmid: '200' }), { status: 403, message: /\/storage\/local, Datastore\.Allocate/ }, 'no storage means local');
  await t.rejects(user.put('/cluster/backup/job1', { enabled: 0 }), { status: 403, message: /\/storage\/nas-backup, Datastore\.Allocate/ }, "the job's own storage");
  await sim.api.post('/access/roles', { roleid: 'NasAll', privs: 'Datastore.Allocate,Datastore.AllocateSpace' });
  await sim.api.put('/access/acl', { path: '/storage/nas-backup', roles: 'NasAll', users: 'u@pve' });
  await user.put('/cluster/backup/job1', { enabled: 0 });
  await sim.api.put('/cluster/backup/job1', { dumpdir: '/srv/dumps' });
  await t.rejects(user.put('/cluster/backup/job1', { enabled: 1 }), { status: 403, message: /only root@pam may edit jobs with a 'dumpdir' option/ });
});

t.test('lists show only what the token may see, and tasks of others need the node', async (t) => {
  const { sim, user } = await withGrants(t, { '/storage/nas-backup': ['Datastore.Audit'] });
  t.same((await user.get<{ storage: string }[]>('/storage')).map((entry) => entry.storage), ['nas-backup']);
  t.same((await user.get<{ storage: string }[]>('/nodes/pve/storage')).map((entry) => entry.storage), ['nas-backup']);
  const resources = await user.get<{ type: string; storage?: string }[]>('/cluster/resources');
  t.notOk(resources.some((entry) => entry.type === 'lxc'), 'no guest it may not audit');
  t.same(resources.filter((entry) => entry.type === 'storage').map((entry) => entry.storage), ['nas-backup']);
  const upid = await sim.api.post<string>('/nodes/pve/lxc/200/snapshot', { snapname: 'x1' });
  await t.rejects(user.get(`/nodes/pve/tasks/${encodeURIComponent(upid)}/log`), { status: 403, message: /\/nodes\/pve, Sys\.Audit/ });
  await t.rejects(user.delete(`/nodes/pve/tasks/${encodeURIComponent(upid)}`), { status: 403, message: /\/nodes\/pve, Sys\.Modify/ });
});

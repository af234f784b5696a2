// The agent's Proxmox privileges (runner/enrollment/proxmox-privileges.ts), both ways against the
// PVE simulator, which enforces PVE's permission checks: sufficient (the minted token does what
// the host tier does, through the agent's own operations classes) and minimal (a role lacking any
// one privilege of the table makes the call that row names fail with PVE's 403). And the table in
// docs/agent.md is the constant's.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PveDecommissionOperations } from '../../../runner/agent/jobs/decommission-pve.js';
import { PveApiClient } from '../../../runner/agent/pve-api-client.js';
import { ProxmoxApiOperations } from '../../../runner/agent/proxmox-api-operations.js';
import { pveStorageProbe } from '../../../runner/agent/storage-health.js';
import { PROXMOX_AGENT_GRANTS, agentPrivileges, privilegeTable, rolePrivileges } from '../../../runner/enrollment/proxmox-privileges.js';
import { mintProxmoxToken } from '../../../runner/enrollment/proxmox-token.js';
import { PveGuestOperations } from '../../../runner/local-api/guest-operations.js';
import { schemaPrivileges } from '../../../runner/sim/proxmox/access.js';
import { PveApiSchema } from '../../../runner/sim/proxmox/schema.js';
import { GOLDEN_TEMPLATE_FILE } from '../../../runner/sim/proxmox/state.js';
import { pveSchemaFile, startTestSimulator, type TestSimulator } from '../../helpers/pve-sim.js';

type Test = Parameters<Parameters<typeof t.test>[1]>[0];

const TEMPLATE = `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`;
const JOB = 'felhom-hb-0001-nightly-nas';

/** A host with the NAS storage, guest 200 and a backup job made by root, and the agent's minted token. */
async function mintedHost(t: Test): Promise<{ sim: TestSimulator; token: string; agent: PveApiClient }> {
  const sim = await startTestSimulator(t);
  await sim.api.post('/storage', { storage: 'nas-backup', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup' });
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, hostname: 'customer', ostemplate: TEMPLATE, rootfs: 'local-lvm:32', memory: 4096, net0: 'name=eth0,bridge=vmbr0,ip=192.168.1.50/24,gw=192.168.1.1', start: 1 });
  await sim.api.post('/cluster/backup', { id: JOB, storage: 'nas-backup', schedule: '02:30', vmid: '200', enabled: 1 });
  const state = await mkdtemp(join(tmpdir(), 'felhom-pve-privileges-'));
  t.teardown(() => rm(state, { recursive: true, force: true }));
  const minted = await mintProxmoxToken({ endpoint: sim.sim.url, rootToken: sim.sim.token, stateDir: state, ca: sim.sim.certificate });
  const token = (await readFile(minted.tokenFile, 'utf8')).trim();
  return { sim, token, agent: new PveApiClient({ endpoint: sim.sim.url, token, ca: sim.sim.certificate, pollMs: 20 }) };
}

t.test("docs/agent.md shows the constant's table, row for row", async (t) => {
  const docs = readFileSync(new URL('../../../docs/agent.md', import.meta.url), 'utf8');
  const begin = docs.indexOf('<!-- proxmox-privileges:begin');
  const end = docs.indexOf('<!-- proxmox-privileges:end -->');
  t.ok(begin >= 0 && end > begin, 'the table has its markers');
  t.equal(docs.slice(docs.indexOf('\n', begin) + 1, end).trim(), privilegeTable());
});

t.test("every privilege of the table is one of PVE's, each once, one role per path", async (t) => {
  const known = schemaPrivileges(await PveApiSchema.load(pveSchemaFile()));
  t.ok(known.length > 40, "PVE's schema lists its privileges");
  for (const privilege of agentPrivileges()) t.ok(known.includes(privilege), `${privilege} is a PVE privilege`);
  const rows = PROXMOX_AGENT_GRANTS.flatMap((grant) => grant.privileges.map((use) => `${grant.path} ${use.privilege}`));
  t.equal(new Set(rows).size, rows.length, 'no row twice');
  t.equal(new Set(PROXMOX_AGENT_GRANTS.map((grant) => grant.path)).size, PROXMOX_AGENT_GRANTS.length, 'one grant per path');
  t.equal(new Set(PROXMOX_AGENT_GRANTS.map((grant) => grant.role)).size, PROXMOX_AGENT_GRANTS.length, 'one role per grant');
  t.notOk(agentPrivileges().some((privilege) => ['Permissions.Modify', 'Sys.PowerMgmt', 'Realm.AllocateUser', 'VM.Console'].includes(privilege)), 'nothing that widens its own reach');
});

t.test('the minted token does what the host tier does, through the agent\'s own operations', async (t) => {
  const { sim, token, agent } = await mintedHost(t);
  const options = { endpoint: sim.sim.url, token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 };
  const ops = new ProxmoxApiOperations(options);
  const guests = new PveGuestOperations(options);

  // What the host program does through the provider: a storage, a customer guest (nesting only), a backup job.
  await sim.control('PUT', '/_sim/media', { key: 'dir:/mnt/felhom/usb-media', identity: '3f1c2a9e-8d4b-4c61-9a57-2b0e6d1f4a88' });
  await agent.post('/storage', { storage: 'usb-media', type: 'dir', path: '/mnt/felhom/usb-media', content: 'rootdir,images', 'create-base-path': 0 });
  await agent.put('/storage/usb-media', { content: 'rootdir,images,backup' });
  await agent.runTask('POST', 'pve', '/nodes/pve/lxc', {
    vmid: 201, hostname: 'customer-two', ostemplate: TEMPLATE, rootfs: 'local-lvm:32', mp0: 'usb-media:100,mp=/mnt/bulk/usb-media,backup=0',
    memory: 4096, swap: 512, cores: 2, net0: 'name=eth0,bridge=vmbr0,ip=192.168.1.51/24,gw=192.168.1.1', features: 'nesting=1',
    unprivileged: 1, onboot: 1, protection: 0, tags: 'felhom', description: 'Felhom customer guest', ostype: 'debian',
  });
  await ops.start(201);
  await agent.post('/cluster/backup', { id: 'felhom-hb-0001-two', storage: 'nas-backup', schedule: '03:30', vmid: '201', enabled: 1, mode: 'snapshot', compress: 'zstd', 'prune-backups': 'keep-last=3' });
  t.match(await agent.get('/cluster/backup/felhom-hb-0001-two'), { storage: 'nas-backup', vmid: '201' });
  t.ok((await agent.get<{ vmid: number }[]>('/nodes/pve/lxc')).some((guest) => guest.vmid === 201), 'it lists the guests');

  // Snapshot before a deploy, grow memory and disk, the health check, roll back, delete the snapshot.
  await ops.snapshot(201, 'felhom-predeploy');
  await guests.setMemory(201, 6144);
  await guests.growDisk(201, 40);
  t.match(await guests.guestState(201), { status: 'running', memoryMiB: 6144, diskGiB: 40 });
  t.match(await ops.healthCheck(201), { healthy: true });
  await ops.rollback(201, 'felhom-predeploy');
  t.match(await guests.guestState(201), { status: 'running', memoryMiB: 4096 }, 'the rollback restored the config and started the guest');
  t.same((await guests.listSnapshots(201)).map((snapshot) => snapshot.name), ['felhom-predeploy']);
  await ops.deleteSnapshot(201, 'felhom-predeploy');
  t.same(await guests.listSnapshots(201), []);

  // Back up now, the storage checks, and holding a backup job while its target is away.
  await guests.backupNow(201, 'nas-backup');
  t.ok(await ops.isAvailable('nas-backup'));
  const [archive] = await ops.listBackups('nas-backup');
  t.match(archive, { vmId: 201 });
  const probe = pveStorageProbe(ops.client, 'pve', async () => undefined);
  t.match(await probe.definition('nas-backup'), { type: 'nfs', server: 'nas.lan' });
  t.same(await probe.status('nas-backup'), { enabled: true, active: true });
  t.equal(await probe.jobEnabled(JOB), true);
  await probe.setJobEnabled(JOB, false);
  t.equal(await probe.jobEnabled(JOB), false, 'held');

  // Restore onto a host that lost the guest.
  await agent.runTask('POST', 'pve', '/nodes/pve/lxc/201/status/stop');
  await agent.runTask('DELETE', 'pve', '/nodes/pve/lxc/201');
  t.notOk(await ops.guestExists(201));
  await ops.restore(201, archive!.volid, { storage: 'local-lvm' });
  await ops.start(201);
  t.ok(await ops.guestExists(201));

  // Decommission: the final backup, then the token revokes itself.
  const decommission = new PveDecommissionOperations(ops, token);
  // vzdump names an archive by the second: the final backup of 201 must not share the earlier one's name.
  const second = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === second) await new Promise((resolve) => setTimeout(resolve, 50));
  t.match(await decommission.backupNow([200, 201], 'nas-backup'), [{ vmId: 200 }, { vmId: 201 }]);
  await decommission.revokeApiToken();
  await t.rejects(agent.get('/version'), { status: 401 }, 'the token is gone');
});

t.test("the customer LXC's keyctl flag is root@pam's alone: the token may create a guest with nesting only", async (t) => {
  const { agent } = await mintedHost(t);
  await t.rejects(
    agent.post('/nodes/pve/lxc', { vmid: 202, hostname: 'keyctl', ostemplate: TEMPLATE, rootfs: 'local-lvm:8', features: 'nesting=1,keyctl=1', unprivileged: 1 }),
    { status: 403, message: /changing feature flags \(except nesting\) is only allowed for root@pam/ },
  );
  await t.rejects(agent.put('/nodes/pve/lxc/200/config', { features: 'nesting=1,keyctl=1' }), { status: 403 }, 'nor turn it on later');
  await t.rejects(agent.post('/nodes/pve/lxc', { vmid: 203, ostemplate: TEMPLATE, rootfs: '/srv/host-dir' }), { status: 403 }, 'a bind mount is root@pam\'s too');
});

/** One call of the host tier per privilege (the row's "used by"), and PVE's refusal without it. */
const PROBES: Record<string, { call: (agent: PveApiClient) => Promise<unknown>; refusal: RegExp }> = {
  'VM.Allocate': { call: (agent) => agent.post('/nodes/pve/lxc', { vmid: 300, hostname: 'probe', ostemplate: TEMPLATE, rootfs: 'local-lvm:8', features: 'nesting=1' }), refusal: /Permission check failed/ },
  'VM.Audit': { call: (agent) => agent.get('/nodes/pve/lxc/200/status/current'), refusal: /\(\/vms\/200, VM\.Audit\)/ },
  'VM.Backup': { call: (agent) => agent.post('/nodes/pve/vzdump', { vmid: '200', storage: 'nas-backup', mode: 'snapshot' }), refusal: /\(\/vms\/200, VM\.Backup\)/ },
  'VM.Config.CPU': { call: (agent) => agent.put('/nodes/pve/lxc/200/config', { cores: 2 }), refusal: /\(\/vms\/200, VM\.Config\.CPU\)/ },
  'VM.Config.Disk': { call: (agent) => agent.put('/nodes/pve/lxc/200/resize', { disk: 'rootfs', size: '+1G' }), refusal: /\(\/vms\/200, VM\.Config\.Disk\)/ },
  'VM.Config.Memory': { call: (agent) => agent.put('/nodes/pve/lxc/200/config', { memory: 6144 }), refusal: /\(\/vms\/200, VM\.Config\.Memory\)/ },
  'VM.Config.Network': { call: (agent) => agent.put('/nodes/pve/lxc/200/config', { hostname: 'renamed' }), refusal: /\(\/vms\/200, VM\.Config\.Network\)/ },
  'VM.Config.Options': { call: (agent) => agent.put('/nodes/pve/lxc/200/config', { description: 'changed' }), refusal: /\(\/vms\/200, VM\.Config\.Options\)/ },
  'VM.PowerMgmt': { call: (agent) => agent.post('/nodes/pve/lxc/200/status/shutdown'), refusal: /\(\/vms\/200, VM\.PowerMgmt\)/ },
  'VM.Snapshot': { call: (agent) => agent.post('/nodes/pve/lxc/200/snapshot', { snapname: 'felhom-predeploy' }), refusal: /\(\/vms\/200, VM\.Snapshot\|VM\.Snapshot\.Rollback\)|\(\/vms\/200, VM\.Snapshot\)/ },
  'Datastore.Allocate': { call: (agent) => agent.get('/storage/nas-backup'), refusal: /\(\/storage\/nas-backup, Datastore\.Allocate\)/ },
  'Datastore.AllocateSpace': { call: (agent) => agent.get('/nodes/pve/storage/nas-backup/status'), refusal: /\(\/storage\/nas-backup, Datastore\.Audit\|Datastore\.AllocateSpace\)/ },
  'SDN.Use': { call: (agent) => agent.put('/nodes/pve/lxc/200/config', { net0: 'name=eth0,bridge=vmbr0,ip=192.168.1.52/24,gw=192.168.1.1' }), refusal: /\(\/sdn\/zones\/localnetwork\/vmbr0, SDN\.Use\)/ },
  'Sys.Audit': { call: (agent) => agent.get(`/cluster/backup/${JOB}`), refusal: /\(\/, Sys\.Audit\)/ },
  'Sys.Modify': { call: (agent) => agent.put(`/cluster/backup/${JOB}`, { enabled: 0 }), refusal: /\(\/, Sys\.Modify\)/ },
  'User.Modify': { call: (agent) => agent.get('/access/users/felhom-agent@pve/token'), refusal: /Permission check failed/ },
};

t.test('each privilege is needed: a role without it makes its call fail with PVE\'s 403', async (t) => {
  t.same(Object.keys(PROBES).sort(), agentPrivileges(), 'every privilege of the table has its call');
  const { sim, agent } = await mintedHost(t);
  for (const grant of PROXMOX_AGENT_GRANTS) {
    const all = rolePrivileges(grant);
    for (const privilege of all) {
      await sim.api.put(`/access/roles/${grant.role}`, { privs: all.filter((other) => other !== privilege).join(',') });
      const refused = await PROBES[privilege]!.call(agent).then(() => undefined, (error: { status?: number; message?: string }) => error);
      t.match(refused, { status: 403, message: PROBES[privilege]!.refusal }, `without ${privilege} on ${grant.path}`);
      await sim.api.put(`/access/roles/${grant.role}`, { privs: all.join(',') });
    }
  }
  // And with the whole role each call goes through (the read-only ones, so the host stays as it was).
  for (const privilege of ['VM.Audit', 'Datastore.Allocate', 'Datastore.AllocateSpace', 'Sys.Audit', 'User.Modify']) await PROBES[privilege]!.call(agent);
  t.pass('the full roles pass the probes');
});

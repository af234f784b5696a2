import t from 'tap';
import { join } from 'node:path';
import { PveApiError, PveTaskError } from '../../../../runner/agent/pve-api-client.js';
import { GOLDEN_TEMPLATE_FILE } from '../../../../runner/sim/proxmox/state.js';
import { startSimulator } from '../../../../runner/sim/proxmox/server.js';
import { pveSchemaFile, rawRequest, startTestSimulator, type TestSimulator } from '../../../helpers/pve-sim.js';

const TEMPLATE = `local:vztmpl/${GOLDEN_TEMPLATE_FILE}`;

/** The example home box's storages: a USB disk (dir), the NAS (nfs), the offsite PBS. */
async function attachStorages({ api, control }: TestSimulator): Promise<void> {
  await control('PUT', '/_sim/media', { key: 'dir:/mnt/felhom/usb-media', identity: '3f1c2a9e-8d4b-4c61-9a57-2b0e6d1f4a88' });
  await api.post('/storage', { storage: 'usb-media', type: 'dir', path: '/mnt/felhom/usb-media', content: 'rootdir,images', 'create-base-path': false, nodes: 'pve' });
  await api.post('/storage', { storage: 'nas-backup', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup', options: 'vers=4.2' });
}

async function createGuest({ api }: TestSimulator, extra: Record<string, string | number> = {}): Promise<void> {
  await api.runTask('POST', 'pve', '/nodes/pve/lxc', {
    vmid: 200, hostname: 'customer', ostemplate: TEMPLATE, ostype: 'debian', cores: 4, memory: 12288, swap: 512,
    rootfs: 'local-lvm:96', mp0: 'usb-media:1800,mp=/mnt/bulk/usb-media,backup=0', net0: 'name=eth0,bridge=vmbr0,ip=192.168.1.50/24,gw=192.168.1.1',
    features: 'nesting=1', unprivileged: 1, onboot: 1, protection: 1, tags: 'felhom', ...extra,
  });
}

t.test('storages are created, listed with their status, and hold the golden template', async (t) => {
  const sim = await startTestSimulator(t);
  await attachStorages(sim);
  const storages = await sim.api.get<{ storage: string; type: string }[]>('/storage');
  t.same(storages.map((storage) => `${storage.storage}:${storage.type}`), ['local:dir', 'local-lvm:lvmthin', 'usb-media:dir', 'nas-backup:nfs']);
  t.match(await sim.api.get('/storage/nas-backup'), { type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup' });
  t.match(await sim.api.get('/nodes/pve/storage/nas-backup/status'), { active: 1, enabled: 1, type: 'nfs', shared: 1 });
  t.match(await sim.api.get('/nodes/pve/storage/local/content', { content: 'vztmpl' }), [{ volid: TEMPLATE, content: 'vztmpl' }]);
  const again = await sim.api.post('/storage', { storage: 'nas-backup', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom' }).catch((error: unknown) => error);
  t.match(again, { status: 500, message: /already defined/ });
  await sim.api.put('/storage/nas-backup', { content: 'backup,iso', delete: 'options' });
  t.notOk(((await sim.api.get('/storage/nas-backup')) as Record<string, unknown>).options);
  await sim.api.delete('/storage/nas-backup');
  t.match(await sim.api.get('/storage/nas-backup').catch((error: unknown) => error), { status: 500, message: /does not exist/ });
});

t.test('a PBS storage is refused when the server is unreachable or its fingerprint differs, and secrets are never returned', async (t) => {
  const sim = await startTestSimulator(t);
  const fingerprint = Array.from({ length: 32 }, () => 'ab').join(':');
  const pbs = { storage: 'offsite', type: 'pbs', server: 'pbs.felhom.hu', datastore: 'customers', namespace: 'customers/c-1042', username: 'felhom@pbs!agent', password: 'secret-token', 'encryption-key': '{"kdf":null}', fingerprint };
  await sim.control('PUT', '/_sim/media', { key: 'pbs:pbs.felhom.hu/customers/customers/c-1042', attached: false, identity: fingerprint });
  t.match(await sim.api.post('/storage', pbs).catch((error: unknown) => error), { status: 500, message: /Can't connect to pbs\.felhom\.hu:8007/ });
  await sim.control('PUT', '/_sim/media', { key: 'pbs:pbs.felhom.hu/customers/customers/c-1042', attached: true, identity: fingerprint.replace(/^ab/, 'cd') });
  t.match(await sim.api.post('/storage', pbs).catch((error: unknown) => error), { status: 500, message: /not verified/ });
  await sim.control('PUT', '/_sim/media', { key: 'pbs:pbs.felhom.hu/customers/customers/c-1042', identity: fingerprint });
  await sim.api.post('/storage', pbs);
  const shown = JSON.stringify(await sim.api.get('/storage/offsite'));
  t.notMatch(shown, /secret-token|kdf/);
});

t.test('an LXC is created from the golden template with its bulk mount point, read, updated, started, stopped and deleted', async (t) => {
  const sim = await startTestSimulator(t);
  await attachStorages(sim);
  const { api } = sim;
  // Long enough that the task is surely still running when looked at, on a busy machine too.
  await sim.control('PUT', '/_sim/task-delay', { ms: 1500 });
  const upid = await api.post<string>('/nodes/pve/lxc', { vmid: 200, hostname: 'customer', ostemplate: TEMPLATE, rootfs: 'local-lvm:96', mp0: 'usb-media:1800,mp=/mnt/bulk/usb-media,backup=0', net0: 'name=eth0,bridge=vmbr0,ip=192.168.1.50/24,gw=192.168.1.1', memory: 12288, protection: 1 });
  t.match(upid, /^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzcreate:200:root@pam!felhom:$/);
  t.match(await api.get(`/nodes/pve/tasks/${encodeURIComponent(upid)}/status`), { status: 'running', type: 'vzcreate', id: '200' });
  t.match(await api.get('/nodes/pve/lxc/200/config'), { lock: 'create' }, 'locked while the task runs');
  await api.waitForTask('pve', upid);
  await sim.control('PUT', '/_sim/task-delay', { ms: 50 });
  t.match(await api.get(`/nodes/pve/tasks/${encodeURIComponent(upid)}/status`), { status: 'stopped', exitstatus: 'OK' });
  t.match(await api.get(`/nodes/pve/tasks/${encodeURIComponent(upid)}/log`), [{ n: 1 }, { t: 'TASK OK' }]);
  const config = await api.get<Record<string, string>>('/nodes/pve/lxc/200/config');
  t.equal(config.rootfs, 'local-lvm:vm-200-disk-0,size=96G');
  t.equal(config.mp0, 'usb-media:200/vm-200-disk-1.raw,mp=/mnt/bulk/usb-media,backup=0,size=1800G');
  t.match(config.net0, /^name=eth0,hwaddr=BC(:[0-9A-F]{2}){5},bridge=vmbr0,ip=192\.168\.1\.50\/24,gw=192\.168\.1\.1$/);
  t.notOk(config.lock);
  t.match(config.digest, /^[0-9a-f]{40}$/);
  t.match(await api.get('/nodes/pve/storage/usb-media/content'), [{ volid: 'usb-media:200/vm-200-disk-1.raw', vmid: 200, size: 1800 * 2 ** 30 }]);
  // The volume as a `volume=` key after the path, the way the proxmoxve provider sends it: PVE keeps the path.
  await api.put('/nodes/pve/lxc/200/config', { mp1: 'mp=/srv/data,volume=local-lvm:4,backup=0' });
  t.equal((await api.get<Record<string, string>>('/nodes/pve/lxc/200/config')).mp1, 'local-lvm:vm-200-disk-2,mp=/srv/data,backup=0,size=4G');

  t.match(await api.post('/nodes/pve/lxc', { vmid: 200, ostemplate: TEMPLATE }).catch((error: unknown) => error), { status: 500, message: /CT 200 already exists on node 'pve'/ });
  await api.put('/nodes/pve/lxc/200/config', { memory: 16384, delete: 'tags' });
  t.equal((await api.get<Record<string, string>>('/nodes/pve/lxc/200/config')).memory, 16384, 'typed as PVE types it: a number');
  t.match(await api.put('/nodes/pve/lxc/200/config', { memory: 2048, digest: config.digest }).catch((error: unknown) => error), { status: 500, message: /detected modified configuration/ });

  t.match(await api.get('/nodes/pve/lxc/200/status/current'), { status: 'stopped', maxmem: 16384 * 2 ** 20, name: 'customer' });
  await api.runTask('POST', 'pve', '/nodes/pve/lxc/200/status/start');
  t.match(await api.get('/nodes/pve/lxc/200/status/current'), { status: 'running' });
  t.match(await api.post('/nodes/pve/lxc/200/status/start').catch((error: unknown) => error), { status: 500, message: /already running/ });
  t.match(await api.delete('/nodes/pve/lxc/200').catch((error: unknown) => error), { status: 500, message: /is running - destroy failed/ });
  await api.runTask('POST', 'pve', '/nodes/pve/lxc/200/status/shutdown');
  t.match(await api.delete('/nodes/pve/lxc/200').catch((error: unknown) => error), { status: 500, message: /protection mode enabled/ });
  await api.put('/nodes/pve/lxc/200/config', { protection: 0 });
  await api.runTask('DELETE', 'pve', '/nodes/pve/lxc/200', { purge: 1 });
  t.match(await api.get('/nodes/pve/lxc/200/config').catch((error: unknown) => error), { status: 500, message: "GET /nodes/pve/lxc/200/config: 500 Configuration file 'nodes/pve/lxc/200.conf' does not exist" });
  t.same(await api.get('/nodes/pve/storage/usb-media/content'), [], 'its volumes went with it');
});

t.test('snapshots are taken, listed, rolled back to and deleted', async (t) => {
  const sim = await startTestSimulator(t);
  await attachStorages(sim);
  await createGuest(sim);
  const { api } = sim;
  await api.runTask('POST', 'pve', '/nodes/pve/lxc/200/snapshot', { snapname: 'predeploy', description: 'before' });
  t.match(await api.get('/nodes/pve/lxc/200/snapshot'), [{ name: 'predeploy', description: 'before' }, { name: 'current', parent: 'predeploy' }]);
  t.match(await api.post('/nodes/pve/lxc/200/snapshot', { snapname: 'predeploy' }).catch((error: unknown) => error), { status: 500, message: /already used/ });
  await api.put('/nodes/pve/lxc/200/config', { memory: 2048 });
  t.match(await api.get('/nodes/pve/lxc/200/snapshot/predeploy/config'), { memory: '12288' });
  await api.runTask('POST', 'pve', '/nodes/pve/lxc/200/snapshot/predeploy/rollback', { start: 1 });
  t.equal((await api.get<Record<string, string>>('/nodes/pve/lxc/200/config')).memory, 12288);
  t.match(await api.get('/nodes/pve/lxc/200/status/current'), { status: 'running' });
  await api.runTask('DELETE', 'pve', '/nodes/pve/lxc/200/snapshot/predeploy');
  t.same((await api.get<{ name: string }[]>('/nodes/pve/lxc/200/snapshot')).map((item) => item.name), ['current']);
  t.match(await api.delete('/nodes/pve/lxc/200/snapshot/predeploy').catch((error: unknown) => error), { status: 500, message: /does not exist/ });
});

t.test('vzdump writes an archive without the bulk mount point, and a restore onto a bare host brings the guest back with a new MAC', async (t) => {
  const first = await startTestSimulator(t);
  await attachStorages(first);
  await createGuest(first);
  const upid = await first.api.runTask('POST', 'pve', '/nodes/pve/vzdump', { vmid: '200', storage: 'nas-backup', mode: 'snapshot', compress: 'zstd' });
  const log = await first.api.get<{ t: string }[]>(`/nodes/pve/tasks/${encodeURIComponent(upid)}/log`);
  t.ok(log.some((line) => /excluding volume mount point mp0/.test(line.t)), 'the bulk mount point is left out');
  const [archive] = await first.api.get<{ volid: string; vmid: number; ctime: number }[]>('/nodes/pve/storage/nas-backup/content', { content: 'backup' });
  t.match(archive, { volid: /^nas-backup:backup\/vzdump-lxc-200-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}\.tar\.zst$/, vmid: 200 });
  const original = await first.api.get<Record<string, string>>('/nodes/pve/lxc/200/config');

  // A new host: same NAS (the archive survives), its own USB disk, no guests.
  const state = await first.control<{ media: Record<string, unknown> }>('GET', '/_sim/state');
  const bare = await startTestSimulator(t);
  const nas = state.media['nfs:nas.lan:/volume1/felhom'] as { volumes: unknown[] };
  await bare.control('PUT', '/_sim/media', { key: 'nfs:nas.lan:/volume1/felhom', volumes: nas.volumes });
  await attachStorages(bare);
  t.same(await bare.api.get('/nodes/pve/lxc'), []);
  await bare.api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, ostemplate: archive!.volid, restore: 1, storage: 'local-lvm', unique: 1 });
  const restored = await bare.api.get<Record<string, string>>('/nodes/pve/lxc/200/config');
  t.equal(restored.hostname, 'customer');
  t.equal(restored.memory, 12288);
  t.equal(restored.rootfs, 'local-lvm:vm-200-disk-0,size=96G');
  t.match(restored.mp0, /^usb-media:200\/vm-200-disk-1\.raw,mp=\/mnt\/bulk\/usb-media,backup=0,size=1800G$/);
  t.not(/hwaddr=([^,]+)/.exec(restored.net0!)![1], /hwaddr=([^,]+)/.exec(original.net0!)![1], 'unique=1 gives a new MAC');
  t.match(await bare.api.post('/nodes/pve/lxc', { vmid: 201, ostemplate: 'nas-backup:backup/none.tar.zst', restore: 1 }).catch((error: unknown) => error), { status: 500, message: /does not exist/ });
});

t.test('cluster backup jobs are created, read, updated and deleted', async (t) => {
  const sim = await startTestSimulator(t);
  await attachStorages(sim);
  const { api } = sim;
  await api.post('/cluster/backup', { id: 'felhom-hb-0001-nightly-nas', storage: 'nas-backup', schedule: '*-*-* 02:30', vmid: '200', mode: 'snapshot', 'prune-backups': 'keep-daily=7,keep-weekly=4', enabled: 1 });
  t.match(await api.get('/cluster/backup/felhom-hb-0001-nightly-nas'), { id: 'felhom-hb-0001-nightly-nas', type: 'vzdump', storage: 'nas-backup', schedule: '*-*-* 02:30', vmid: '200', 'prune-backups': 'keep-daily=7,keep-weekly=4' });
  t.match(await api.post('/cluster/backup', { id: 'x1', storage: 'nas-backup', schedule: '0 2 * * *', vmid: '200' }).catch((error: unknown) => error), { status: 400, errors: { schedule: /unable to parse calendar event/ } });
  t.match(await api.post('/cluster/backup', { id: 'x2', 'prune-backups': 'keep-forever=1', vmid: '200' }).catch((error: unknown) => error), { status: 400, errors: { 'prune-backups': /invalid key/ } });
  await api.put('/cluster/backup/felhom-hb-0001-nightly-nas', { schedule: 'sun 01:00', delete: 'mode' });
  const job = await api.get<Record<string, unknown>>('/cluster/backup/felhom-hb-0001-nightly-nas');
  t.equal(job.schedule, 'sun 01:00');
  t.notOk(job.mode);
  t.equal((await api.get<unknown[]>('/cluster/backup')).length, 1);
  await api.delete('/cluster/backup/felhom-hb-0001-nightly-nas');
  t.match(await api.get('/cluster/backup/felhom-hb-0001-nightly-nas').catch((error: unknown) => error), { status: 500, message: /does not exist/ });
});

t.test('API tokens are created, listed, used and deleted; the secret is shown once', async (t) => {
  const sim = await startTestSimulator(t);
  const created = await sim.api.post<{ 'full-tokenid': string; value: string }>('/access/users/root@pam/token/ops', { privsep: 0, comment: 'second' });
  t.equal(created['full-tokenid'], 'root@pam!ops');
  t.match(created.value, /^[0-9a-f-]{36}$/);
  const listed = await sim.api.get<Record<string, unknown>[]>('/access/users/root@pam/token');
  t.same(listed.map((token) => token.tokenid), ['felhom', 'ops']);
  t.notMatch(JSON.stringify(listed), created.value);
  const reply = await rawRequest(sim.sim, 'GET', '/api2/json/version', { authorization: `PVEAPIToken=root@pam!ops=${created.value}` });
  t.equal(reply.status, 200);
  await sim.api.delete('/access/users/root@pam/token/ops');
  t.equal((await rawRequest(sim.sim, 'GET', '/api2/json/version', { authorization: `PVEAPIToken=root@pam!ops=${created.value}` })).status, 401);
});

t.test('faults: a task that fails, a reply to retry, a node that times out, a storage that disappears', async (t) => {
  const sim = await startTestSimulator(t);
  await attachStorages(sim);
  const { api, control } = sim;
  await control('POST', '/_sim/faults', { tasks: [{ type: 'vzcreate', id: '200', message: 'unable to create CT 200 - simulated disk full', count: 1 }] });
  const failed = await api.runTask('POST', 'pve', '/nodes/pve/lxc', { vmid: 200, ostemplate: TEMPLATE, rootfs: 'local-lvm:8' }).catch((error: unknown) => error);
  t.type(failed, PveTaskError);
  t.equal((failed as PveTaskError).exitstatus, 'unable to create CT 200 - simulated disk full');
  t.same(await api.get('/nodes/pve/lxc'), [], 'a failed create leaves no container');
  await createGuest(sim);

  await control('POST', '/_sim/faults', { replies: [{ method: 'GET', path: '/nodes/pve/lxc/200/config', status: 503, message: 'temporarily unavailable', count: 2 }] });
  for (let attempt = 0; attempt < 2; attempt++) {
    const error = await api.get('/nodes/pve/lxc/200/config').catch((caught: unknown) => caught);
    t.match(error, { status: 503, kind: 'waiting' });
  }
  t.match(await api.get('/nodes/pve/lxc/200/config'), { hostname: 'customer' }, 'the third try goes through');

  await control('POST', '/_sim/faults', { nodes: [{ node: 'pve', delayMs: 50 }] });
  t.match(await api.get('/nodes/pve/status').catch((error: unknown) => error), { status: 595, kind: 'waiting' });
  t.match(await api.get('/version'), { release: '9.2' }, 'paths outside the node still answer');
  await control('DELETE', '/_sim/faults');

  await control('PUT', '/_sim/media', { key: 'nfs:nas.lan:/volume1/felhom', attached: false });
  t.match(await api.get('/nodes/pve/storage/nas-backup/status'), { active: 0, enabled: 1, total: 0 });
  t.match(await api.get('/nodes/pve/storage/nas-backup/content').catch((error: unknown) => error), { status: 500, message: /storage 'nas-backup' is not online/ });
  const dump = await api.runTask('POST', 'pve', '/nodes/pve/vzdump', { vmid: '200', storage: 'nas-backup' }).catch((error: unknown) => error);
  t.match(dump, { exitstatus: "storage 'nas-backup' is not online" });
  await control('PUT', '/_sim/media', { key: 'dir:/mnt/felhom/usb-media', attached: false });
  t.match(await api.get('/nodes/pve/storage/usb-media/content').catch((error: unknown) => error), { message: /directory is expected to be a mount point but is not mounted: '\/mnt\/felhom\/usb-media'/ });
  t.match(await control('PUT', '/_sim/containers/200', { healthy: false }), { healthy: false });
  t.match(await control('PUT', '/_sim/task-delay', { ms: 10 }), { ms: 10 });
  await t.rejects(control('PUT', '/_sim/media', {}), /needs a key/);
  await t.rejects(control('GET', '/_sim/nothing'), /404/);
});

t.test('with a state file, a restarted simulator still has what was created', async (t) => {
  const stateFile = join(t.testdir(), 'pve.json');
  const token = 'root@pam!felhom=11111111-2222-3333-4444-555555555555';
  const first = await startSimulator({ schemaFile: pveSchemaFile(), stateFile, token, taskDelayMs: 10 });
  t.equal(first.token, token);
  const sim: TestSimulator = await (async () => {
    const { PveApiClient } = await import('../../../../runner/agent/pve-api-client.js');
    return { sim: first, api: new PveApiClient({ endpoint: first.url, token, ca: first.certificate, pollMs: 10 }), control: async () => undefined as never };
  })();
  await sim.api.post('/storage', { storage: 'nas-backup', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup' });
  await first.close();
  const second = await startSimulator({ schemaFile: pveSchemaFile(), stateFile });
  t.teardown(() => second.close());
  t.equal(second.token, token, 'the token is kept');
  t.ok(second.store.state.storages['nas-backup']);
});

t.test('a missing or foreign schema file is refused with the path', async (t) => {
  await t.rejects(startSimulator({ schemaFile: '/nonexistent/apidata.js' }), { code: 'ESIM_SCHEMA', message: /cannot read PVE's API schema \/nonexistent\/apidata\.js/ });
  const foreign = join(t.testdir({ 'apidata.js': 'var x = 1;' }), 'apidata.js');
  await t.rejects(startSimulator({ schemaFile: foreign }), { code: 'ESIM_SCHEMA', message: /is not PVE's api-viewer\/apidata\.js/ });
  t.type(PveApiError, 'function');
});

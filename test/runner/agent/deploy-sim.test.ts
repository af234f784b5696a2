// Snapshot-before-deploy, rollback after a failed health check, and the faults of a Proxmox host,
// through the agent's real cycle: a real hub, the real engine with the dynamic-provider test
// program, and the PVE API simulator as the host the agent snapshots, checks and rolls back.
import t from 'tap';
import { ProxmoxApiOperations } from '../../../runner/agent/proxmox-api-operations.js';
import { Journal } from '../../../runner/state/journal.js';
import { agentWorld, boxSpec, BOX } from '../../helpers/agent-fixture.js';
import { hostAsApplied, startTestSimulator, type TestSimulator } from '../../helpers/pve-sim.js';

async function hostWithRunningGuest(t: Parameters<Parameters<typeof t.test>[1]>[0]): Promise<{ sim: TestSimulator; ops: ProxmoxApiOperations }> {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  await sim.api.put('/nodes/pve/lxc/200/config', { net0: 'name=eth0,bridge=vmbr0,ip=192.168.1.50/24,gw=192.168.1.1', memory: 12288 });
  await sim.api.runTask('POST', 'pve', '/nodes/pve/lxc/200/status/start');
  return { sim, ops: new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 }) };
}

const snapshotNames = async (sim: TestSimulator) => (await sim.api.get<{ name: string }[]>('/nodes/pve/lxc/200/snapshot')).map((item) => item.name);

t.test('a healthy deploy snapshots the guest, applies, checks it over the API and drops the snapshot; a failed check rolls the guest back', async (t) => {
  const { sim, ops } = await hostWithRunningGuest(t);
  const world = await agentWorld(t);
  const agent = await world.agent({ hostOperations: ops });
  const tasks = async () => (await sim.api.get<{ type: string }[]>('/nodes/pve/tasks')).map((task) => task.type);

  await world.publish({ serial: 1, body: boxSpec() as never });
  const first = await agent.cycle();
  t.match(first.items, [{ serial: 1, outcome: 'succeeded' }]);
  t.same((await tasks()).filter((type) => type.startsWith('vzsnapshot') || type.startsWith('vzdel')), ['vzsnapshot', 'vzdelsnapshot'], 'snapshot before, removed after the healthy check');
  t.same(await snapshotNames(sim), ['current']);

  // The guest stops answering after the next deploy, which also changed its config by hand meanwhile.
  await sim.control('PUT', '/_sim/containers/200', { healthy: false });
  await world.publish({ serial: 2, body: boxSpec((spec) => void (spec.spec.guests[0]!.memoryMiB = 16384)) as never });
  const before = await sim.api.get<Record<string, string>>('/nodes/pve/lxc/200/config');
  const second = await agent.cycle();
  t.match(second.items, [{ serial: 2, outcome: 'failed', reason: { code: 'EHEALTH', message: /guest 200: running but reports no network address\); guests rolled back to their pre-deploy snapshot/ } }]);
  t.ok((await tasks()).includes('vzrollback'), 'the simulator rolled the guest back');
  const after = await sim.api.get<Record<string, string>>('/nodes/pve/lxc/200/config');
  t.equal(after.memory, before.memory, "the guest's config is the pre-deploy one");
  t.match(await sim.api.get('/nodes/pve/lxc/200/status/current'), { status: 'running' }, 'and it runs again');
  t.match(await snapshotNames(sim), [/^felhom-predeploy-\d{14}$/, 'current'], 'the snapshot is kept for a person to look at');
  t.match((await world.hub.operator.listReports({ box: BOX }))[0], { outcome: 'failed', serial: 2, reason: { code: 'EHEALTH' } });
});

t.test('a snapshot task that fails stops the deploy before the engine, and is reported', async (t) => {
  const { sim, ops } = await hostWithRunningGuest(t);
  const world = await agentWorld(t);
  const agent = await world.agent({ hostOperations: ops });
  await sim.control('POST', '/_sim/faults', { tasks: [{ type: 'vzsnapshot', id: '200', message: 'snapshot feature is not available', count: 1 }] });
  await world.publish({ serial: 1, body: boxSpec() as never });
  const cycle = await agent.cycle();
  t.match(cycle.items, [{ outcome: 'failed', reason: { code: 'EHOST_OPERATION', message: /snapshot feature is not available/ } }]);
  t.equal(cycle.engineRuns, 0, 'the engine never started');
  t.equal(world.counter.invocations, 0);
  t.match((await world.hub.operator.listReports({ box: BOX }))[0], { outcome: 'failed', reason: { code: 'EHOST_OPERATION' } });
});

t.test('a node that times out leaves the job running; the next cycle recovers it and applies', async (t) => {
  const { sim, ops } = await hostWithRunningGuest(t);
  const world = await agentWorld(t);
  const agent = await world.agent({ hostOperations: ops });
  await sim.control('POST', '/_sim/faults', { nodes: [{ node: 'pve', delayMs: 20 }] });
  await world.publish({ serial: 1, body: boxSpec() as never });
  const stuck = await agent.cycle();
  t.equal(stuck.status, 'waiting');
  t.match(stuck.error, { step: 'apply', code: 'EHOST_OPERATION', kind: 'waiting', message: /595 Connection timed out/ });
  const journal = await Journal.open(world.stateDir);
  t.match(journal.unfinished(), [{ serial: 1, state: 'running' }], 'the journal keeps the job running');
  t.same(await world.hub.operator.listReports({ box: BOX }), [], 'nothing reported yet');

  await sim.control('DELETE', '/_sim/faults');
  const recovered = await agent.cycle();
  t.match(recovered.items, [{ serial: 1, outcome: 'succeeded' }], 'the recover step finished it');
  t.match(await world.hub.operator.listReports({ box: BOX }), [{ outcome: 'succeeded', serial: 1 }]);
});

t.test('restore mode onto a bare simulated host: the guest comes back from the NAS vzdump, with a new MAC, running', async (t) => {
  // given the old host's nightly backup on the NAS
  const { sim: old } = await hostWithRunningGuest(t);
  await old.api.runTask('POST', 'pve', '/nodes/pve/vzdump', { vmid: '200', storage: 'nas-backup', mode: 'snapshot' });
  const oldConfig = await old.api.get<Record<string, string>>('/nodes/pve/lxc/200/config');
  const nas = (await old.control<{ media: Record<string, { volumes: unknown[] }> }>('GET', '/_sim/state')).media['nfs:nas.lan:/volume1/felhom']!;

  // and new hardware: the same NAS and USB disk, no guests. Its storage definitions stand for the
  // storages-only up (run here by the dynamic-provider test program, which does not call Proxmox).
  const bare = await startTestSimulator(t);
  await bare.control('PUT', '/_sim/media', { key: 'nfs:nas.lan:/volume1/felhom', volumes: nas.volumes });
  await bare.control('PUT', '/_sim/media', { key: 'dir:/mnt/felhom/usb-media', identity: '3f1c2a9e-8d4b-4c61-9a57-2b0e6d1f4a88' });
  await bare.api.post('/storage', { storage: 'nas-backup', type: 'nfs', server: 'nas.lan', export: '/volume1/felhom', content: 'backup' });
  await bare.api.post('/storage', { storage: 'usb-media', type: 'dir', path: '/mnt/felhom/usb-media', content: 'rootdir,images' });
  t.same(await bare.api.get('/nodes/pve/lxc'), []);

  // when the hub hands the freshly enrolled agent the spec and a restore job
  const world = await agentWorld(t);
  const ops = new ProxmoxApiOperations({ endpoint: bare.sim.url, token: bare.sim.token, ca: bare.sim.certificate, node: 'pve', pollMs: 20 });
  await world.publish({ serial: 1, body: boxSpec() as never });
  await world.publish({ type: 'job', serial: 2, body: { action: 'restore', sources: ['nas-backup'] } });
  const agent = await world.agent({ hostOperations: ops });
  const result = await agent.cycle();

  // then both succeeded, and the bare host runs the guest restored from the archive
  t.match(result.items, [{ serial: 1, action: 'apply', outcome: 'succeeded' }, { serial: 2, action: 'restore', outcome: 'succeeded' }]);
  const restored = await bare.api.get<Record<string, string>>('/nodes/pve/lxc/200/config');
  t.equal(restored.hostname, 'customer');
  t.equal(restored.memory, oldConfig.memory);
  t.not(/hwaddr=([^,]+)/.exec(restored.net0!)![1], /hwaddr=([^,]+)/.exec(oldConfig.net0!)![1], 'a new identity (MAC)');
  t.match(await bare.api.get('/nodes/pve/lxc/200/status/current'), { status: 'running' });
  const tasks = (await bare.api.get<{ type: string }[]>('/nodes/pve/tasks')).map((task) => task.type);
  t.same(tasks.filter((type) => type !== 'vzcreate'), ['vzrestore', 'vzstart'], 'restored then started; no snapshot on a bare host');
});

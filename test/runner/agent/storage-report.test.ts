// The agent's per-cycle storage check through its real cycle: a real hub, the real engine with
// the dynamic-provider test program, and the PVE API simulator as the host's storage status.
import t from 'tap';
import { pveStorageProbe, StorageMonitor } from '../../../runner/agent/storage-health.js';
import { agentWorld, boxSpec, BOX } from '../../helpers/agent-fixture.js';
import { hostAsApplied, simMountIdentity, startTestSimulator } from '../../helpers/pve-sim.js';

t.test('the agent reports its storage targets after applying, reports a NAS going away once, holds its backup job, and reports it back', async (t) => {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  const agent = await world.agent({ storageMonitor: new StorageMonitor(pveStorageProbe(sim.api, 'pve', simMountIdentity(sim))) });

  const first = await agent.cycle();
  t.match(first.items, [{ outcome: 'succeeded' }]);
  // The hub lists reports newest first; oldest first reads as the story.
  const reports = async () => (await world.hub.operator.listReports({ box: BOX })).reverse();
  const afterApply = await reports();
  t.match(afterApply.map((report) => [report.jobId.replace(/-\d{4}-.*$/, ''), report.outcome]), [[/^[0-9a-f]{64}$/, 'succeeded'], ['storage-box-1.host', 'succeeded']], 'the apply, then the first storage check');

  t.equal((await agent.cycle()).status, 'idle');
  t.equal((await reports()).length, 2, 'an unchanged storage check reports nothing');

  await sim.control('PUT', '/_sim/media', { key: 'nfs:nas.lan:/volume1/felhom', attached: false });
  await agent.cycle();
  const down = (await reports()).at(-1)!;
  t.match(down, { outcome: 'failed', tier: 'host', reason: { code: 'ESTORAGE', message: /^storage nas-backup \(nfs\) unavailable: the NAS nas\.lan:\/volume1\/felhom is unreachable; affects backup job felhom-box-1-nightly-nas \(held until it is back\)/ } });
  t.match(await sim.api.get('/cluster/backup/felhom-box-1-nightly-nas'), { enabled: '0' }, 'no backup starts onto the missing NAS');
  await agent.cycle();
  t.equal((await reports()).length, 3, 'still down: reported once');

  await sim.control('PUT', '/_sim/media', { key: 'nfs:nas.lan:/volume1/felhom', attached: true });
  await agent.cycle();
  t.match((await reports()).at(-1), { outcome: 'succeeded', jobId: /^storage-box-1\.host-/ });
  t.match(await sim.api.get('/cluster/backup/felhom-box-1-nightly-nas'), { enabled: '1' }, 'the job runs again');
  t.match((await world.hub.operator.listAudit(BOX)).map((entry: { action: string }) => entry.action), ['spec.apply', 'spec.apply', 'storage.check', 'storage.check', 'storage.check']);
});

t.test('a storage check that cannot reach the host does not stop the cycle', async (t) => {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  const probe = pveStorageProbe(sim.api, 'pve', simMountIdentity(sim));
  const agent = await world.agent({ storageMonitor: new StorageMonitor({ ...probe, jobEnabled: async () => { throw new Error('host unreachable'); } }) });
  const cycle = await agent.cycle();
  t.equal(cycle.status, 'done');
  t.match(cycle.items, [{ outcome: 'succeeded' }]);
});

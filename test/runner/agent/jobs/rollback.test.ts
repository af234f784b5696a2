// The rollback job: one guest back to a named snapshot, over the PVE API (the simulator).
import t from 'tap';
import type { AgentContext } from '../../../../runner/agent/context.js';
import { ProxmoxApiOperations } from '../../../../runner/agent/proxmox-api-operations.js';
import { rollbackJob } from '../../../../runner/agent/jobs/rollback.js';
import { snapshotJob } from '../../../../runner/agent/jobs/snapshot.js';
import { BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld } from '../../../helpers/agent-context.js';
import { hostAsApplied, startTestSimulator } from '../../../helpers/pve-sim.js';

t.test('refused without host operations, naming the rollback', async (t) => {
  await t.rejects(rollbackJob({ host: {} } as unknown as AgentContext, { body: { action: 'rollback', vmId: 200, name: 'x' } } as never), { code: 'EJOB_UNSUPPORTED', message: /a rollback job needs Proxmox host operations/ });
});

t.test('a rollback job returns the guest to its snapshot', async (t) => {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  const operations = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });
  const w = await contextWorld(t, (options) => ({ ...options, host: { operations } }));
  const before = await sim.api.get<Record<string, unknown>>('/nodes/pve/lxc/200/config');
  await snapshotJob(w.ctx, await w.job({ action: 'snapshot', vmId: 200, name: 'known-good' }));
  await sim.api.put('/nodes/pve/lxc/200/config', { memory: 16384 });
  t.same(await rollbackJob(w.ctx, await w.job({ action: 'rollback', vmId: 200, name: 'known-good' }, { serial: 51 })), {});
  t.equal((await sim.api.get<Record<string, unknown>>('/nodes/pve/lxc/200/config')).memory, before.memory, 'the config is the snapshot one');
  t.ok((await sim.api.get<{ type: string }[]>('/nodes/pve/tasks')).some((task) => task.type === 'vzrollback'), 'the host ran the rollback');
});

t.test('a rollback to a snapshot the guest does not have fails, naming it', async (t) => {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  const operations = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });
  const w = await contextWorld(t, (options) => ({ ...options, host: { operations } }));
  await t.rejects(rollbackJob(w.ctx, await w.job({ action: 'rollback', vmId: 200, name: 'never-taken' })), { message: /never-taken/ });
});

// The snapshot job: a named Proxmox snapshot of one guest, over the PVE API (the simulator);
// refused without host operations or for a guest id that is none.
import t from 'tap';
import type { AgentContext } from '../../../../runner/agent/context.js';
import { ProxmoxApiOperations } from '../../../../runner/agent/proxmox-api-operations.js';
import { guestSnapshot, snapshotJob } from '../../../../runner/agent/jobs/snapshot.js';
import { BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld } from '../../../helpers/agent-context.js';
import { hostAsApplied, startTestSimulator } from '../../../helpers/pve-sim.js';

const ops = new ProxmoxApiOperations({ endpoint: 'https://127.0.0.1:9', token: 'root@pam!t=x', node: 'pve' });
const withOps = { host: { operations: ops } } as unknown as AgentContext;
const without = { host: {} } as unknown as AgentContext;

const refusals: { name: string; ctx: AgentContext; body: Record<string, unknown>; message: RegExp }[] = [
  { name: 'no host operations', ctx: without, body: { vmId: 200, name: 'x' }, message: /a snapshot job needs Proxmox host operations/ },
  { name: 'no vmId', ctx: withOps, body: { name: 'x' }, message: /body\.vmId: expected a guest id \(>= 100\), got undefined/ },
  { name: 'a vmId below 100', ctx: withOps, body: { vmId: 99, name: 'x' }, message: /got 99/ },
  { name: 'a fractional vmId', ctx: withOps, body: { vmId: 200.5, name: 'x' }, message: /got 200\.5/ },
  { name: 'a vmId that is no number', ctx: withOps, body: { vmId: 'two hundred', name: 'x' }, message: /got "two hundred"/ },
];

for (const c of refusals) {
  t.test(`refused: ${c.name}`, async (t) => {
    t.throws(() => guestSnapshot(c.ctx, 'snapshot', c.body), { code: 'EJOB_UNSUPPORTED', message: c.message });
  });
}

t.test('guestSnapshot reads the guest and the name', async (t) => {
  t.match(guestSnapshot(withOps, 'snapshot', { vmId: '200', name: 'before' }), { ops, vmId: 200, name: 'before' });
  t.match(guestSnapshot(withOps, 'snapshot', { vmId: 201 }), { vmId: 201, name: '' }, 'no name: empty, for PVE to refuse');
});

t.test('a snapshot job snapshots the guest on the host', async (t) => {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  const operations = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });
  const w = await contextWorld(t, (options) => ({ ...options, host: { operations } }));
  t.same(await snapshotJob(w.ctx, await w.job({ action: 'snapshot', vmId: 200, name: 'before-upgrade' })), {});
  t.ok((await sim.api.get<{ name: string }[]>('/nodes/pve/lxc/200/snapshot')).some((item) => item.name === 'before-upgrade'));
});

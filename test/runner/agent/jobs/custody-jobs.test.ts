// The registry's custody handlers: each builds its job's context from the agent's own services;
// refused off the host tier, and a decommission without the PVE API or the agent's token.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decommissionJob, keyCustodyJob } from '../../../../runner/agent/jobs/custody-jobs.js';
import { jobHandler } from '../../../../runner/agent/jobs/index.js';
import { ProxmoxApiOperations } from '../../../../runner/agent/proxmox-api-operations.js';
import { BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld } from '../../../helpers/agent-context.js';

t.test('the registry knows both custody jobs', async (t) => {
  t.equal(jobHandler('key-custody'), keyCustodyJob);
  t.equal(jobHandler('decommission'), decommissionJob);
});

t.test('both are refused off the host tier', async (t) => {
  const w = await contextWorld(t, undefined, { tier: 'guest' });
  await t.rejects(keyCustodyJob(w.ctx, await w.job({ action: 'key-custody', custody: 'customer-only' })), { code: 'EJOB_UNSUPPORTED', message: /host tier only, not on guest/ });
  await t.rejects(decommissionJob(w.ctx, await w.job({ action: 'decommission', confirm: BOX })), { code: 'EJOB_UNSUPPORTED', message: /host tier only/ });
});

t.test('a key-custody job on a box without a PBS key stalls, naming what to do', async (t) => {
  const w = await contextWorld(t);
  await t.rejects(keyCustodyJob(w.ctx, await w.job({ action: 'key-custody', custody: 'customer-only' })), { code: 'ENO_KEY', kind: 'stalled', message: /felhom custody create/ });
});

t.test('a decommission needs the Proxmox host over its API and the agent token', async (t) => {
  const plain = await contextWorld(t);
  await t.rejects(decommissionJob(plain.ctx, await plain.job({ action: 'decommission', confirm: BOX })), { code: 'EJOB_UNSUPPORTED', message: /FELHOM_PROXMOX_API/ });
  const operations = new ProxmoxApiOperations({ endpoint: 'https://127.0.0.1:9', token: 'root@pam!t=x', node: 'pve' });
  const w = await contextWorld(t, (options) => ({ ...options, host: { operations } }));
  await writeFile(join(w.ctx.stores.layout.secrets, 'proxmox-api-token'), '', { mode: 0o600 });
  await t.rejects(decommissionJob(w.ctx, await w.job({ action: 'decommission', confirm: BOX })), { code: 'EJOB_UNSUPPORTED', message: /agent's own Proxmox API token/ });
});

// The restore job on its own (a restore job with its spec is test/runner/agent/restore.test.ts):
// host tier only, with host operations, never repeated blindly; its sources are the storages the
// job names, in that order, else the spec's backup storages, as the host reports them.
import t from 'tap';
import { ProxmoxApiOperations } from '../../../../runner/agent/proxmox-api-operations.js';
import { restoreJob, restoreOperations, restoreSources } from '../../../../runner/agent/jobs/restore.js';
import type { Tier } from '../../../../stacks/spec/types.js';
import { boxSpec, BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld } from '../../../helpers/agent-context.js';
import { hostAsApplied, startTestSimulator } from '../../../helpers/pve-sim.js';

const unreachable = new ProxmoxApiOperations({ endpoint: 'https://127.0.0.1:9', token: 'root@pam!t=x', node: 'pve' });

const refusals: { name: string; tier?: Tier; ops: boolean; resumed?: boolean; applied?: boolean; code: string; message?: RegExp }[] = [
  { name: 'on the guest tier', tier: 'guest', ops: true, code: 'EJOB_UNSUPPORTED', message: /host tier only, not on guest/ },
  { name: 'without host operations', ops: false, code: 'EJOB_UNSUPPORTED', message: /needs Proxmox host operations/ },
  { name: 'resumed after an interruption', ops: true, resumed: true, applied: true, code: 'ERESTORE_INTERRUPTED', message: /never repeated blindly/ },
  { name: 'with no spec applied and none carried', ops: true, code: 'ENO_SPEC' },
];

for (const c of refusals) {
  t.test(`a restore job is refused ${c.name}`, async (t) => {
    const w = await contextWorld(t, (options) => ({ ...options, ...(c.ops ? { host: { operations: unreachable } } : {}) }), c.tier ? { tier: c.tier } : {});
    if (c.applied) await w.applied(await w.item({ serial: 2, body: boxSpec() }));
    const job = await w.job({ action: 'restore' }, { resumed: c.resumed === true });
    await t.rejects(restoreJob(w.ctx, job), { code: c.code, ...(c.message ? { message: c.message } : {}) });
    t.equal(w.ctx.counters.engineRuns, 0, 'no engine ran');
  });
}

t.test('restoreOperations hands the host operations over on the host tier', async (t) => {
  const w = await contextWorld(t, (options) => ({ ...options, host: { operations: unreachable } }));
  t.equal(restoreOperations(w.ctx), unreachable);
});

t.test('restore sources: the named storages in order, else the backup storages; an unknown name is refused', async (t) => {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  const ops = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });
  const w = await contextWorld(t);
  const box = w.ctx.spec.resolve(boxSpec() as never);
  const backupStorages = box.storage.filter((storage) => storage.roles.includes('backup')).map((storage) => storage.name);

  const cases: { name: string; named: unknown; storages: string[]; preferences: (number | undefined)[] }[] = [
    { name: 'none named: every backup storage, no preference', named: undefined, storages: backupStorages, preferences: backupStorages.map(() => undefined) },
    { name: 'named: in that order, each preferred by its place', named: [...backupStorages].reverse(), storages: [...backupStorages].reverse(), preferences: backupStorages.map((_, index) => index) },
  ];
  for (const c of cases) {
    const sources = await restoreSources(ops, box, c.named);
    t.same(sources.map((source) => source.storage), c.storages, c.name);
    t.same(sources.map((source) => source.preference), c.preferences, `${c.name}: preferences`);
    for (const source of sources) {
      const storage = box.storage.find((candidate) => candidate.name === source.storage)!;
      t.equal(source.tier, storage.type === 'pbs' ? 'pbs' : 'local', `${source.storage}: its tier`);
      if (!source.available) t.same(source.backups, [], `${source.storage}: unavailable, not listed`);
    }
  }
  await t.rejects(restoreSources(ops, box, ['nas-backup', 'the-cloud']), { code: 'ERESTORE_SOURCE', message: /body\.sources\[1\]: "the-cloud" is not a storage of the spec/ });
});

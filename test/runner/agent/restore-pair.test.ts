// A spec and the restore job carrying it (restore mode): never applied apart. A refused job fails
// its spec (ERESTORE_REFUSED); a refused spec leaves the job to the last applied spec; a pair
// found running was interrupted and is never repeated blindly. (The restores themselves:
// test/runner/agent/restore.test.ts and deploy-sim.test.ts.)
import t from 'tap';
import { ProxmoxApiOperations } from '../../../runner/agent/proxmox-api-operations.js';
import { carriesSpec, processRestorePair } from '../../../runner/agent/restore-pair.js';
import { boxSpec, BOX } from '../../helpers/agent-fixture.js';
import { contextWorld, type ContextWorld } from '../../helpers/agent-context.js';

const unreachable = new ProxmoxApiOperations({ endpoint: 'https://127.0.0.1:9', token: 'root@pam!t=x', node: 'pve' });

const cases: { name: string; spec?: object; job?: object; running?: boolean; results: object[] }[] = [
  {
    name: 'the restore job refused: the spec is not applied on its own',
    job: { box: 'box-2' },
    results: [
      { serial: 2, outcome: 'failed', reason: { code: 'ERESTORE_REFUSED', message: /was refused \(EWRONGBOX\); it was not applied on its own/ } },
      { serial: 3, outcome: 'rejected', reason: { code: 'EWRONGBOX' } },
    ],
  },
  {
    name: 'the spec refused: the job falls back to the last applied spec, of which there is none',
    spec: { issuedAt: new Date(Date.now() - 2 * 3600_000), expiresAt: new Date(Date.now() - 3600_000) },
    results: [
      { serial: 2, outcome: 'rejected', reason: { code: 'EEXPIRED' } },
      { serial: 3, outcome: 'failed', reason: { code: 'ENO_SPEC' } },
    ],
  },
  {
    name: 'both found running: interrupted, both failed, nothing repeated',
    running: true,
    results: [
      { serial: 2, outcome: 'failed', reason: { code: 'ERESTORE_INTERRUPTED' } },
      { serial: 3, outcome: 'failed', reason: { code: 'ERESTORE_INTERRUPTED' } },
    ],
  },
];

async function pair(w: ContextWorld, c: (typeof cases)[number]) {
  const spec = await w.item({ serial: 2, body: boxSpec(), ...c.spec }, 'spec');
  const job = await w.item({ type: 'job', serial: 3, body: { action: 'restore' }, ...c.job });
  if (c.running) {
    for (const item of [spec, job]) {
      const { entry } = await w.received(item);
      await w.journal.transition(entry!.id, 'verified');
      await w.journal.transition(entry!.id, 'running');
    }
  }
  return { spec, job };
}

for (const c of cases) {
  t.test(c.name, async (t) => {
    const w = await contextWorld(t, (options) => ({ ...options, host: { operations: unreachable } }));
    const { spec, job } = await pair(w, c);
    t.ok(carriesSpec(w.ctx, spec.header, job.header), 'the job carries the spec');
    t.match(await processRestorePair(w.ctx, spec, job), c.results);
    t.equal(w.ctx.counters.engineRuns, 0, 'no engine ran');
    t.equal((await w.world.hub.operator.listReports({ box: BOX })).length, 2, 'both reported');
    t.equal(w.journal.lastApplied(BOX, 'host'), null, 'nothing applied');
  });
}

t.test('carriesSpec: a restore job just after a spec, on the host tier only', async (t) => {
  const host = await contextWorld(t);
  const spec = { type: 'spec' as const, serial: 2 };
  const rows: [object, boolean][] = [
    [{ type: 'job', action: 'restore', serial: 3 }, true],
    [{ type: 'job', action: 'restore', serial: 2 }, false],
    [{ type: 'job', action: 'apply', serial: 3 }, false],
    [{ type: 'spec', action: 'apply', serial: 3 }, false],
  ];
  for (const [job, expected] of rows) t.equal(carriesSpec(host.ctx, spec, job as never), expected, JSON.stringify(job));
  t.notOk(carriesSpec(host.ctx, { type: 'job', serial: 2 }, { type: 'job', action: 'restore', serial: 3 }), 'no spec first');
  const guest = await contextWorld(t, undefined, { tier: 'guest' });
  t.notOk(carriesSpec(guest.ctx, spec, { type: 'job', action: 'restore', serial: 3 }), 'not on the guest tier');
});

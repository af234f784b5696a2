// The apply job: the last applied spec again, or a received spec it names, verified again through
// the one verify path at the agent's injected clock, and applied with the job's capabilities.
import t from 'tap';
import { workItem } from '../../../../runner/agent/envelope-item.js';
import { applyJob } from '../../../../runner/agent/jobs/apply.js';
import type { AgentOptions } from '../../../../runner/agent/context.js';
import { boxSpec, BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld, type ContextWorld } from '../../../helpers/agent-context.js';

const refusals: { name: string; given?: (w: ContextWorld) => Promise<Record<string, unknown>>; body?: Record<string, unknown>; unsigned?: Record<string, unknown>; code: string }[] = [
  { name: 'with no spec named and none applied: ENO_SPEC', body: { action: 'apply' }, code: 'ENO_SPEC' },
  // signing and verifying refuse such a body; the handler does not rely on it
  { name: 'naming something that is no digest: ESPEC_UNKNOWN', body: { action: 'apply' }, unsigned: { action: 'apply', spec: '../../etc/passwd' }, code: 'ESPEC_UNKNOWN' },
  { name: 'naming a spec this box never received: ESPEC_UNKNOWN', body: { action: 'apply', spec: 'a'.repeat(64) }, code: 'ESPEC_UNKNOWN' },
  {
    name: 'naming a received spec older than the applied one: EROLLBACK',
    given: async (w) => {
      const old = await w.item({ serial: 3, body: boxSpec() });
      await w.ctx.archive.put(old.digest, old.envelope);
      await w.applied(await w.item({ serial: 5, body: boxSpec() }));
      return { action: 'apply', spec: old.digest };
    },
    code: 'EROLLBACK',
  },
  {
    name: 'naming a job envelope, not a spec: EWRONGTYPE',
    given: async (w) => {
      const job = await w.item({ type: 'job', serial: 3, body: { action: 'refresh' } });
      await w.ctx.archive.put(job.digest, job.envelope);
      return { action: 'apply', spec: job.digest };
    },
    code: 'EWRONGTYPE',
  },
];

for (const c of refusals) {
  t.test(`an apply job ${c.name}`, async (t) => {
    const w = await contextWorld(t);
    const body = c.given ? await c.given(w) : c.body!;
    const job = await w.job(body, { serial: 60 });
    await t.rejects(applyJob(w.ctx, c.unsigned ? { ...job, body: c.unsigned } : job), { code: c.code });
    t.equal(w.world.counter.invocations, 0, 'no program ran');
  });
}

// The bug this path had: two verify calls drifting apart, one without the injected clock. A spec
// issued in 2030 is applied by a job at a box clock in 2030, and refused at the system clock.
const ISSUED = { issuedAt: new Date('2030-01-01T00:00:00Z'), expiresAt: new Date('2030-01-02T00:00:00Z') };
const clocks: { name: string; runtime: AgentOptions['runtime']; code?: string }[] = [
  { name: 'at the box clock in 2030 the received spec is applied', runtime: { clock: () => new Date('2030-01-01T12:00:00Z') } },
  { name: 'at the system clock the received spec is not yet valid', runtime: {}, code: 'ENOTYETVALID' },
];
for (const c of clocks) {
  t.test(`an apply job naming a received spec: ${c.name}`, async (t) => {
    const w = await contextWorld(t, (options) => ({ ...options, runtime: c.runtime! }));
    const spec = workItem('spec', await w.world.sign({ serial: 2, body: boxSpec(), ...ISSUED }), BOX, 'host');
    await w.ctx.archive.put(spec.digest, spec.envelope);
    // the job itself is valid at both clocks
    const job = await w.job({ action: 'apply', spec: spec.digest }, { serial: 3, content: { issuedAt: new Date(Date.now() - 3600_000), expiresAt: new Date('2031-01-01T00:00:00Z') } });
    if (c.code) await t.rejects(applyJob(w.ctx, job), { code: c.code });
    else t.match(await applyJob(w.ctx, job), { appliedSpec: spec.digest, counts: { create: 10 } });
  });
}

// The recover step: what a previous run left unfinished goes first, from its archived envelope;
// an entry whose envelope is lost fails for good; one waiting on a box-side fix waits for its
// schedule (or `retryNow`); the outbox a previous run left is delivered.
import t from 'tap';
import type { CycleRun } from '../../../../runner/agent/context.js';
import { runSteps } from '../../../../runner/agent/steps/index.js';
import { itemFor, recoverStep } from '../../../../runner/agent/steps/recover.js';
import { BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld, type ContextWorld } from '../../../helpers/agent-context.js';

const refresh = { type: 'job' as const, serial: 2, body: { action: 'refresh' } };

const cases: { name: string; retryNow?: boolean; given: (w: ContextWorld) => Promise<string>; items: object[]; state: string }[] = [
  {
    name: 'an entry left received is taken from the archive through its steps',
    given: async (w) => (await w.received(await w.item(refresh))).entry!.id,
    items: [{ serial: 2, action: 'refresh', outcome: 'failed', reason: { code: 'ENO_SPEC' } }],
    state: 'failed',
  },
  {
    name: 'an entry whose envelope is lost fails for good',
    given: async (w) => {
      const run = await w.received(await w.item(refresh));
      await w.ctx.archive.discard(run.item!.digest, run.item!.envelope);
      return run.entry!.id;
    },
    items: [{ serial: 2, outcome: 'failed', reason: { code: 'EENVELOPE_LOST' } }],
    state: 'failed',
  },
  {
    name: 'an entry waiting on a box-side fix is not due yet',
    given: async (w) => waiting(w, new Date(Date.now() + 3600_000)),
    items: [],
    state: 'waiting',
  },
  {
    name: 'an entry waiting on a box-side fix is retried with retryNow',
    retryNow: true,
    given: async (w) => waiting(w, new Date(Date.now() + 3600_000)),
    items: [{ serial: 2, outcome: 'failed', reason: { code: 'ENO_SPEC' } }],
    state: 'waiting',
  },
];

async function waiting(w: ContextWorld, nextAt: Date): Promise<string> {
  const run = await w.received(await w.item(refresh));
  await w.journal.transition(run.entry!.id, 'verified');
  await w.journal.transition(run.entry!.id, 'running');
  await w.journal.transition(run.entry!.id, 'waiting', { code: 'ESECRET', message: 'missing' }, { retry: { attempt: 1, nextAt: nextAt.toISOString() } });
  return run.entry!.id;
}

for (const c of cases) {
  t.test(c.name, async (t) => {
    const w = await contextWorld(t);
    const id = await c.given(w);
    const run: CycleRun = { waitSeconds: 0, retryNow: c.retryNow === true, items: [] };
    await runSteps(w.ctx, [recoverStep], run);
    t.match(run.items, c.items);
    t.equal(run.items.length, c.items.length);
    if (c.state !== 'waiting' || c.items.length === 0) t.equal(w.journal.get(id)?.state, c.state, `the entry is ${c.state}`);
    else t.match(w.journal.get(id), { state: 'failed' }, 'retried now, and failed for good (ENO_SPEC is no box-side failure)');
    t.equal((await w.world.hub.operator.listReports({ box: BOX })).length, c.items.length, 'each result reported');
  });
}

t.test('the outbox a previous run left is delivered first', async (t) => {
  const w = await contextWorld(t);
  const run = await w.received(await w.item(refresh));
  await w.ctx.archive.discard(run.item!.digest, run.item!.envelope);
  // itemFor: a lost envelope's failure is recorded and delivered at once
  t.match(await itemFor(w.ctx, run.entry!), { outcome: 'failed', reason: { code: 'EENVELOPE_LOST' } });
  t.same(w.ctx.stores.agent.data.outbox, [], 'delivered at once');
  // a drift result recorded, but the hub never heard of it (the previous run was killed)
  await w.ctx.stores.agent.update((data) => {
    data.outbox.push({ report: { box: BOX, jobId: 'drift-x', tier: 'host', outcome: 'succeeded' }, audit: { actor: 'agent', action: 'drift.check', box: BOX, tier: 'host', envelopeDigest: null, outcome: 'succeeded' }, audited: false });
  });
  await runSteps(w.ctx, [recoverStep], { waitSeconds: 0, retryNow: false, items: [] });
  t.same(w.ctx.stores.agent.data.outbox, []);
  t.match(await w.world.hub.operator.listReports({ box: BOX }), [{ jobId: 'drift-x' }, { outcome: 'failed' }]);
});

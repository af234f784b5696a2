// The fetch step: the spec and the job list, conditional on the ETags; what the journal holds as
// final is not taken again; at most MAX_ENVELOPES_PER_CYCLE, in serial order, and the job list's
// ETag kept only once every job in it was taken. The take step runs each through the envelope steps.
import t from 'tap';
import type { CycleRun } from '../../../../runner/agent/context.js';
import { workItem } from '../../../../runner/agent/envelope-item.js';
import { fetchStep, MAX_ENVELOPES_PER_CYCLE, takeStep } from '../../../../runner/agent/steps/fetch.js';
import { runSteps } from '../../../../runner/agent/steps/index.js';
import { boxSpec } from '../../../helpers/agent-fixture.js';
import { contextWorld, type ContextWorld } from '../../../helpers/agent-context.js';

const cycle = (): CycleRun => ({ waitSeconds: 0, retryNow: false, items: [] });
const refresh = (serial: number) => ({ type: 'job' as const, serial, body: { action: 'refresh' } });

const cases: { name: string; given: (w: ContextWorld) => Promise<void>; serials: number[]; served: number; jobEtagKept: boolean; specEtagKept: boolean }[] = [
  { name: 'nothing published: nothing taken', given: async () => {}, serials: [], served: 1, jobEtagKept: true, specEtagKept: false },
  {
    name: 'a spec and jobs are taken in serial order',
    given: async (w) => {
      // the spec endpoint's envelope comes first from the hub, the jobs after it
      await w.world.publish(refresh(2));
      await w.world.publish(refresh(3));
      await w.world.publish({ serial: 4, body: boxSpec() });
    },
    serials: [2, 3, 4],
    served: 3,
    jobEtagKept: true,
    specEtagKept: false,
  },
  {
    name: 'a spec the journal holds as applied is not taken; its ETag is kept',
    given: async (w) => {
      const text = await w.world.publish({ serial: 2, body: boxSpec() });
      await w.applied(workItem('spec', text, w.ctx.box, w.ctx.tier));
    },
    serials: [],
    served: 2,
    jobEtagKept: true,
    specEtagKept: true,
  },
  {
    name: `more jobs than ${MAX_ENVELOPES_PER_CYCLE}: the lowest serials are taken, the job list ETag is not kept`,
    given: async (w) => {
      for (let serial = 2; serial < 2 + MAX_ENVELOPES_PER_CYCLE + 3; serial++) await w.world.publish(refresh(serial));
    },
    serials: Array.from({ length: MAX_ENVELOPES_PER_CYCLE }, (_, index) => index + 2),
    served: MAX_ENVELOPES_PER_CYCLE + 3,
    jobEtagKept: false,
    specEtagKept: false,
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const w = await contextWorld(t);
    await c.given(w);
    const run = cycle();
    await runSteps(w.ctx, [fetchStep], run);
    t.same(run.fetched?.map((item) => item.header.serial), c.serials, 'the envelopes taken');
    t.equal(w.ctx.counters.served, c.served, 'what the hub served');
    t.equal(w.ctx.stores.agent.data.jobEtags[w.ctx.key] !== undefined, c.jobEtagKept, 'the job list ETag');
    t.equal(w.ctx.stores.agent.data.specEtags[w.ctx.key] !== undefined, c.specEtagKept, 'the spec ETag');
  });
}

t.test('a second fetch with the ETags kept brings nothing; take runs each envelope through its steps', async (t) => {
  const w = await contextWorld(t);
  await w.world.publish(refresh(2));
  await w.world.publish(refresh(3));
  const run = cycle();
  await runSteps(w.ctx, [fetchStep, takeStep], run);
  t.match(run.items, [
    { serial: 2, outcome: 'failed', reason: { code: 'ENO_SPEC' } },
    { serial: 3, outcome: 'failed', reason: { code: 'ENO_SPEC' } },
  ], 'journaled, verified, applied (no spec yet), recorded');
  const again = cycle();
  await runSteps(w.ctx, [fetchStep, takeStep], again);
  t.same(again.fetched, [], 'nothing new');
  t.same(again.items, [], 'nothing run');
});

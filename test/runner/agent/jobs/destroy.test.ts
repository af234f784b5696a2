// The destroy job: only with capabilities: ['destroy'] in its signed body.
import t from 'tap';
import { destroyJob } from '../../../../runner/agent/jobs/destroy.js';
import { boxSpec } from '../../../helpers/agent-fixture.js';
import { contextWorld } from '../../../helpers/agent-context.js';

// signing refuses a malformed capabilities list; the handler does not rely on it
const refused: { name: string; body: Record<string, unknown> }[] = [
  { name: 'no capabilities', body: { action: 'destroy' } },
  { name: 'another capability', body: { action: 'destroy', capabilities: ['apply'] } },
  { name: 'a string, not a list', body: { action: 'destroy', capabilities: 'destroy' } },
  { name: 'an object, not a list', body: { action: 'destroy', capabilities: { destroy: true } } },
];

for (const c of refused) {
  t.test(`destroy with ${c.name}: ECAPABILITY, no engine`, async (t) => {
    const w = await contextWorld(t);
    await w.applied(await w.item({ serial: 2, body: boxSpec() }));
    const job = await w.job({ action: 'destroy' });
    await t.rejects(destroyJob(w.ctx, { ...job, body: c.body }), { code: 'ECAPABILITY' });
    t.equal(w.ctx.counters.engineRuns, 0);
  });
}

t.test("destroy with capabilities: ['destroy'] runs the engine's destroy", async (t) => {
  const w = await contextWorld(t);
  await t.rejects(destroyJob(w.ctx, await w.job({ action: 'destroy', capabilities: ['destroy'] })), { code: 'ENO_SPEC' }, 'with no spec applied there is nothing to destroy');
  await w.applied(await w.item({ serial: 2, body: boxSpec() }));
  t.match(await destroyJob(w.ctx, await w.job({ action: 'destroy', capabilities: ['destroy'] }, { serial: 51 })), { counts: { delete: 0 } }, 'an empty stack: nothing deleted');
  t.equal(w.ctx.counters.engineRuns, 1);
});

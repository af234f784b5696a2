// The preview job: what an up of the last applied spec would change, counted, nothing changed.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { previewJob } from '../../../../runner/agent/jobs/preview.js';
import { boxSpec } from '../../../helpers/agent-fixture.js';
import { contextWorld } from '../../../helpers/agent-context.js';

t.test('with no applied spec: ENO_SPEC, no engine', async (t) => {
  const w = await contextWorld(t);
  await t.rejects(previewJob(w.ctx, await w.job({ action: 'preview' })), { code: 'ENO_SPEC' });
  t.equal(w.ctx.counters.engineRuns, 0);
});

t.test('the last applied spec, previewed on a stack that has nothing yet: every resource to create, none created', async (t) => {
  const w = await contextWorld(t);
  await w.applied(await w.item({ serial: 2, body: boxSpec() }));
  t.match(await previewJob(w.ctx, await w.job({ action: 'preview' })), { counts: { create: 10, update: 0, delete: 0 } });
  t.equal(w.ctx.counters.engineRuns, 1, 'one engine operation');
  t.same(await readdir(w.world.outputDir), [], 'nothing was written');
});

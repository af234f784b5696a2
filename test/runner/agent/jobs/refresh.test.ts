// The refresh job: refresh records reality, then a preview says what an up would change; drift
// is reported, never corrected.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { refreshJob } from '../../../../runner/agent/jobs/refresh.js';
import { boxSpec } from '../../../helpers/agent-fixture.js';
import { contextWorld } from '../../../helpers/agent-context.js';

t.test('with no applied spec: ENO_SPEC, no engine', async (t) => {
  const w = await contextWorld(t);
  await t.rejects(refreshJob(w.ctx, await w.job({ action: 'refresh' })), { code: 'ENO_SPEC' });
  t.equal(w.ctx.counters.engineRuns, 0);
});

t.test('refresh then preview of the last applied spec: the preview counts, nothing corrected', async (t) => {
  const w = await contextWorld(t);
  await w.applied(await w.item({ serial: 2, body: boxSpec() }));
  t.match(await refreshJob(w.ctx, await w.job({ action: 'refresh' })), { counts: { create: 10 } });
  t.equal(w.ctx.counters.engineRuns, 2, 'refresh and preview');
  t.same(await readdir(w.world.outputDir), [], 'nothing was written');
});

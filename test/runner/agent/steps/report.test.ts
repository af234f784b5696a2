// The report step: the outbox's reports go to the hub, then the audit entries it lacks, then a
// spec's ETag is kept; a hub outage leaves them queued and does not stop the envelope's path.
import t from 'tap';
import { HubClient } from '../../../../runner/hub/client.js';
import { AgentContext } from '../../../../runner/agent/context.js';
import { FINISH_STEPS, runEnvelope, runSteps } from '../../../../runner/agent/steps/index.js';
import { reportStep } from '../../../../runner/agent/steps/report.js';
import { BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld, finishedRun, FINISHED_CASES } from '../../../helpers/agent-context.js';

const cases = FINISHED_CASES;

for (const c of cases) {
  t.test(`report: ${c.name}`, async (t) => {
    const w = await contextWorld(t);
    const run = await finishedRun(w, c.outcome, c.from);
    await runEnvelope(w.ctx, run, FINISH_STEPS);
    t.same(w.ctx.stores.agent.data.outbox, [], 'the outbox is empty');
    t.match(await w.world.hub.operator.listReports({ box: BOX }), [{ jobId: run.item!.digest, ...c.report }], 'the hub has the report');
    t.equal((await w.world.hub.operator.listAudit(BOX)).length, 1, 'and the audit entry');
    t.equal(w.ctx.stores.agent.data.auditUploadedSeq, 1);
  });
}

t.test('the hub down: the report stays queued, the path does not stop; the spec ETag is kept', async (t) => {
  const w = await contextWorld(t);
  const down = new AgentContext({ box: BOX, tier: 'host', stores: w.ctx.stores, hub: new HubClient({ url: 'http://127.0.0.1:9', token: w.world.apiKey, timeoutMs: 2000 }), engine: w.ctx.engine, spec: w.ctx.spec });
  const run = { ...(await finishedRun(w, { outcome: 'succeeded' })), rememberEtag: '"spec-2"' };
  const result = await runEnvelope(down, run, FINISH_STEPS);
  t.match(result, { outcome: 'succeeded' });
  t.match(down.stores.agent.data.outbox, [{ audited: true }], 'audited locally, the report still queued');
  t.equal(down.stores.agent.data.specEtags[down.key], '"spec-2"', 'the ETag is kept');

  // when the hub answers again, the next report step sends it
  await runSteps(w.ctx, [reportStep], run);
  t.same(w.ctx.stores.agent.data.outbox, []);
  t.equal((await w.world.hub.operator.listReports({ box: BOX })).length, 1);
});

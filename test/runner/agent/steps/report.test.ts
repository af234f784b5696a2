// The report step: the outbox's reports go to the hub, then the audit entries it lacks, then a
// spec's ETag is kept; a hub outage leaves them queued and does not stop the envelope's path.
import t from 'tap';
import { FelhomError } from '../../../../lib/errors.js';
import { HubClient } from '../../../../runner/hub/client.js';
import { AgentContext, type EnvelopeOutcome, type EnvelopeRun } from '../../../../runner/agent/context.js';
import { FINISH_STEPS, runEnvelope, runSteps } from '../../../../runner/agent/steps/index.js';
import { reportStep } from '../../../../runner/agent/steps/report.js';
import { BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld, type ContextWorld } from '../../../helpers/agent-context.js';

async function finished(w: ContextWorld, outcome: EnvelopeOutcome, state: 'received' | 'running' = 'running'): Promise<EnvelopeRun> {
  const run = await w.received(await w.item({ type: 'job', serial: 2, body: { action: 'refresh' } }));
  if (state === 'running') {
    await w.journal.transition(run.entry!.id, 'verified');
    run.entry = await w.journal.transition(run.entry!.id, 'running');
  }
  return { ...run, verified: null, outcome };
}

const cases: { name: string; outcome: EnvelopeOutcome; from?: 'received'; state: string; report: object }[] = [
  { name: 'a success', outcome: { outcome: 'succeeded', durationMs: 12, counts: { create: 1, update: 0, delete: 0, replace: 0, same: 3 } }, state: 'succeeded', report: { outcome: 'succeeded', serial: 2, durationMs: 12, engine: { created: 1, same: 3 } } },
  { name: 'a refusal', from: 'received', outcome: { outcome: 'rejected', error: new FelhomError('EEXPIRED', 'stalled', 'envelope expired') }, state: 'rejected', report: { outcome: 'rejected', reason: { code: 'EEXPIRED', message: 'envelope expired' } } },
  {
    name: 'a box-side failure waits with its schedule',
    outcome: { outcome: 'failed', error: new FelhomError('ESECRET', 'waiting', 'secret tunnel-token is missing'), retry: { attempt: 1, nextAt: '2030-01-01T00:00:00.000Z' } },
    state: 'waiting',
    report: { outcome: 'failed', reason: { code: 'ESECRET' } },
  },
];

for (const c of cases) {
  t.test(`report: ${c.name}`, async (t) => {
    const w = await contextWorld(t);
    const run = await finished(w, c.outcome, c.from);
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
  const run = { ...(await finished(w, { outcome: 'succeeded' })), rememberEtag: '"spec-2"' };
  const result = await runEnvelope(down, run, FINISH_STEPS);
  t.match(result, { outcome: 'succeeded' });
  t.match(down.stores.agent.data.outbox, [{ audited: true }], 'audited locally, the report still queued');
  t.equal(down.stores.agent.data.specEtags[down.key], '"spec-2"', 'the ETag is kept');

  // when the hub answers again, the next report step sends it
  await runSteps(w.ctx, [reportStep], run);
  t.same(w.ctx.stores.agent.data.outbox, []);
  t.equal((await w.world.hub.operator.listReports({ box: BOX })).length, 1);
});

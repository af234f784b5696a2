// The audit step: each outbox record's audit entry goes into the local hash-chained log once,
// however often the step runs (a kill between the append and the outbox update repeats it).
import t from 'tap';
import { verifyAuditLog } from '../../../../runner/state/audit.js';
import type { EnvelopeOutcome } from '../../../../runner/agent/context.js';
import { auditStep } from '../../../../runner/agent/steps/audit.js';
import { runSteps } from '../../../../runner/agent/steps/index.js';
import { recordStep } from '../../../../runner/agent/steps/record.js';
import { BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld, finishedRun } from '../../../helpers/agent-context.js';

const outcomes: EnvelopeOutcome[] = [{ outcome: 'succeeded' }, { outcome: 'failed', error: Object.assign(new Error('no'), { code: 'ECAPABILITY' }) }];

for (const outcome of outcomes) {
  t.test(`audit: a ${outcome.outcome} envelope's entry, once`, async (t) => {
    const w = await contextWorld(t);
    const run = await finishedRun(w, outcome);
    await runSteps(w.ctx, [recordStep], run);
    for (let again = 0; again < 3; again++) await runSteps(w.ctx, [auditStep], run);
    // as after a kill before the outbox said so
    w.ctx.stores.agent.data.outbox[0]!.audited = false;
    await runSteps(w.ctx, [auditStep], run);
    const { ok, entries } = await verifyAuditLog(w.audit.file);
    t.ok(ok, 'the chain verifies');
    t.match(entries, [{ action: 'job.refresh', outcome: outcome.outcome, envelopeDigest: run.item!.digest }], 'one entry');
    t.match(w.ctx.stores.agent.data.outbox, [{ audited: true }]);
    t.same(await w.world.hub.operator.listReports({ box: BOX }), [], 'nothing posted yet: that is the report step');
  });
}

t.test('audit has nothing to do before the record step', async (t) => {
  const w = await contextWorld(t);
  const run = await finishedRun(w, { outcome: 'succeeded' });
  await runSteps(w.ctx, [auditStep], run);
  t.same((await verifyAuditLog(w.audit.file)).entries, []);
});

// The record step: the report and audit record go into the outbox first, then the journal entry
// turns final (or waiting, for a box-side failure); never announced, so a stop cannot cut it off.
import t from 'tap';
import { runSteps } from '../../../../runner/agent/steps/index.js';
import { recordStep } from '../../../../runner/agent/steps/record.js';
import { contextWorld, finishedRun, FINISHED_CASES } from '../../../helpers/agent-context.js';

const cases = FINISHED_CASES;

for (const c of cases) {
  t.test(`record: ${c.name}`, async (t) => {
    const announced: string[] = [];
    const w = await contextWorld(t, (options) => ({ ...options, runtime: { beforeStep: (step) => void announced.push(step) } }));
    const run = await finishedRun(w, c.outcome, c.from);
    await runSteps(w.ctx, [recordStep], run, () => run.entry);
    t.match(run.result, { digest: run.item!.digest, serial: 2, action: 'refresh', outcome: c.outcome.outcome });
    t.equal(w.journal.get(run.item!.digest)?.state, c.state, `the journal entry is ${c.state}`);
    t.match(w.ctx.stores.agent.data.outbox, [{ report: c.report, audit: { outcome: c.outcome.outcome, actor: 'unverified' }, audited: false }], 'the outbox holds both');
    t.same(announced, [], 'not announced');
  });
}

t.test('record has nothing to do before an outcome', async (t) => {
  const w = await contextWorld(t);
  const run = await w.received(await w.item({ type: 'job', serial: 2, body: { action: 'refresh' } }));
  await runSteps(w.ctx, [recordStep], run);
  t.equal(run.result, undefined);
  t.same(w.ctx.stores.agent.data.outbox, []);
});

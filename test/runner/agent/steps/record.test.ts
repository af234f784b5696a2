// The record step: the report and audit record go into the outbox first, then the journal entry
// turns final (or waiting, for a box-side failure); never announced, so a stop cannot cut it off.
import t from 'tap';
import { FelhomError } from '../../../../lib/errors.js';
import { type EnvelopeOutcome, type EnvelopeRun } from '../../../../runner/agent/context.js';
import { runSteps } from '../../../../runner/agent/steps/index.js';
import { recordStep } from '../../../../runner/agent/steps/record.js';
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
  t.test(`record: ${c.name}`, async (t) => {
    const announced: string[] = [];
    const w = await contextWorld(t, (options) => ({ ...options, runtime: { beforeStep: (step) => void announced.push(step) } }));
    const run = await finished(w, c.outcome, c.from);
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

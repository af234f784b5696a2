// The apply step: `running` on disk before the work; a spec is deployed, a job goes to its kind's
// handler; a failure is the envelope's outcome (a box-side one with a retry schedule at the box
// clock), an interrupted or waiting one stops the cycle at apply and leaves the entry running.
import t from 'tap';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StepFailure, type EnvelopeRun } from '../../../../runner/agent/context.js';
import { ProxmoxApiOperations } from '../../../../runner/agent/proxmox-api-operations.js';
import { applyStep, dispatch } from '../../../../runner/agent/steps/apply.js';
import { runSteps } from '../../../../runner/agent/steps/index.js';
import { verifyStep } from '../../../../runner/agent/steps/verify.js';
import { boxSpec, BOX } from '../../../helpers/agent-fixture.js';
import { contextWorld, type ContextWorld } from '../../../helpers/agent-context.js';
import { hostAsApplied, startTestSimulator } from '../../../helpers/pve-sim.js';

const NOW = new Date();

/** Journaled and verified, as the apply step finds it. */
async function admitted(w: ContextWorld, content: Parameters<ContextWorld['item']>[0]): Promise<EnvelopeRun> {
  const run = await w.received(await w.item(content));
  await runSteps(w.ctx, [verifyStep], run);
  return run;
}

const failures: { name: string; prepare?: (w: ContextWorld) => Promise<void>; content: Parameters<ContextWorld['item']>[0]; code: string; retry: boolean }[] = [
  { name: 'a snapshot job without host operations fails, not retried', content: { type: 'job', serial: 2, body: { action: 'snapshot', vmId: 200, name: 'before' } }, code: 'EJOB_UNSUPPORTED', retry: false },
  { name: 'a refresh with no applied spec fails (ENO_SPEC), not retried', content: { type: 'job', serial: 2, body: { action: 'refresh' } }, code: 'ENO_SPEC', retry: false },
  {
    name: 'a spec whose secret is not on the box yet is a box-side failure: it waits, with a retry schedule',
    prepare: (w) => rm(join(w.world.stateDir, 'secrets', 'tunnel-token')),
    content: { serial: 2, body: boxSpec() },
    code: 'ESECRET',
    retry: true,
  },
];

for (const c of failures) {
  t.test(c.name, async (t) => {
    const w = await contextWorld(t, (options) => ({ ...options, runtime: { clock: () => NOW } }));
    await c.prepare?.(w);
    const run = await admitted(w, c.content);
    await runSteps(w.ctx, [applyStep], run);
    t.match(run.outcome, { outcome: 'failed', error: { code: c.code } });
    t.type(run.outcome?.durationMs, 'number');
    if (c.retry) {
      t.match(run.outcome?.retry, { attempt: 1 }, 'the first retry');
      t.ok(new Date(run.outcome!.retry!.nextAt) > NOW, 'due after the box clock');
    }
    else t.equal(run.outcome?.retry, undefined, 'no retry');
    t.equal(w.journal.get(run.item!.digest)?.state, 'running', 'running on disk; the record step makes it final');
    t.equal(w.world.counter.invocations, 0, 'no program ran');
  });
}

t.test('a job reaching a host that does not answer is waiting: the cycle stops at apply, the entry stays running', async (t) => {
  const sim = await startTestSimulator(t);
  const ops = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });
  await sim.sim.close();
  const w = await contextWorld(t, (options) => ({ ...options, host: { operations: ops } }));
  const run = await admitted(w, { type: 'job', serial: 2, body: { action: 'snapshot', vmId: 200, name: 'before' } });
  const error = await runSteps(w.ctx, [applyStep], run).catch((e: unknown) => e);
  t.match(error, { constructor: StepFailure, step: 'apply', error: { kind: 'waiting' } });
  t.equal(run.outcome, undefined, 'nothing to record');
  t.equal(w.journal.get(run.item!.digest)?.state, 'running');
});

t.test('a job succeeds through its handler', async (t) => {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  const ops = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });
  const w = await contextWorld(t, (options) => ({ ...options, host: { operations: ops } }));

  const snapshot = await admitted(w, { type: 'job', serial: 2, body: { action: 'snapshot', vmId: 200, name: 'before-upgrade' } });
  await runSteps(w.ctx, [applyStep], snapshot);
  t.match(snapshot.outcome, { outcome: 'succeeded' });
  t.equal(snapshot.rememberEtag, undefined, 'a job has no spec ETag');
  t.ok((await sim.api.get<{ name: string }[]>('/nodes/pve/lxc/200/snapshot')).some((item) => item.name === 'before-upgrade'), 'the simulator holds the snapshot');
});

t.test('a spec deploys through the engine and has its ETag kept', async (t) => {
  const w = await contextWorld(t);

  const spec = { ...(await admitted(w, { serial: 3, body: boxSpec() })) };
  const item = { ...spec.item!, etag: '"spec-3"', source: 'spec' as const };
  const run: EnvelopeRun = { ...spec, item };
  await runSteps(w.ctx, [applyStep], run);
  t.match(run.outcome, { outcome: 'succeeded', counts: { create: 10 } });
  t.equal(run.rememberEtag, '"spec-3"', 'the report step keeps the ETag');
  t.equal(w.world.counter.invocations, 1, 'the engine ran the program');
});

t.test('dispatch: a job action no handler knows is refused', async (t) => {
  const w = await contextWorld(t);
  const run = await admitted(w, { type: 'job', serial: 2, body: { action: 'refresh' } });
  const verified = { ...run.verified!, body: { action: 'decommission-everything' } };
  await t.rejects(dispatch(w.ctx, verified, false), { code: 'EJOB_UNSUPPORTED', message: 'unknown job action "decommission-everything"' });
});
